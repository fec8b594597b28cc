"""CSRF tokens (decision 0701: WTForms' SessionCSRF on the server-side session), without the app."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.sessions import CsrfForm, CsrfRefused, PageContext, csrf_secret
from gateway.settings import GatewaySettings
from homecraft_shared.identity import generate_keypair


def context(settings: GatewaySettings, data: dict[str, Any] | None = None) -> PageContext:
    return PageContext(request=cast(Request, None), db=cast(AsyncSession, None), settings=settings, row=None,
                       user=None, data=data if data is not None else {})


def test_a_token_checks_against_its_own_session_only() -> None:
    settings = GatewaySettings(identity_private_key=generate_keypair()[0])
    ctx = context(settings)
    token = ctx.csrf_token
    assert ctx.dirty and "csrf" in ctx.data  # a form makes the session
    ctx.check_csrf(token)
    with pytest.raises(CsrfRefused, match="CSRF failed"):
        context(settings, {"csrf": "another session's value"}).check_csrf(token)
    with pytest.raises(CsrfRefused, match="missing"):
        ctx.check_csrf(None)
    with pytest.raises(CsrfRefused, match="no form open"):
        context(settings).check_csrf(token)


def test_an_expired_token_is_refused() -> None:
    settings = GatewaySettings(identity_private_key=generate_keypair()[0])
    ctx = context(settings)
    ctx.csrf_token  # noqa: B018  (creates the session's value)
    meta = {"csrf_context": ctx.data, "csrf_secret": csrf_secret(settings), "csrf_time_limit": dt.timedelta(seconds=-1)}
    expired = CsrfForm(meta=meta)["csrf_token"].current_token  # type: ignore[attr-defined]
    with pytest.raises(CsrfRefused, match="expired"):
        ctx.check_csrf(expired)


def test_the_secret_is_the_same_for_every_replica_with_the_same_identity_key() -> None:
    private = generate_keypair()[0]
    assert csrf_secret(GatewaySettings(identity_private_key=private)) == csrf_secret(GatewaySettings(identity_private_key=private))
    assert csrf_secret(GatewaySettings(identity_private_key=private)) != csrf_secret(
        GatewaySettings(identity_private_key=generate_keypair()[0]))
