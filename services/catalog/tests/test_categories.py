"""C1: two category trees (3D Models, 3D Files), one level of subcategories of the root's type, slugs
made from names and unique per (type, parent), active flag and sort order; owners curate them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from listing_support import Writer, running_writer

from catalog.models import Category


@pytest.fixture
async def w(database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path) -> AsyncIterator[Writer]:
    async with running_writer(database_url, nats_url, identity_keys, tmp_path) as writer:
        yield writer


async def test_c1_owner_creates_roots_and_subcategories_with_slugs_from_names(w: Writer) -> None:
    root = await w.client.post("/categories", json={"name": "Tabletop Minis", "type": "FILE"}, headers=w.owner())
    assert root.status_code == 201, root.text
    assert root.json()["slug"] == "tabletop-minis" and root.json()["parent_id"] is None
    child = await w.client.post("/categories", json={"name": "Dragons & Wyrms", "parent_id": root.json()["id"]}, headers=w.owner())
    assert child.status_code == 201, child.text
    assert child.json() | {"id": 0} == {
        "id": 0, "type": "FILE", "name": "Dragons & Wyrms", "slug": "dragons-wyrms", "parent_id": root.json()["id"],
        "description": "", "is_active": True, "sort_order": 0,
    }


async def test_c1_subcategory_under_a_subcategory_is_refused_and_writes_nothing(w: Writer) -> None:
    root = await w.category("MODEL", name="Home")
    child = await w.category(parent_id=root["id"], name="Kitchen")
    before = await w.counts()
    response = await w.client.post("/categories", json={"name": "Spoons", "parent_id": child["id"]}, headers=w.owner())
    assert response.status_code == 422
    assert "one level deep" in response.json()["detail"] and "'Kitchen' is already a subcategory" in response.json()["detail"]
    assert await w.counts() == before


async def test_c1_subcategory_type_must_match_its_root(w: Writer) -> None:
    root = await w.category("MODEL", name="Home")
    before = await w.counts()
    response = await w.client.post("/categories", json={"name": "STL packs", "type": "FILE", "parent_id": root["id"]}, headers=w.owner())
    assert response.status_code == 422
    assert "same type as its root" in response.json()["detail"]
    assert await w.counts() == before
    same = await w.client.post("/categories", json={"name": "Decor", "type": "MODEL", "parent_id": root["id"]}, headers=w.owner())
    assert same.status_code == 201


async def test_c1_root_needs_a_type_and_parent_must_exist(w: Writer) -> None:
    no_type = await w.client.post("/categories", json={"name": "Loose"}, headers=w.owner())
    assert no_type.status_code == 422 and "needs a type" in no_type.json()["detail"]
    ghost = await w.client.post("/categories", json={"name": "Orphan", "parent_id": 999}, headers=w.owner())
    assert ghost.status_code == 422 and "does not exist" in ghost.json()["detail"]
    assert await w.count(Category) == 0


async def test_c1_duplicate_slug_within_type_and_parent_conflicts(w: Writer) -> None:
    await w.category("FILE", name="Terrain")
    before = await w.counts()
    again = await w.client.post("/categories", json={"name": "Terrain!", "type": "FILE"}, headers=w.owner())
    assert again.status_code == 409 and "terrain" in again.json()["detail"]
    assert await w.counts() == before
    # Same slug in the other tree, or under a different parent, is fine (unique per type + parent).
    other_tree = await w.client.post("/categories", json={"name": "Terrain", "type": "MODEL"}, headers=w.owner())
    assert other_tree.status_code == 201
    parent = await w.category("FILE", name="Wargames")
    under_parent = await w.client.post("/categories", json={"name": "Terrain", "parent_id": parent["id"]}, headers=w.owner())
    assert under_parent.status_code == 201


async def test_c1_only_owners_create_or_update_categories(w: Writer) -> None:
    denied = await w.client.post("/categories", json={"name": "Mine", "type": "FILE"}, headers=w.seller())
    assert denied.status_code == 403
    anonymous = await w.client.post("/categories", json={"name": "Mine", "type": "FILE"})
    assert anonymous.status_code == 401
    category = await w.category("FILE", name="Gadgets")
    patch = await w.client.patch(f"/categories/{category['id']}", json={"name": "Nope"}, headers=w.seller())
    assert patch.status_code == 403
    assert await w.count(Category) == 1


async def test_c1_update_renames_reorders_deactivates_and_checks_slug(w: Writer) -> None:
    first = await w.category("FILE", name="Cosplay")
    await w.category("FILE", name="Props")
    renamed = await w.client.patch(
        f"/categories/{first['id']}", json={"name": "Cosplay Armor", "sort_order": 3, "is_active": False}, headers=w.owner()
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Cosplay Armor" and renamed.json()["slug"] == "cosplay"  # slug kept
    taken = await w.client.patch(f"/categories/{first['id']}", json={"slug": "props"}, headers=w.owner())
    assert taken.status_code == 409
    missing = await w.client.patch("/categories/4242", json={"name": "x"}, headers=w.owner())
    assert missing.status_code == 404
    moved = await w.client.patch(f"/categories/{first['id']}", json={"parent_id": 5}, headers=w.owner())
    assert moved.status_code == 422  # type and parent are fixed


async def test_c1_public_list_has_both_trees_active_only_sorted(w: Writer) -> None:
    later = await w.client.post("/categories", json={"name": "Zebra", "type": "MODEL", "sort_order": 2}, headers=w.owner())
    sooner = await w.client.post("/categories", json={"name": "Yak", "type": "MODEL", "sort_order": 1}, headers=w.owner())
    hidden = await w.client.post("/categories", json={"name": "Hidden", "type": "MODEL", "is_active": False}, headers=w.owner())
    await w.client.post("/categories", json={"name": "B child", "parent_id": sooner.json()["id"], "sort_order": 1}, headers=w.owner())
    await w.client.post("/categories", json={"name": "A child", "parent_id": sooner.json()["id"], "sort_order": 1}, headers=w.owner())
    await w.client.post("/categories", json={"name": "Off", "parent_id": sooner.json()["id"], "is_active": False}, headers=w.owner())
    assert hidden.status_code == later.status_code == 201

    trees = (await w.client.get("/categories")).json()["trees"]
    assert [(t["type"], t["label"]) for t in trees] == [("MODEL", "3D Models"), ("FILE", "3D Files")]
    models = trees[0]["categories"]
    assert [c["name"] for c in models] == ["Yak", "Zebra"]
    assert [c["name"] for c in models[0]["children"]] == ["A child", "B child"]
    assert trees[1]["categories"] == []

    assert (await w.client.get("/categories", params={"include_inactive": True}, headers=w.seller())).status_code == 403
    everything = (await w.client.get("/categories", params={"include_inactive": True}, headers=w.owner())).json()["trees"]
    assert [c["name"] for c in everything[0]["categories"]] == ["Hidden", "Yak", "Zebra"]
    assert [c["name"] for c in everything[0]["categories"][1]["children"]] == ["Off", "A child", "B child"]
