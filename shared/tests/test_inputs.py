"""The platform's input limits: strict integers inside int32, text a database can store, a page cap."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field, ValidationError

from homecraft_shared.errors import install_error_handlers
from homecraft_shared.inputs import (
    INT32_MAX,
    MAX_PAGE,
    Cents,
    Count,
    Id,
    IdParam,
    Line,
    Omittable,
    Page,
    Paging,
    QueryText,
    Text,
    paging,
)


class Body(BaseModel):
    id: Id | None = None
    count: Count | None = None
    cents: Cents | None = None
    line: Line | None = None
    text: Text | None = None


@pytest.mark.parametrize(
    "field, value",
    [
        ("cents", True),  # a boolean is not a number
        ("count", False),
        ("id", "5"),
        ("id", 5.0),
        ("id", 0),
        ("id", 2**31),  # PostgreSQL's integer stops at 2**31 - 1
        ("id", 9223372036854775808),  # SQLite's at 2**63 - 1
        ("count", -1),
        ("cents", 10**20),
    ],
)
def test_integers_are_strict_and_inside_int32(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        Body.model_validate({field: value})


def test_integers_at_the_bounds_are_accepted() -> None:
    body = Body.model_validate({"id": INT32_MAX, "count": 0, "cents": INT32_MAX})
    assert (body.id, body.count, body.cents) == (INT32_MAX, 0, INT32_MAX)


@pytest.mark.parametrize("value", ["a\x00b", "bell\x07", "esc\x1b[31m", "del\x7f", "lone \ud800 surrogate", "c1\x85"])
def test_text_refuses_nul_control_characters_and_lone_surrogates(value: str) -> None:
    with pytest.raises(ValidationError):
        Body.model_validate({"text": value})
    with pytest.raises(ValidationError):
        Body.model_validate({"line": value})


def test_text_keeps_whitespace_lines_refuse_it() -> None:
    assert Body.model_validate({"text": "two\nlines\tand\r\n", "line": "ünïcødé ✓ 3D"}).text == "two\nlines\tand\r\n"
    with pytest.raises(ValidationError):
        Body.model_validate({"line": "two\nlines"})


@pytest.mark.parametrize("value", ["no\u00a0break", "zero\u200dwidth", "line\u2028separator", "private \ue000 use",
                                   "unassigned \u0378", "soft\u00adhyphen", "🧵 emoji", "plain ascii id-123_x"])
def test_text_that_is_not_printable_to_python_but_has_no_control_character_is_kept(value: str) -> None:
    """Decision 0206: the common all-printable text skips the per-character check (``str.isprintable``);
    text Python does not call printable (spaces other than ' ', format, separator, private-use and
    unassigned characters) is still checked character by character and kept, exactly as before."""
    assert Body.model_validate({"text": value, "line": value}).line == value


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: IdParam, page: Paging, q: QueryText | None = None) -> dict[str, object]:
        return {"id": thing_id, "offset": page.offset, "limit": page.limit, "q": q}

    @app.get("/small")
    async def small(page: Annotated[Page, Depends(paging(5, 10))]) -> dict[str, int]:
        return {"page": page.page, "page_size": page.page_size}

    @app.post("/bodies")
    async def bodies(body: Body) -> Body:
        return body

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


@pytest.mark.parametrize(
    "url",
    [
        "/things/9223372036854775808",
        "/things/2147483648",
        "/things/0",
        f"/things/1?page={MAX_PAGE + 1}",
        "/things/1?page=100000000000000000000",
        "/things/1?page_size=101",
        "/things/1?q=a%00b",
        "/small?page_size=11",
    ],
)
async def test_parameters_out_of_bounds_are_422_problems(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_parameters_in_bounds_pass_with_a_bounded_offset(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/things/{INT32_MAX}?page={MAX_PAGE}&page_size=100&q=lamp")
    assert response.json() == {"id": INT32_MAX, "offset": (MAX_PAGE - 1) * 100, "limit": 100, "q": "lamp"}
    assert (await client.get("/small")).json() == {"page": 1, "page_size": 5}


async def test_json_booleans_are_not_numbers(client: httpx.AsyncClient) -> None:
    response = await client.post("/bodies", json={"cents": True})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cents"


def test_paging_refuses_a_page_size_over_the_platform_cap() -> None:
    with pytest.raises(ValueError):
        paging(20, 500)


async def test_the_openapi_document_shows_the_bounds(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/things/{thing_id}"]["get"]["parameters"]}
    assert params["thing_id"]["maximum"] == INT32_MAX
    assert params["page"]["maximum"] == MAX_PAGE
    assert params["page_size"]["maximum"] == 100


class Patch(BaseModel):
    name: Omittable[Line] = Field(default=None, max_length=5)
    size: Omittable[Count] = None
    cleared: Count | None = None


def test_omittable_fields_may_be_left_out_but_not_null() -> None:
    assert Patch.model_validate({}).model_fields_set == set()
    assert Patch.model_validate({"name": "lamp", "size": 3, "cleared": None}).name == "lamp"
    for body in ({"name": None}, {"size": None}, {"name": "too long"}, {"size": True}):
        with pytest.raises(ValidationError):
            Patch.model_validate(body)


def test_omittable_fields_are_not_nullable_in_the_schema() -> None:
    properties = Patch.model_json_schema()["properties"]
    assert properties["name"] == {"type": "string", "maxLength": 5, "title": "Name"}
    assert properties["size"]["type"] == "integer" and "default" not in properties["size"]
    assert {"type": "null"} in properties["cleared"]["anyOf"]
