"""Hostile input never gets a 500 (issue 7): out-of-range integers, NUL bytes, booleans as numbers,
fake images, fake meshes, zip bombs and traversal, anonymous internal lookups, probing someone
else's draft. Each test names the finding it covers; the same test runs on SQLite and PostgreSQL,
so both backends accept and refuse the same input."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from support import CatalogHarness, binary_stl, png, zip_bytes

from catalog import content
from catalog.browse.domain import TOP_RATED_FALLBACK_NOTICE, TRENDING_NO_SIGNAL_NOTICE
from catalog.models import AssetFormat

HUGE = 9223372036854775808  # 2**63: SQLite's overflow
INT32_OVER = 2**31  # PostgreSQL's integer overflow
LIMITS = {"max_image_bytes": 64 * 1024, "max_asset_bytes": 64 * 1024, "upload_chunk_bytes": 4096}


@pytest.fixture
def catalog_settings() -> dict[str, int]:
    return LIMITS


def assert_problem(response: object, status: int = 422) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]


# --- finding 1: integers out of every database's range are a 422, not a 500 -----------------------

@pytest.mark.parametrize("value", [HUGE, INT32_OVER, -HUGE])
async def test_finding_1_out_of_range_integers_in_bodies(catalog: CatalogHarness, value: int) -> None:
    root = await catalog.category("FILE")
    owner = catalog.owner()
    assert_problem(await catalog.client.post("/categories", json={"name": "x", "parent_id": value}, headers=owner))
    assert_problem(await catalog.client.post("/categories", json={"name": "x", "type": "FILE", "sort_order": value}, headers=owner))
    assert_problem(await catalog.client.patch(f"/categories/{root['id']}", json={"sort_order": value}, headers=owner))
    body = {"kind": "FILE", "title": "Benchy", "category_id": value}
    assert_problem(await catalog.client.post("/listings", json=body, headers=catalog.seller()))
    listing = await catalog.draft("FILE", category_id=root["id"])
    assert_problem(await catalog.client.patch(f"/listings/{listing['id']}", json={"category_id": value}, headers=catalog.seller()))
    assert_problem(await catalog.client.patch(f"/listings/{listing['id']}", json={"width_mm": value}, headers=catalog.seller()))
    assert_problem(
        await catalog.client.put(f"/listings/{listing['id']}/images/order", json={"image_ids": [value]}, headers=catalog.seller())
    )


@pytest.mark.parametrize("value", [str(HUGE), str(INT32_OVER), "100000000000000000000"])
async def test_finding_1_out_of_range_integers_in_paths_and_pages(catalog: CatalogHarness, value: str) -> None:
    assert_problem(await catalog.client.patch(f"/categories/{value}", json={"name": "x"}, headers=catalog.owner()))
    assert_problem(await catalog.client.get(f"/browse/categories/{value}"))
    listing = await catalog.draft("MODEL")
    assert_problem(await catalog.client.delete(f"/listings/{listing['id']}/images/{value}", headers=catalog.seller()))
    assert_problem(await catalog.client.get("/sellers/me/products", params={"page": value}, headers=catalog.seller()))
    assert_problem(await catalog.client.get("/browse", params={"page": value}))


async def test_finding_1_the_largest_page_and_page_size_are_answered(catalog: CatalogHarness) -> None:
    response = await catalog.client.get("/sellers/me/products", params={"page": 10_000, "page_size": 100}, headers=catalog.seller())
    assert response.status_code == 200 and response.json()["items"] == []
    assert_problem(await catalog.client.get("/sellers/me/products", params={"page": 10_001}, headers=catalog.seller()))


# --- finding 2: NUL bytes and other control characters are refused the same way on both backends ---

async def send_json(catalog: CatalogHarness, method: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    """JSON as a hostile client writes it: json.dumps escapes a lone surrogate (httpx would refuse to encode it)."""
    return await catalog.client.request(
        method, url, content=json.dumps(body).encode(), headers={**headers, "Content-Type": "application/json"}
    )


@pytest.mark.parametrize("bad", ["nul\u0000byte", "escape\u001b[2J", "lone \ud800 surrogate"])
async def test_finding_2_text_a_database_cannot_store_is_a_422(catalog: CatalogHarness, bad: str) -> None:
    assert_problem(await send_json(catalog, "POST", "/categories", {"name": bad, "type": "FILE"}, catalog.owner()))
    root = await catalog.category("FILE")
    body = {"kind": "FILE", "title": bad, "category_id": root["id"]}
    assert_problem(await send_json(catalog, "POST", "/listings", body, catalog.seller()))
    listing = await catalog.draft("FILE", category_id=root["id"])
    for field in ("title", "description", "short_description", "license_text"):
        assert_problem(await send_json(catalog, "PATCH", f"/listings/{listing['id']}", {field: bad}, catalog.seller()))
    if bad.isascii():  # URLs and form fields carry UTF-8, which has no lone surrogates
        assert_problem(await catalog.client.get("/browse", params={"q": bad}))
        assert_problem(await catalog.upload_image(listing["id"], alt_text=bad))


async def test_finding_2_newlines_in_descriptions_are_kept(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE", description="Line one\nLine two\twith a tab")
    response = await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.seller())
    assert response.json()["description"] == "Line one\nLine two\twith a tab"


# --- finding 4: cross-field rules and nullability as implemented ----------------------------------

async def test_finding_4_patch_fields_may_be_left_out_but_not_null_except_dimensions(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL", width_mm=20)
    assert_problem(await catalog.client.patch(f"/listings/{listing['id']}", json={"title": None}, headers=catalog.seller()))
    cleared = await catalog.client.patch(f"/listings/{listing['id']}", json={"width_mm": None}, headers=catalog.seller())
    assert cleared.status_code == 200 and cleared.json()["width_mm"] is None
    spec = (await catalog.client.get("/openapi.json")).json()["components"]["schemas"]
    assert "anyOf" not in spec["ListingUpdate"]["properties"]["title"]
    assert {"type": "null"} in spec["ListingUpdate"]["properties"]["width_mm"]["anyOf"]
    assert "anyOf" not in spec["CategoryUpdate"]["properties"]["name"]


async def test_finding_4_sort_relevance_without_a_query_is_described_and_refused(catalog: CatalogHarness) -> None:
    spec = (await catalog.client.get("/openapi.json")).json()
    sort = next(p for p in spec["paths"]["/browse"]["get"]["parameters"] if p["name"] == "sort")
    assert "relevance needs a search query" in sort["description"]
    assert_problem(await catalog.client.get("/browse", params={"sort": "relevance"}))


async def test_finding_4_the_catalog_declares_the_errors_it_answers(catalog: CatalogHarness) -> None:
    spec = (await catalog.client.get("/openapi.json")).json()
    listing = spec["paths"]["/listings/{product_id}"]
    assert {"401", "403", "404", "422"} <= set(listing["patch"]["responses"])
    assert listing["get"]["security"] == [{"bearer": []}]
    assert {"403", "404", "409"} <= set(spec["paths"]["/categories/{category_id}"]["patch"]["responses"])
    assert "404" in spec["paths"]["/browse/products/{product_id}"]["get"]["responses"]
    assert "security" not in spec["paths"]["/browse"]["get"]
    trace = await catalog.client.request("TRACE", "/categories")
    assert trace.status_code == 405 and trace.headers["allow"] == "GET, POST"


# --- finding 5: content is decoded and parsed, not sniffed ----------------------------------------

async def test_finding_5_a_png_signature_followed_by_html_is_not_an_image(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    before = await catalog.counts()
    fake = b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script></html>"
    assert_problem(await catalog.upload_image(listing["id"], fake), 415)
    assert await catalog.counts() == before and catalog.stored_files() == []


async def test_finding_5_an_image_is_re_encoded_without_what_trails_it(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    response = await catalog.upload_image(listing["id"], png() + b"<script>alert(1)</script>")
    assert response.status_code == 201, response.text
    served = await catalog.client.get(response.json()["url"])
    assert b"script" not in served.content
    assert Image.open(io.BytesIO(served.content)).size == (4, 3)
    assert response.json()["size_bytes"] == len(served.content)


async def test_finding_5_a_damaged_image_is_a_422(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("MODEL")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(buffer, format="PNG")
    assert_problem(await catalog.upload_image(listing["id"], buffer.getvalue()[:-40]))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("words.stl", b"solid x\nnot geometry\nendsolid x\n", "no triangles"),
        ("outside.obj", b"v 0 0 0\nv 1 0 0\nf 1 2 9\n", "not a valid OBJ"),
        ("nan.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "not a valid OBJ"),
        ("empty-model.3mf", zip_bytes({"3D/3dmodel.model": b"<model><resources/></model>"}), "no triangles"),
        ("broken-model.3mf", zip_bytes({"3D/3dmodel.model": b"<model><resources"}), "not readable XML"),
        ("escape.zip", zip_bytes({"../../etc/cron.d/evil": b"x"}), "not a safe relative path"),
        ("absolute.zip", zip_bytes({"/etc/passwd": b"x"}), "not a safe relative path"),
        ("windows.zip", zip_bytes({"..\\..\\evil.bat": b"x"}), "not a safe relative path"),
    ],
)
async def test_finding_5_files_that_are_not_what_they_claim_are_refused(
    catalog: CatalogHarness, name: str, data: bytes, message: str
) -> None:
    listing = await catalog.draft("FILE")
    before = await catalog.counts()
    response = await catalog.upload_asset(listing["id"], data, name=name)
    assert_problem(response)
    assert message in response.json()["detail"]
    assert await catalog.counts() == before and catalog.stored_files() == []


def deflated(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)
    return buffer.getvalue()


async def test_finding_5_a_zip_bomb_is_refused_without_extracting(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    bomb = deflated({"zeros.bin": b"\0" * 20_000_000})  # 20 MB from about 20 KB
    assert len(bomb) < LIMITS["max_asset_bytes"]
    response = await catalog.upload_asset(listing["id"], bomb, name="bomb.zip")
    assert_problem(response)
    assert "zip bomb" in response.json()["detail"]
    assert catalog.stored_files() == []


async def test_finding_5_a_sound_zip_is_accepted(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    archive = deflated({"parts/base.stl": binary_stl(4), "README.txt": b"Print at 0.2 mm." * 10})
    assert (await catalog.upload_asset(listing["id"], archive, name="kit.zip")).status_code == 201


def test_finding_5_zip_limits_on_total_size_symlinks_and_lying_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes({"a.bin": b"a" * 1000, "b.bin": b"b" * 1000}))
    monkeypatch.setattr(content, "MAX_ZIP_TOTAL_BYTES", 1500)
    with pytest.raises(content.ContentRefused, match="expands to more than"):
        content.check_asset(path, AssetFormat.ZIP)
    monkeypatch.undo()

    link = zipfile.ZipInfo("link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(content.ContentRefused, match="symbolic link"):
        content.check_asset(path, AssetFormat.ZIP)

    # A central directory that understates an entry's size: found by decompressing, in memory.
    honest = zip_bytes({"x.bin": b"x" * 100})
    lying = honest.replace((100).to_bytes(4, "little"), (10).to_bytes(4, "little"))
    path.write_bytes(lying)
    with pytest.raises(content.ContentRefused):
        content.check_asset(path, AssetFormat.ZIP)


# --- finding 6: the smaller ones ------------------------------------------------------------------

async def test_finding_6_a_boolean_is_not_a_price(catalog: CatalogHarness) -> None:
    root = await catalog.category("FILE")
    body = {"kind": "FILE", "title": "Benchy", "category_id": root["id"], "price_cents": True}
    assert_problem(await catalog.client.post("/listings", json=body, headers=catalog.seller()))
    listing = await catalog.draft("FILE", category_id=root["id"])
    assert_problem(await catalog.client.patch(f"/listings/{listing['id']}", json={"price_cents": True}, headers=catalog.seller()))
    assert_problem(await catalog.client.post("/listings", json={**body, "price_cents": 5.0}, headers=catalog.seller()))


async def test_finding_6_the_internal_lookup_needs_a_service_identity(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE", title="Secret draft")
    body = {"product_ids": [listing["id"]]}
    anonymous = await catalog.client.post("/internal/products/lookup", json=body)
    assert_problem(anonymous, 401)
    assert "Secret draft" not in anonymous.text
    assert_problem(await catalog.client.post("/internal/products/lookup", json=body, headers=catalog.consumer()), 403)
    assert_problem(await catalog.client.post("/internal/products/lookup", json=body, headers=catalog.seller()), 403)
    served = await catalog.client.post("/internal/products/lookup", json=body, headers=catalog.service())
    assert served.status_code == 200 and served.json()["products"][0]["title"] == "Secret draft"


async def test_finding_6_someone_elses_listing_reads_as_not_found(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE", title="Secret draft")
    response = await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.seller("seller-2"))
    assert_problem(response, 404)
    missing = await catalog.client.get("/listings/00000000-0000-0000-0000-000000000007", headers=catalog.seller("seller-2"))
    assert response.json()["detail"].replace(listing["id"], "X") == missing.json()["detail"].replace(
        "00000000-0000-0000-0000-000000000007", "X"
    )
    assert (await catalog.client.get(f"/listings/{listing['id']}", headers=catalog.owner())).status_code == 200


@pytest.mark.parametrize("params", [{"sort": "trending", "q": "nothing-matches-this"}, {"sort": "trending", "kind": "MODEL"}])
async def test_finding_6_c5_trending_with_no_results_shows_its_notice_like_top_does(
    catalog: CatalogHarness, params: dict[str, str]
) -> None:
    trending = (await catalog.client.get("/browse", params=params)).json()
    top = (await catalog.client.get("/browse", params={**params, "sort": "top"})).json()
    assert trending["items"] == [] and top["items"] == []
    assert trending["notice"] == TRENDING_NO_SIGNAL_NOTICE
    assert top["notice"] == TOP_RATED_FALLBACK_NOTICE
