"""C3 images (content-checked uploads, one primary, promotion on delete, reorder, public bytes) and
digital assets (FILE only, STL/3MF/OBJ/ZIP checked by extension and content, size limits, sha256,
never public), with C4 gating on both."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image
from support import CatalogHarness, ascii_stl, binary_stl, gif, jpeg, obj, png, running_catalog, three_mf, webp, zip_bytes

from catalog.models import DigitalAsset, ProductImage

LIMITS = {"max_image_bytes": 4096, "max_asset_bytes": 8192, "upload_chunk_bytes": 1000}


@pytest.fixture
def catalog_settings() -> dict[str, int]:
    return LIMITS


async def images_of(catalog: CatalogHarness, listing_id: str) -> list[dict]:
    return (await catalog.client.get(f"/listings/{listing_id}", headers=catalog.seller())).json()["images"]


# --- images ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("content", "content_type"),
    [(png(), "image/png"), (jpeg(), "image/jpeg"), (gif(), "image/gif"), (webp(), "image/webp")],
)
async def test_c3_image_type_comes_from_content_not_name(catalog: CatalogHarness, content: bytes, content_type: str) -> None:
    listing = await catalog.draft("MODEL")
    response = await catalog.upload_image(listing["id"], content, name="misleading.txt", alt_text="Front view")
    assert response.status_code == 201, response.text
    image = response.json()
    assert image["content_type"] == content_type and image["alt_text"] == "Front view" and image["is_primary"] is True
    assert "misleading" not in image["storage_key"] and len(image["storage_key"]) == 32

    served = await catalog.client.get(image["url"])
    assert served.status_code == 200
    decoded = Image.open(io.BytesIO(served.content))  # stored re-encoded (catalog.content), same picture
    assert decoded.size == Image.open(io.BytesIO(content)).size and decoded.get_format_mimetype() == content_type
    assert served.headers["content-type"] == content_type
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_c3_wrong_image_type_is_refused_and_writes_nothing(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    before = await catalog.counts()
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    for content, name in [(svg, "logo.png"), (b"%PDF-1.7 ...", "doc.jpg"), (binary_stl(), "x.gif")]:
        response = await catalog.upload_image(listing["id"], content, name=name)
        assert response.status_code == 415, response.text
        assert "PNG, JPEG, WebP or GIF" in response.json()["detail"]
    empty = await catalog.upload_image(listing["id"], b"")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    assert await catalog.counts() == before
    assert catalog.stored_files() == []


async def test_c3_image_over_the_size_limit_is_refused_and_writes_nothing(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    before = await catalog.counts()
    just_over = await catalog.upload_image(listing["id"], png() + b"\x00" * (LIMITS["max_image_bytes"] - len(png()) + 1))
    assert just_over.status_code == 413 and "4 KB" in just_over.json()["detail"]
    way_over = await catalog.upload_image(listing["id"], png() + b"\x00" * 200_000)  # refused from Content-Length
    assert way_over.status_code == 413
    assert await catalog.counts() == before
    assert catalog.stored_files() == []
    at_limit = await catalog.upload_image(listing["id"], png() + b"\x00" * (LIMITS["max_image_bytes"] - len(png())))
    assert at_limit.status_code == 201


async def test_c3_first_image_is_primary_and_setting_a_primary_unsets_the_others(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    first = (await catalog.upload_image(listing["id"])).json()
    second = (await catalog.upload_image(listing["id"], jpeg())).json()
    third = (await catalog.upload_image(listing["id"], gif(), is_primary=True)).json()
    assert (first["is_primary"], second["is_primary"], third["is_primary"]) == (True, False, True)
    assert [(i["id"], i["is_primary"]) for i in await images_of(catalog, listing["id"])] == [
        (first["id"], False), (second["id"], False), (third["id"], True)
    ]
    chosen = await catalog.client.patch(
        f"/listings/{listing['id']}/images/{second['id']}", json={"is_primary": True, "alt_text": "Side"}, headers=catalog.seller()
    )
    assert chosen.status_code == 200 and chosen.json()["alt_text"] == "Side"
    assert [i["is_primary"] for i in await images_of(catalog, listing["id"])] == [False, True, False]


async def test_c3_deleting_the_primary_promotes_the_next_by_sort_order(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    a, b, c = [(await catalog.upload_image(listing["id"])).json() for _ in range(3)]
    order = {"image_ids": [a["id"], c["id"], b["id"]]}
    reordered = await catalog.client.put(f"/listings/{listing['id']}/images/order", json=order, headers=catalog.seller())
    assert reordered.status_code == 200
    assert [i["id"] for i in reordered.json()["images"]] == [a["id"], c["id"], b["id"]]
    deleted = await catalog.client.delete(f"/listings/{listing['id']}/images/{a['id']}", headers=catalog.seller())
    assert deleted.status_code == 204
    remaining = await images_of(catalog, listing["id"])
    assert [(i["id"], i["is_primary"]) for i in remaining] == [(c["id"], True), (b["id"], False)]
    assert (await catalog.client.get(a["url"])).status_code == 404
    assert len(catalog.stored_files()) == 2  # the deleted image's file is gone after the commit
    # Deleting a non-primary image leaves the primary alone.
    await catalog.client.delete(f"/listings/{listing['id']}/images/{b['id']}", headers=catalog.seller())
    assert [(i["id"], i["is_primary"]) for i in await images_of(catalog, listing["id"])] == [(c["id"], True)]


async def test_c3_concurrent_first_uploads_still_make_exactly_one_primary(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    results = await asyncio.gather(*(catalog.upload_image(listing["id"], png() if n % 2 else jpeg()) for n in range(4)))
    assert [r.status_code for r in results] == [201] * 4
    images = await images_of(catalog, listing["id"])
    assert [i["is_primary"] for i in images] == [True, False, False, False]
    assert [i["sort_order"] for i in images] == [0, 1, 2, 3]


async def test_c3_reorder_must_list_every_image_once(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    a, b = [(await catalog.upload_image(listing["id"])).json() for _ in range(2)]
    for ids in ([a["id"]], [a["id"], a["id"]], [a["id"], b["id"], 999]):
        response = await catalog.client.put(f"/listings/{listing['id']}/images/order", json={"image_ids": ids}, headers=catalog.seller())
        assert response.status_code == 422


async def test_c3_image_of_another_listing_or_unknown_is_404(catalog: CatalogHarness) -> None:
    one = await catalog.draft("MODEL")
    other = await catalog.draft("MODEL", title="Other")
    image = (await catalog.upload_image(one["id"])).json()
    assert (await catalog.client.delete(f"/listings/{other['id']}/images/{image['id']}", headers=catalog.seller())).status_code == 404
    assert (await catalog.client.get("/media/images/" + "0" * 32)).status_code == 404
    assert (await catalog.client.get("/media/images/..%2F..%2Fetc%2Fpasswd")).status_code == 404


async def test_c4_images_need_the_listings_ready_seller_or_an_owner(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    await catalog.make_ready("seller-2")
    stranger = await catalog.upload_image(listing["id"], seller="seller-2")
    assert stranger.status_code == 403
    await catalog.make_ready("seller-1", ready=False)
    unready = await catalog.upload_image(listing["id"])
    assert unready.status_code == 403 and "payout onboarding" in unready.json()["detail"]
    assert await catalog.count(ProductImage) == 0 and catalog.stored_files() == []
    by_owner = await catalog.client.post(
        f"/listings/{listing['id']}/images", files={"file": ("p.png", png())}, headers=catalog.owner()
    )
    assert by_owner.status_code == 201


async def test_c3_image_count_limit(catalog: CatalogHarness, database_url: str, nats_url: str, identity_keys: tuple[str, str],
        tmp_path: Path) -> None:
    async with running_catalog(database_url, nats_url, identity_keys, tmp_path / "small", max_images_per_product=2) as small:
        listing = await small.draft("MODEL")
        assert (await small.upload_image(listing["id"])).status_code == 201
        assert (await small.upload_image(listing["id"])).status_code == 201
        third = await small.upload_image(listing["id"])
        assert third.status_code == 422 and "at most 2 images" in third.json()["detail"]


# --- digital assets -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("benchy.stl", binary_stl(), "STL"),
        ("benchy.STL", ascii_stl(), "STL"),
        ("part.3mf", three_mf(), "3MF"),
        ("mesh.obj", obj(), "OBJ"),
        ("bundle.zip", zip_bytes({"a.stl": binary_stl()}), "ZIP"),
    ],
)
async def test_c3_digital_assets_are_stored_with_their_sha256(catalog: CatalogHarness, name: str, content: bytes, fmt: str) -> None:
    listing = await catalog.draft("FILE")
    response = await catalog.upload_asset(listing["id"], content, name=f"../../{name}")
    assert response.status_code == 201, response.text
    asset = response.json()
    assert asset["file_format"] == fmt and asset["original_filename"] == name
    assert asset["size_bytes"] == len(content) and asset["sha256"] == hashlib.sha256(content).hexdigest()
    [stored] = catalog.stored_files()
    assert stored.read_bytes() == content and name not in str(stored) and stored.is_relative_to(catalog.media_root / "assets")
    assert (await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.seller())).json()["assets"] == [asset]


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        ("virus.exe", b"MZ....", 415, "STL, 3MF, OBJ or ZIP"),
        ("noext", binary_stl(), 415, "STL, 3MF, OBJ or ZIP"),
        ("fake.stl", b"just some text", 422, "not a valid STL"),
        ("short.stl", binary_stl(3)[:-10], 422, "not a valid STL"),
        ("open.stl", b"solid x\n facet normal 0 0 1\n", 422, "no triangles"),
        ("fake.3mf", zip_bytes({"readme.txt": b"hi"}), 422, "3D/3dmodel.model"),
        ("fake.zip", b"PK\x03\x04 but not really a zip", 422, "damaged"),
        ("png.zip", png(), 422, "zip signature"),
        ("bin.obj", b"v 1 2 3\n\x00\x01\x02", 422, "no triangles"),
        ("faces.obj", b"# nothing\nv 0 0 0\n", 422, "no triangles"),
        ("empty.stl", b"", 422, "empty"),
    ],
)
async def test_c3_asset_of_the_wrong_type_is_refused_and_writes_nothing(
    catalog: CatalogHarness, name: str, content: bytes, status: int, message: str
) -> None:
    listing = await catalog.draft("FILE")
    before = await catalog.counts()
    response = await catalog.upload_asset(listing["id"], content, name=name)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert await catalog.counts() == before
    assert catalog.stored_files() == []


async def test_c3_assets_only_on_file_products(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    response = await catalog.upload_asset(listing["id"])
    assert response.status_code == 422 and "only be attached to 3D Files listings" in response.json()["detail"]
    assert await catalog.count(DigitalAsset) == 0 and catalog.stored_files() == []


async def test_c3_asset_over_the_size_limit_is_refused_and_writes_nothing(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    too_big = binary_stl(200)  # 84 + 10,000 bytes > 8 KB
    response = await catalog.upload_asset(listing["id"], too_big)
    assert response.status_code == 413 and "8 KB" in response.json()["detail"]
    assert await catalog.count(DigitalAsset) == 0 and catalog.stored_files() == []


async def test_c3_asset_delete_removes_row_and_file(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    asset = (await catalog.upload_asset(listing["id"])).json()
    assert len(catalog.stored_files()) == 1
    await catalog.make_ready("seller-2")
    assert (await catalog.client.delete(f"/listings/{listing['id']}/assets/{asset['id']}",
            headers=catalog.seller("seller-2"))).status_code == 403
    response = await catalog.client.delete(f"/listings/{listing['id']}/assets/{asset['id']}", headers=catalog.seller())
    assert response.status_code == 204
    assert await catalog.count(DigitalAsset) == 0 and catalog.stored_files() == []
    again = await catalog.client.delete(f"/listings/{listing['id']}/assets/{asset['id']}", headers=catalog.seller())
    assert again.status_code == 404


async def test_c4_unready_seller_cannot_upload_assets(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    await catalog.make_ready("seller-1", ready=False)
    response = await catalog.upload_asset(listing["id"])
    assert response.status_code == 403
    assert await catalog.count(DigitalAsset) == 0 and catalog.stored_files() == []


async def test_assets_are_never_served_publicly(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    asset = (await catalog.upload_asset(listing["id"])).json()
    paths = [route.path for route in catalog.app.routes if hasattr(route, "path")]
    public_asset_routes = [p for p in paths if "asset" in p and not p.startswith("/internal") and not p.startswith("/listings")]
    assert public_asset_routes == []
    [stored] = catalog.stored_files()
    assert (await catalog.client.get(f"/media/images/{stored.name}")).status_code == 404
    assert (await catalog.client.get(f"/internal/assets/{asset['id']}/content")).status_code == 401
    assert (await catalog.client.get(f"/internal/assets/{asset['id']}/content", headers=catalog.seller())).status_code == 403


async def test_c3_declared_oversize_is_refused_before_the_body_is_read(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    request = catalog.client.build_request(
        "POST", f"/listings/{listing['id']}/assets", files={"file": ("m.stl", binary_stl())}, headers=catalog.seller()
    )
    request.headers["content-length"] = str(LIMITS["max_asset_bytes"] + 10 * 1024 * 1024)
    response = await catalog.client.send(request)
    assert response.status_code == 413 and "8 KB" in response.json()["detail"]
    assert await catalog.count(DigitalAsset) == 0


async def test_c3_undeclared_oversize_is_stopped_while_streaming(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    boundary = "xyz"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="m.stl"\r\n\r\n'.encode()
    body = head + binary_stl(400) + f"\r\n--{boundary}--\r\n".encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: only the streamed count can stop it
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    response = await catalog.client.post(
        f"/listings/{listing['id']}/assets", content=chunks(),
        headers={**catalog.seller(), "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert await catalog.count(DigitalAsset) == 0 and catalog.stored_files() == []
