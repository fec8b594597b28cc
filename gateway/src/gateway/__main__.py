from __future__ import annotations

from gateway.accounts.demo import seed_demo_command
from gateway.app import create_runtime
from homecraft_shared.cli import run_cli


def main() -> None:
    run_cli(service="gateway", app_factory="gateway.app:create_app", runtime_factory=create_runtime,
            default_port=8100,
            extra_commands={"seed-demo": ("create the demo accounts (GATEWAY_DEMO_PASSWORDS)", seed_demo_command)})


if __name__ == "__main__":
    main()
