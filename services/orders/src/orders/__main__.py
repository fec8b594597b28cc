from __future__ import annotations

from homecraft_shared.cli import run_cli
from orders.app import create_runtime


def main() -> None:
    run_cli(service="orders", app_factory="orders.app:create_app", runtime_factory=create_runtime,
            default_port=8102)


if __name__ == "__main__":
    main()
