from __future__ import annotations

from homecraft_shared.cli import run_cli
from refunds.app import create_runtime


def main() -> None:
    run_cli(service="refunds", app_factory="refunds.app:create_app", runtime_factory=create_runtime,
            default_port=8104)


if __name__ == "__main__":
    main()
