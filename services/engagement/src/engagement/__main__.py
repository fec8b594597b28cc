from __future__ import annotations

from engagement.app import create_runtime
from homecraft_shared.cli import run_cli


def main() -> None:
    run_cli(service="engagement", app_factory="engagement.app:create_app", runtime_factory=create_runtime,
            default_port=8105)


if __name__ == "__main__":
    main()
