from __future__ import annotations

from gateway.app import create_runtime
from homecraft_shared.cli import run_cli


def main() -> None:
    run_cli(service="gateway", app_factory="gateway.app:create_app", runtime_factory=create_runtime,
            default_port=8100)


if __name__ == "__main__":
    main()
