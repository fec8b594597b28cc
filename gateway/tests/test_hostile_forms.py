"""Hostile forms (issue 15; decision 0021's limits, for HTML forms): every state-changing form of the
gateway posted with absurd, huge or control-character values answers a page (a form error, a
not-found, a redirect with a message), never a 500, on SQLite and PostgreSQL alike. The gateway has
no JSON API of its own (pages only), so this stands in for the schemathesis run of the services."""

from __future__ import annotations

import uuid

import httpx
import pytest
from test_accounts import _app, csrf_of, register

from homecraft_shared.testing import serve_app

HOSTILE = [
    "\x00", "a\x00b", "\x1b[31m\x07\x08", "x" * 200_000, "-1", "0", "99999999999999999999", "1e309", "NaN",
    "<script>alert(1)</script>", "\u202egnp.exe", "' OR 1=1 --", "../../../../etc/passwd", "  ", "😀" * 500,
]
RAW_BODIES = [b"%FF%FE%00", b"username=%ED%A0%80&password=%C0%AF", b"=&&==", b"a=" + b"%00" * 50_000]
PID, OID, RID = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
FORMS = {
    "/account/signin": ["username", "password", "next"],
    "/account/register": ["username", "email", "password", "confirm", "seller", "shop_name"],
    "/account/profile": ["first_name", "last_name", "email", "phone", "phone2", "address_line1", "address_line2",
                         "city", "state", "zip_code", "seller", "shop_name"],
    "/cart/add": ["product_id", "quantity"],
    "/cart/update": ["product_id", "quantity", "remove"],
    "/checkout": ["email", "checkout_key"],
    f"/orders/{OID}/pay": ["t"],
    f"/orders/{OID}/refund-requests": ["line_id", "reason", "note", "guest_email", "t"],
    f"/orders/{OID}/refund-requests/{RID}/cancel": ["t"],
    f"/orders/{OID}/reviews": ["line_id", "rating", "title", "body"],
    f"/orders/{OID}/seller-reviews": ["seller_id", "rating", "title", "body"],
    f"/products/{PID}/questions": ["subject", "body"],
    f"/products/{PID}/questions/{uuid.uuid4()}/replies": ["body"],
    f"/products/{PID}/messages/{uuid.uuid4()}/delete": [],
    f"/products/{PID}/messages/{uuid.uuid4()}/report": ["reason", "details"],
}


def assert_a_page(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code not in (303, 307):
        assert response.headers["content-type"].startswith("text/html"), what


@pytest.mark.parametrize("signed_in", [False, True], ids=["guest", "signed-in"])
async def test_hostile_values_in_every_form_answer_a_page_never_a_500(
        database_url: str, nats_url: str, signed_in: bool) -> None:
    async with serve_app(_app(database_url, nats_url)) as client:
        if signed_in:
            assert (await register(client, "hostile")).status_code == 303
        token = csrf_of(await client.get("/account/register" if not signed_in else "/account/profile"))
        for path, fields in FORMS.items():
            for value in HOSTILE:
                data = {"csrf_token": token, **dict.fromkeys(fields, value)}
                response = await client.post(path, data=data)
                assert_a_page(response, f"{path} with {value[:20]!r}")
            for body in RAW_BODIES:
                response = await client.post(path, content=b"csrf_token=" + token.encode() + b"&" + body,
                                             headers={"content-type": "application/x-www-form-urlencoded"})
                assert_a_page(response, f"{path} with raw {body[:20]!r}")
        # Hostile path parameters too.
        for path in ("/orders/%00/pay", "/orders/..%2F..%2Fetc/refund-requests", f"/products/{'9' * 300}/questions"):
            assert_a_page(await client.post(path, data={"csrf_token": token}), path)
        # Hostile addresses: a page for people, not a problem+json document.
        for path, status, text in (("/products/not-a-uuid", 404, "Not found"), ("/no/such/page", 404, "Not found"),
                                   ("/browse?page=0", 400, "page:"), ("/categories/1?page=99999999", 400, "page:")):
            page = await client.get(path)
            assert page.status_code == status and page.headers["content-type"].startswith("text/html"), path
            assert text in page.text, path
        # Still working afterwards: the session is intact.
        assert (await client.get("/cart")).status_code == 200
