from __future__ import annotations

from homecraft_shared.cli import run_cli
from payments.app import create_runtime


def main() -> None:
    run_cli(service="payments", app_factory="payments.app:create_app", runtime_factory=create_runtime,
            default_port=8103)


if __name__ == "__main__":
    main()
