"""Connect (P1, P2) against the stand-in: start needs the seller's email; readiness follows Stripe's
flags through account.updated on the Connect endpoint; seller.payout_readiness_changed is published on
every change and only then; onboarding-started and first-ready timestamps are kept."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from standin_support import Stand
from support import eventually

from homecraft_shared.messaging.tables import OutboxEvent
from payments.deps import deps


async def readiness_events(stand: Stand) -> list[dict[str, object]]:
    async with stand.payments.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all()
    payloads = [json.loads(row.payload) for row in rows]
    return [p["data"] for p in payloads if p["type"] == "seller.payout_readiness_changed"]


async def status(stand: Stand, seller: str) -> dict[str, object]:
    response = await stand.payments.client.get("/connect/status", headers=stand.payments.seller(seller))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_p1_p2_readiness_follows_stripe_and_is_published_on_every_change(stand: Stand) -> None:
    client = stand.payments.client
    # P1: the seller's email is required (none on file yet); a buyer has no payout account
    missing = await client.post("/connect/start", json={}, headers=stand.payments.seller("ada"))
    assert missing.status_code in (409, 422) and "email" in missing.json()["detail"].lower()
    buyer = await client.post("/connect/start", json={"email": "b@example.com"}, headers=stand.payments.consumer("b"))
    assert buyer.status_code == 403
    assert await readiness_events(stand) == []

    account = await stand.ready_seller("ada")
    ready = await status(stand, "ada")
    assert ready["ready"] is True and ready["stripe_account_id"] == account
    assert ready["onboarding_started_at"] is not None and ready["onboarding_completed_at"] is not None
    assert [(e["seller_id"], e["ready"]) for e in await readiness_events(stand)] == [("ada", True)]

    # the bank account goes away at Stripe: not ready any more (P2), published once
    await stand.control("POST", f"/accounts/{account}/onboarding", {"state": "payouts_disabled"})
    await eventually(lambda: status(stand, "ada"), lambda s: s["ready"] is False, within=60)
    # a manual sync that finds nothing new publishes nothing
    synced = await client.post("/connect/sync", headers=stand.payments.seller("ada"))
    assert synced.status_code == 200 and synced.json()["payouts_enabled"] is False
    # and back: ready again; the first-ready time stays the first one
    await stand.control("POST", f"/accounts/{account}/onboarding", {"state": "complete"})
    again = await eventually(lambda: status(stand, "ada"), lambda s: s["ready"] is True, within=60)
    assert again["onboarding_completed_at"] == ready["onboarding_completed_at"]
    assert again["onboarding_started_at"] == ready["onboarding_started_at"]
    assert [(e["seller_id"], e["ready"]) for e in await readiness_events(stand)] == [
        ("ada", True), ("ada", False), ("ada", True)]


async def test_p1_account_updated_handled_while_start_is_between_its_stripe_call_and_its_commit(
        stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripe can send account.updated for a new account at once. When the consumer handles it before the
    seller's start request has written anything, it stores the account from the account's metadata and
    commits; the request then still answers 200, the seller has one account, and the request's older
    read of the account (at its creation, not onboarded) does not overwrite the consumer's newer one."""
    async with stand.payments.sessionmaker() as session:
        accounts = deps(session).stripe.v1.accounts
    create = accounts.create_async

    async def create_then_onboard(*args: Any, **kwargs: Any) -> Any:
        created = await create(*args, **kwargs)
        await stand.control("POST", f"/accounts/{created.id}/onboarding", {"state": "complete"})
        await eventually(lambda: stand.account_ready("ada"), bool, within=60)
        return created

    monkeypatch.setattr(accounts, "create_async", create_then_onboard)
    response = await stand.payments.client.post("/connect/start", json={"email": "ada@example.com"},
                                                headers=stand.payments.seller("ada"))
    assert response.status_code == 200, response.text
    assert response.json()["status"]["ready"] is True
    assert await status(stand, "ada") == response.json()["status"]
    assert [(e["seller_id"], e["ready"]) for e in await readiness_events(stand)] == [("ada", True)]


async def test_p1_two_start_requests_at_once_both_answer_with_the_one_account(
        stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    """A double click: the second start request runs to its commit while the first is between its Stripe
    call and its own commit. Stripe returns the same account to both (one idempotency key per seller);
    both answer 200 with it."""
    async with stand.payments.sessionmaker() as session:
        accounts = deps(session).stripe.v1.accounts
    create = accounts.create_async
    calls: list[str] = []
    second: list[httpx.Response] = []

    async def create_while_another_request_runs(*args: Any, **kwargs: Any) -> Any:
        created = await create(*args, **kwargs)
        calls.append(created.id)
        if len(calls) == 1:  # the first request: the second one runs now, to its commit
            second.append(await stand.payments.client.post(
                "/connect/start", json={"email": "ada@example.com"}, headers=stand.payments.seller("ada")))
        return created

    monkeypatch.setattr(accounts, "create_async", create_while_another_request_runs)
    first = await stand.payments.client.post("/connect/start", json={"email": "ada@example.com"},
                                             headers=stand.payments.seller("ada"))
    assert first.status_code == 200, first.text
    assert second[0].status_code == 200, second[0].text
    account_id = first.json()["status"]["stripe_account_id"]
    assert account_id and second[0].json()["status"]["stripe_account_id"] == account_id
    assert calls == [account_id, account_id]
    assert (await status(stand, "ada"))["stripe_account_id"] == account_id
