"""Unit tests of the helpers: reads lookup, unknown-field detection and draft examples."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from contractkit import draft_example, lookup_field, unknown_fields
from pydantic import Field

from homecraft_shared.messaging.contracts import EventContract, EventData
from homecraft_shared.messaging.envelope import EventEnvelope


class Line(EventData):
    line_id: str
    amount_cents: int = Field(ge=0)
    refund_id: str | None = None


class Shipping(EventData):
    city: str


class Probe(EventData):
    order_id: str
    status: Literal["paid", "refunded"]
    lines: list[Line]
    shipping: Shipping | None = None
    totals: dict[str, int] = {}
    rating: int = Field(ge=1, le=5)
    code: str = Field(min_length=8)
    placed_at: dt.datetime
    currency: str = "usd"


PROBE = EventContract("probe.tested", 1, "orders", Probe, "a probe")
SCHEMA = Probe.model_json_schema()


def test_lookup_finds_top_level_and_nested_fields() -> None:
    assert lookup_field(SCHEMA, "order_id").found
    assert lookup_field(SCHEMA, "order_id").required
    for spelling in ("lines.amount_cents", "lines[].amount_cents", "lines.*.amount_cents"):
        found = lookup_field(SCHEMA, spelling)
        assert found.found and found.required and not found.nullable, spelling


def test_lookup_reports_optional_and_nullable_fields() -> None:
    currency = lookup_field(SCHEMA, "currency")
    assert currency.found and not currency.required and not currency.nullable
    refund = lookup_field(SCHEMA, "lines.refund_id")
    assert refund.found and not refund.required and refund.nullable
    city = lookup_field(SCHEMA, "shipping.city")
    assert city.found and not city.required and city.nullable  # the parent may be null or absent


def test_lookup_reports_what_is_missing() -> None:
    missing = lookup_field(SCHEMA, "lines.sku")
    assert not missing.found
    assert missing.missing_at == "lines.sku"
    assert set(missing.available) == {"line_id", "amount_cents", "refund_id"}
    assert not lookup_field(SCHEMA, "status.value").found


def test_unknown_fields_finds_typos_at_any_depth() -> None:
    data = {"order_id": "o1", "lines": [{"line_id": "l1", "amount_cnts": 5}], "shiping": None,
            "shipping": {"city": "Oslo", "zip": "0150"}, "totals": {"usd": 5}}
    assert unknown_fields(SCHEMA, SCHEMA, data) == ["data.lines[0].amount_cnts", "data.shiping", "data.shipping.zip"]


def test_draft_example_is_a_valid_full_envelope() -> None:
    draft = draft_example(PROBE)
    envelope = EventEnvelope.model_validate(draft)
    assert set(draft) == set(EventEnvelope.model_fields)
    assert (envelope.type, envelope.version, envelope.source) == ("probe.tested", 1, "orders")
    parsed = Probe.model_validate(envelope.data)
    assert parsed.currency == "usd"  # defaults are kept
    assert envelope.subject_id == parsed.order_id
    assert set(envelope.data) == set(SCHEMA["properties"])
    assert unknown_fields(SCHEMA, SCHEMA, envelope.data) == []
