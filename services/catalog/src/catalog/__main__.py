from __future__ import annotations

from catalog.app import create_runtime
from homecraft_shared.cli import run_cli


def main() -> None:
    run_cli(service="catalog", app_factory="catalog.app:create_app", runtime_factory=create_runtime,
            default_port=8101)


if __name__ == "__main__":
    main()
