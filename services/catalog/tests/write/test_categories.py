"""C1: two category trees (3D Models, 3D Files), one level of subcategories of the root's type, slugs
made from names and unique per (type, parent), active flag and sort order; owners curate them."""

from __future__ import annotations

from support import CatalogHarness

from catalog.models import Category


async def test_c1_owner_creates_roots_and_subcategories_with_slugs_from_names(catalog: CatalogHarness) -> None:
    root = await catalog.client.post("/categories", json={"name": "Tabletop Minis", "type": "FILE"}, headers=catalog.owner())
    assert root.status_code == 201, root.text
    assert root.json()["slug"] == "tabletop-minis" and root.json()["parent_id"] is None
    child = await catalog.client.post("/categories", json={"name": "Dragons & Wyrms", "parent_id": root.json()["id"]},
            headers=catalog.owner())
    assert child.status_code == 201, child.text
    assert child.json() | {"id": 0} == {
        "id": 0, "type": "FILE", "name": "Dragons & Wyrms", "slug": "dragons-wyrms", "parent_id": root.json()["id"],
        "description": "", "is_active": True, "sort_order": 0,
    }


async def test_c1_subcategory_under_a_subcategory_is_refused_and_writes_nothing(catalog: CatalogHarness) -> None:
    root = await catalog.category("MODEL", name="Home")
    child = await catalog.category(parent_id=root["id"], name="Kitchen")
    before = await catalog.counts()
    response = await catalog.client.post("/categories", json={"name": "Spoons", "parent_id": child["id"]}, headers=catalog.owner())
    assert response.status_code == 422
    assert "one level deep" in response.json()["detail"] and "'Kitchen' is already a subcategory" in response.json()["detail"]
    assert await catalog.counts() == before


async def test_c1_subcategory_type_must_match_its_root(catalog: CatalogHarness) -> None:
    root = await catalog.category("MODEL", name="Home")
    before = await catalog.counts()
    response = await catalog.client.post("/categories", json={"name": "STL packs", "type": "FILE", "parent_id": root["id"]},
            headers=catalog.owner())
    assert response.status_code == 422
    assert "same type as its root" in response.json()["detail"]
    assert await catalog.counts() == before
    same = await catalog.client.post("/categories", json={"name": "Decor", "type": "MODEL", "parent_id": root["id"]},
            headers=catalog.owner())
    assert same.status_code == 201


async def test_c1_root_needs_a_type_and_parent_must_exist(catalog: CatalogHarness) -> None:
    no_type = await catalog.client.post("/categories", json={"name": "Loose"}, headers=catalog.owner())
    assert no_type.status_code == 422 and "needs a type" in no_type.json()["detail"]
    ghost = await catalog.client.post("/categories", json={"name": "Orphan", "parent_id": 999}, headers=catalog.owner())
    assert ghost.status_code == 422 and "does not exist" in ghost.json()["detail"]
    assert await catalog.count(Category) == 0


async def test_c1_duplicate_slug_within_type_and_parent_conflicts(catalog: CatalogHarness) -> None:
    await catalog.category("FILE", name="Terrain")
    before = await catalog.counts()
    again = await catalog.client.post("/categories", json={"name": "Terrain!", "type": "FILE"}, headers=catalog.owner())
    assert again.status_code == 409 and "terrain" in again.json()["detail"]
    assert await catalog.counts() == before
    # Same slug in the other tree, or under a different parent, is fine (unique per type + parent).
    other_tree = await catalog.client.post("/categories", json={"name": "Terrain", "type": "MODEL"}, headers=catalog.owner())
    assert other_tree.status_code == 201
    parent = await catalog.category("FILE", name="Wargames")
    under_parent = await catalog.client.post("/categories", json={"name": "Terrain", "parent_id": parent["id"]}, headers=catalog.owner())
    assert under_parent.status_code == 201


async def test_c1_only_owners_create_or_update_categories(catalog: CatalogHarness) -> None:
    denied = await catalog.client.post("/categories", json={"name": "Mine", "type": "FILE"}, headers=catalog.seller())
    assert denied.status_code == 403
    anonymous = await catalog.client.post("/categories", json={"name": "Mine", "type": "FILE"})
    assert anonymous.status_code == 401
    category = await catalog.category("FILE", name="Gadgets")
    patch = await catalog.client.patch(f"/categories/{category['id']}", json={"name": "Nope"}, headers=catalog.seller())
    assert patch.status_code == 403
    assert await catalog.count(Category) == 1


async def test_c1_update_renames_reorders_deactivates_and_checks_slug(catalog: CatalogHarness) -> None:
    first = await catalog.category("FILE", name="Cosplay")
    await catalog.category("FILE", name="Props")
    renamed = await catalog.client.patch(
        f"/categories/{first['id']}", json={"name": "Cosplay Armor", "sort_order": 3, "is_active": False}, headers=catalog.owner()
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Cosplay Armor" and renamed.json()["slug"] == "cosplay"  # slug kept
    taken = await catalog.client.patch(f"/categories/{first['id']}", json={"slug": "props"}, headers=catalog.owner())
    assert taken.status_code == 409
    missing = await catalog.client.patch("/categories/4242", json={"name": "x"}, headers=catalog.owner())
    assert missing.status_code == 404
    moved = await catalog.client.patch(f"/categories/{first['id']}", json={"parent_id": 5}, headers=catalog.owner())
    assert moved.status_code == 422  # type and parent are fixed


async def test_c1_public_list_has_both_trees_active_only_sorted(catalog: CatalogHarness) -> None:
    later = await catalog.client.post("/categories", json={"name": "Zebra", "type": "MODEL", "sort_order": 2}, headers=catalog.owner())
    sooner = await catalog.client.post("/categories", json={"name": "Yak", "type": "MODEL", "sort_order": 1}, headers=catalog.owner())
    hidden = await catalog.client.post("/categories", json={"name": "Hidden", "type": "MODEL", "is_active": False}, headers=catalog.owner())
    await catalog.client.post("/categories", json={"name": "B child", "parent_id": sooner.json()["id"], "sort_order": 1},
            headers=catalog.owner())
    await catalog.client.post("/categories", json={"name": "A child", "parent_id": sooner.json()["id"], "sort_order": 1},
            headers=catalog.owner())
    await catalog.client.post("/categories", json={"name": "Off", "parent_id": sooner.json()["id"], "is_active": False},
            headers=catalog.owner())
    assert hidden.status_code == later.status_code == 201

    trees = (await catalog.client.get("/categories")).json()["trees"]
    assert [(t["type"], t["label"]) for t in trees] == [("MODEL", "3D Models"), ("FILE", "3D Files")]
    models = trees[0]["categories"]
    assert [c["name"] for c in models] == ["Yak", "Zebra"]
    assert [c["name"] for c in models[0]["children"]] == ["A child", "B child"]
    assert trees[1]["categories"] == []

    assert (await catalog.client.get("/categories", params={"include_inactive": True}, headers=catalog.seller())).status_code == 403
    everything = (await catalog.client.get("/categories", params={"include_inactive": True}, headers=catalog.owner())).json()["trees"]
    assert [c["name"] for c in everything[0]["categories"]] == ["Hidden", "Yak", "Zebra"]
    assert [c["name"] for c in everything[0]["categories"][1]["children"]] == ["Off", "A child", "B child"]
