"""Demo accounts for the run command: the catalog's demo sellers (same ids), a buyer and an owner.

``python -m gateway seed-demo`` creates the missing ones with the passwords given in
``GATEWAY_DEMO_PASSWORDS`` (JSON: username -> password; the run command makes and prints them) and
leaves existing accounts alone.
"""

from __future__ import annotations

import argparse
import json
import os

from gateway.accounts.service import create_user, find_by_username
from homecraft_shared.runtime import ServiceRuntime

# username -> (user id, seller, owner, shop name); seller ids equal the catalog's demo sellers.
DEMO_ACCOUNTS: dict[str, tuple[str, bool, bool, str]] = {
    "ada": ("seller-ada", True, False, "Ada's Workshop"),
    "grace": ("seller-grace", True, False, "Grace Prints"),
    "hedy": ("seller-hedy", True, False, "Hedy's Lab"),
    "linus": ("seller-linus", True, False, "Linus Makes"),
    "buyer": ("buyer-demo", False, False, ""),
    "owner": ("owner-demo", False, True, "Home Craft 3D"),
}


async def seed_demo_command(runtime: ServiceRuntime, _: argparse.Namespace) -> None:
    passwords: dict[str, str] = json.loads(os.environ.get("GATEWAY_DEMO_PASSWORDS", "{}"))
    created = 0
    async for db in runtime.session():
        for username, (user_id, seller, owner, shop) in DEMO_ACCOUNTS.items():
            if username not in passwords or await find_by_username(db, username) is not None:
                continue
            await create_user(db, username=username, email=f"{username}@demo.homecraft3d.test",
                              password=passwords[username], seller=seller, owner=owner, shop_name=shop,
                              user_id=user_id)
            created += 1
    print(f"demo accounts: {created} created")
