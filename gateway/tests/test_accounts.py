"""Accounts and sessions through the real app (I1-I3): register, sign in/out, CSRF, rate limit, cookies."""

from __future__ import annotations

import re

import httpx

from gateway.app import create_app
from gateway.settings import GatewaySettings
from homecraft_shared.identity import generate_keypair
from homecraft_shared.testing import serve_app
from homecraft_shared.testing.infra import free_port


def _app(database_url: str, nats_url: str) -> object:
    closed = f"http://127.0.0.1:{free_port()}"
    private, _ = generate_keypair()
    return create_app(GatewaySettings(database_url=database_url, nats_url=nats_url, catalog_url=closed,
                                      orders_url=closed, engagement_url=closed, payments_url=closed, refunds_url=closed,
                                      identity_private_key=private))


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


async def register(client: httpx.AsyncClient, username: str, password: str = "correct horse 1") -> httpx.Response:
    form = await client.get("/account/register")
    return await client.post("/account/register", data={
        "csrf_token": csrf_of(form), "username": username, "email": f"{username.lower()}@example.com",
        "password": password, "confirm": password})


async def test_register_signs_in_and_usernames_are_unique_ignoring_case(database_url: str, nats_url: str) -> None:
    """I2: a new account is signed in at once; "Maker" and "maker" are the same username."""
    async with serve_app(_app(database_url, nats_url)) as client:
        done = await register(client, "Maker")
        assert done.status_code == 303
        home = await client.get("/")
        assert 'id="signed-in-as">Maker<' in home.text
        client.cookies.clear()
        again = await register(client, "maker")
        assert again.status_code == 400
        assert "That username is taken" in again.text


async def test_session_cookie_is_httponly_samesite_and_rotated_at_sign_in(database_url: str, nats_url: str) -> None:
    """I3: server-side session, HttpOnly + SameSite cookie, a new key at sign-in (no fixation)."""
    async with serve_app(_app(database_url, nats_url)) as client:
        await register(client, "rotor")
        await client.post("/account/signout", data={"csrf_token": csrf_of(await client.get("/"))})
        form = await client.get("/account/signin")
        before = client.cookies.get("hc_session")
        assert before
        response = await client.post("/account/signin", data={
            "csrf_token": csrf_of(form), "username": "ROTOR", "password": "correct horse 1", "next": "/"})
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        after = client.cookies.get("hc_session")
        assert after and after != before
        # The old key is revoked server-side: it no longer signs anyone in.
        client.cookies.set("hc_session", before)
        stale = await client.get("/")
        assert "signed-in-as" not in stale.text


async def test_a_form_without_its_csrf_token_is_refused(database_url: str, nats_url: str) -> None:
    async with serve_app(_app(database_url, nats_url)) as client:
        await client.get("/account/register")
        refused = await client.post("/account/register", data={
            "username": "forger", "email": "f@example.com", "password": "long enough 1", "confirm": "long enough 1"})
        assert refused.status_code == 403
        assert "security token" in refused.text
        wrong = await client.post("/account/signout", data={"csrf_token": "not-the-token"})
        assert wrong.status_code == 403


async def test_repeated_wrong_passwords_are_rate_limited_with_a_clear_message(database_url: str, nats_url: str) -> None:
    async with serve_app(_app(database_url, nats_url)) as client:
        await register(client, "target")
        await client.post("/account/signout", data={"csrf_token": csrf_of(await client.get("/"))})
        statuses = []
        for _ in range(7):
            form = await client.get("/account/signin")
            attempt = await client.post("/account/signin", data={
                "csrf_token": csrf_of(form), "username": "target", "password": "wrong password"})
            statuses.append(attempt.status_code)
        assert statuses[:5] == [400] * 5
        assert statuses[5:] == [429, 429]
        assert "Too many sign-in attempts" in attempt.text
        # Even the right password waits now.
        form = await client.get("/account/signin")
        right = await client.post("/account/signin", data={
            "csrf_token": csrf_of(form), "username": "target", "password": "correct horse 1"})
        assert right.status_code == 429


async def test_registration_shows_inline_errors_and_keeps_values_escaped(database_url: str, nats_url: str) -> None:
    async with serve_app(_app(database_url, nats_url)) as client:
        form = await client.get("/account/register")
        page = await client.post("/account/register", data={
            "csrf_token": csrf_of(form), "username": "<script>alert(1)</script>", "email": "nope",
            "password": "short", "confirm": "other", "seller": "on", "shop_name": ""})
        assert page.status_code == 400
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        for message in ("letters, digits", "valid email", "At least 8", "passwords differ"):
            assert message in page.text


async def test_profile_is_validated_as_the_seed_does_and_saved(database_url: str, nats_url: str) -> None:
    """I2: phone pattern, US states incl. DC, ZIP; the seller opt-in; owner flags are not editable (I3)."""
    async with serve_app(_app(database_url, nats_url)) as client:
        await register(client, "profiled")
        form = await client.get("/account/profile")
        bad = await client.post("/account/profile", data={
            "csrf_token": csrf_of(form), "phone": "call me", "state": "XX", "zip_code": "1234", "is_owner": "on"})
        assert bad.status_code == 400
        for message in ("7-20 digits", "Choose a US state", "A ZIP code"):
            assert message in bad.text
        good = await client.post("/account/profile", data={
            "csrf_token": csrf_of(form), "first_name": "Ada", "phone": "+1 (555) 0100".replace(" ", ""),
            "state": "dc", "zip_code": "20001", "seller": "on", "shop_name": "Ada's", "is_owner": "on"})
        assert good.status_code == 303
        saved = await client.get("/account/profile")
        assert 'value="Ada"' in saved.text and '<option value="DC" selected>' in saved.text
        assert 'id="seller" name="seller" type="checkbox" checked' in saved.text


async def test_signed_in_users_land_on_their_dashboard_even_with_services_down(database_url: str, nats_url: str) -> None:
    """C6: anonymous visitors get the home page; signed-in users their dashboard, with notices when orders is down."""
    async with serve_app(_app(database_url, nats_url)) as client:
        anonymous = await client.get("/")
        assert "The catalog is not reachable right now" in anonymous.text
        await register(client, "dash")
        page = await client.get("/")
        assert page.status_code == 200
        assert "Hello, dash" in page.text and "Your orders are not available right now" in page.text


async def test_a_csrf_token_of_another_session_or_from_before_sign_in_is_refused(database_url: str, nats_url: str) -> None:
    """I3 and CSRF (WTForms' session-bound tokens): a token is good only for the session that showed it,
    and signing in starts a new session whose forms need a new token."""
    async with serve_app(_app(database_url, nats_url)) as client:
        theirs = csrf_of(await client.get("/account/register"))
        client.cookies.clear()  # another browser: another session
        form = await client.get("/account/register")
        borrowed = await client.post("/account/register", data={
            "csrf_token": theirs, "username": "borrower", "password": "long enough 1", "confirm": "long enough 1"})
        assert borrowed.status_code == 403 and "CSRF failed" in borrowed.text
        before = csrf_of(form)
        assert (await register(client, "switcher")).status_code == 303
        stale = await client.post("/account/signout", data={"csrf_token": before})
        assert stale.status_code == 403
        fresh = await client.post("/account/signout", data={"csrf_token": csrf_of(await client.get("/account/profile"))})
        assert fresh.status_code == 303
