"""Field by field against Stripe's own example objects (``../shared/reference/stripe-fixtures3.json``,
from Stripe's OpenAPI repository): every object type the stand-in returns has the same fields, with
the same JSON types wherever both sides have a value, all the way down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Standin, paid_session, ready_account, serve_receiver, serve_standin

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "stripe-fixtures3.json"

# Fields whose keys are the caller's (metadata) or whose example is a placeholder ({}).
FREE_FORM = {"metadata", "previous_attributes"}

# Nested fields real Stripe returns that the fixture's (sparser) example leaves out, per type.
KNOWN_EXTRAS: dict[str, set[str]] = {
    # Express accounts: controller says who pays fees and losses and which dashboard the seller has.
    "account": {"controller.fees", "controller.is_controller", "controller.losses", "controller.requirement_collection",
                "controller.stripe_dashboard", "external_accounts.total_count"},
    # Radar's risk fields are on every real card charge's outcome.
    "charge": {"outcome.risk_level", "outcome.risk_score", "refunds.total_count"},
    # The card refund's acquirer reference (ARN) fields.
    "refund": {"destination_details.card.reference", "destination_details.card.reference_status",
               "destination_details.card.reference_type"},
}


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """What differs: missing or extra fields, and type mismatches where both are non-null."""
    found: list[str] = []
    if ours is None or theirs is None:
        return found
    if json_type(ours) != json_type(theirs):
        return [f"{path or '.'}: {json_type(ours)} here, {json_type(theirs)} in Stripe's example"]
    if isinstance(ours, dict):
        if path.split(".")[-1] in FREE_FORM or not theirs:
            return found
        for key in sorted(set(theirs) - set(ours)):
            found.append(f"{path}{'.' if path else ''}{key}: missing")
        for key in sorted(set(ours) - set(theirs)):
            found.append(f"{path}{'.' if path else ''}{key}: extra")
        for key in sorted(set(ours) & set(theirs)):
            found += differences(ours[key], theirs[key], f"{path}{'.' if path else ''}{key}")
    elif isinstance(ours, list) and ours and theirs:
        found += differences(ours[0], theirs[0], f"{path}[0]")
    return found


@pytest.fixture(scope="module")
def fixtures() -> dict[str, Any]:
    if not FIXTURES.exists():
        pytest.skip(f"{FIXTURES} is not beside the repository (it is in the project's shared folder)")
    return json.loads(FIXTURES.read_text())["resources"]


@pytest.fixture(scope="module")
def objects() -> Iterator[dict[str, dict[str, Any]]]:
    with serve_receiver() as receiver, serve_standin(receiver) as standin:
        yield make_objects(standin)


def make_objects(standin: Standin) -> dict[str, dict[str, Any]]:
    """One of every object type, made through the API, the hosted page and the controls."""
    session = paid_session(standin)
    seller = ready_account(standin)
    intent = standin.client.v1.payment_intents.retrieve(session.payment_intent)
    charge = standin.client.v1.charges.retrieve(intent.latest_charge)
    transfer = standin.client.v1.transfers.create({"amount": 100, "currency": "usd", "destination": seller.id,
                                                   "source_transaction": charge.id, "metadata": {"order_id": "7"}})
    refund = standin.client.v1.refunds.create({"payment_intent": intent.id, "amount": 100, "metadata": {"a": "b"}})
    dispute = standin.control("POST", "/disputes", {"payment_intent": intent.id})
    link = standin.client.v1.account_links.create({"account": seller.id, "type": "account_onboarding",
                                                   "refresh_url": "http://x.test/r", "return_url": "http://x.test/d"})
    items = standin.client.v1.checkout.sessions.line_items.list(session.id)
    standin.receiver.wait_for(lambda got: any(r.event["type"] == "charge.dispute.created" for r in got))
    retrieve = standin.client.v1
    return {  # the bodies as they came over the wire (the library turns some strings into Decimal)
        "account": wire(retrieve.accounts.retrieve(seller.id)),
        "account_link": wire(link),
        "checkout.session": wire(retrieve.checkout.sessions.retrieve(session.id)),
        "item": wire(items)["data"][0],
        "payment_intent": wire(retrieve.payment_intents.retrieve(intent.id)),
        "charge": wire(retrieve.charges.retrieve(charge.id)),
        "balance_transaction": wire(retrieve.balance_transactions.retrieve(charge.balance_transaction)),
        "balance": wire(retrieve.balance.retrieve()),
        "transfer": wire(transfer),
        "refund": wire(refund),
        "dispute": wire(retrieve.disputes.retrieve(dispute["id"])),
        # A platform event: deliveries arrive in any order, and a Connect event's extra ``account`` is the next
        # test's subject.
        "event": next(event for event in standin.receiver.events() if "account" not in event),
    }


def wire(obj: Any) -> dict[str, Any]:
    return json.loads(obj.last_response.body)


TYPES = ["account", "account_link", "checkout.session", "item", "payment_intent", "charge", "balance_transaction",
         "balance", "transfer", "refund", "dispute", "event"]


@pytest.mark.parametrize("kind", TYPES)
def test_same_fields_and_types_as_stripes_example(kind: str, objects: dict[str, Any], fixtures: dict[str, Any]) -> None:
    ours, theirs = objects[kind], fixtures[kind]
    allowed = {f"{name}: extra" for name in KNOWN_EXTRAS.get(kind, set())}
    if kind == "event":  # the envelope here; what it carries is compared with its own type's example
        assert set(ours["data"]) <= {"object", "previous_attributes"}
        carried = ours["data"]["object"]["object"]
        inner = {f"{name}: extra" for name in KNOWN_EXTRAS.get(carried, set())}
        assert [d for d in differences(ours["data"]["object"], fixtures[carried]) if d not in inner] == []
        ours, theirs = {**ours, "data": {}}, {**theirs, "data": {}}
    found = [d for d in differences(ours, theirs) if d not in allowed]
    assert found == [], f"{kind} differs from Stripe's example:\n" + "\n".join(found)
    if "object" in theirs:
        assert ours["object"] == theirs["object"]
    if "id" in theirs:
        assert ours["id"].split("_")[0] == theirs["id"].split("_")[0]  # the same id prefix


def test_connect_events_carry_the_account_and_nothing_else_extra(standin: Standin, fixtures: dict[str, Any]) -> None:
    ready_account(standin)
    event = standin.receiver.wait_for(lambda got: len(got) >= 1)[0].event
    assert set(event) - set(fixtures["event"]) == {"account"}
    assert set(fixtures["event"]) - set(event) == set()
    allowed = {f"{name}: extra" for name in KNOWN_EXTRAS["account"]}
    assert [d for d in differences(event["data"]["object"], fixtures["account"]) if d not in allowed] == []


def test_the_comparison_notices_a_difference() -> None:
    assert differences({"a": 1, "b": {"c": "x"}}, {"a": "1", "b": {"c": "y", "d": None}}) == ["a: number here, str in Stripe's example",
                                                                                               "b.d: missing"]
    assert differences({"metadata": {"x": "1"}}, {"metadata": {"y": "2"}}) == []
