"""Home Craft 3D catalog service: Categories, products, images, 3D files, listing workflow, browse, search, home."""
from __future__ import annotations

import argparse

from catalog.app import create_runtime
from catalog.search import changes
from catalog.seed import seed_command
from homecraft_shared.cli import run_cli
from homecraft_shared.runtime import ServiceRuntime


async def reindex_command(runtime: ServiceRuntime, _args: argparse.Namespace) -> None:
    """Ask every running catalog process to rebuild its search index from the products table."""
    async with runtime.sessionmaker() as session:
        await changes.request_rebuild(session)
        await session.commit()
    print("catalog: every running process rebuilds its search index now (a process that starts builds its own)")


def main() -> None:
    run_cli(service="catalog", app_factory="catalog.app:create_app", runtime_factory=create_runtime,
            default_port=8101,
            extra_commands={
                "seed": ("load the demo catalog (does nothing if categories exist)", seed_command),
                "reindex": ("rebuild every running process's search index from the products table", reindex_command),
            })


if __name__ == "__main__":
    main()
