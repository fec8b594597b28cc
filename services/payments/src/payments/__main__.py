from __future__ import annotations

import argparse

from homecraft_shared.cli import run_cli
from homecraft_shared.runtime import ServiceRuntime
from payments.app import create_runtime
from payments.demo import seed_demo_accounts


async def _seed_demo(runtime: ServiceRuntime, _: argparse.Namespace) -> None:
    for line in await seed_demo_accounts(runtime):
        print(line, flush=True)


def main() -> None:
    run_cli(service="payments", app_factory="payments.app:create_app", runtime_factory=create_runtime,
            default_port=8103,
            extra_commands={"seed-demo": ("demo Connect accounts for the demo sellers (stand-in only)", _seed_demo)})


if __name__ == "__main__":
    main()
