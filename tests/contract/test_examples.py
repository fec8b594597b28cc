"""Every contract has a committed example event, a full envelope that the producer could publish."""

from __future__ import annotations

import pytest
from contractkit import (
    UPDATE_COMMAND,
    contracts,
    example_files,
    example_path,
    load_json,
    parse_stem,
    unknown_fields,
)

from homecraft_shared.messaging.contracts import CONTRACTS, EventContract
from homecraft_shared.messaging.envelope import EventEnvelope

CONTRACTS_NOW = contracts()


def by_subject(contract: EventContract) -> str:
    return contract.subject


def example(contract: EventContract, *, report_missing: bool = False) -> dict:
    path = example_path(contract)
    if not path.exists() and not report_missing:
        pytest.skip(f"no example yet: reported by test_example_is_a_full_envelope[{contract.subject}]")
    if not path.exists():
        pytest.fail(
            f"{contract.subject} has no example event {path.name}. Run `{UPDATE_COMMAND}` from the repository "
            f"root for a draft tests/contract/examples/{path.name}, give it realistic values, and commit it.",
            pytrace=False,
        )
    return load_json(path)


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_example_is_a_full_envelope(contract: EventContract) -> None:
    raw = example(contract, report_missing=True)
    expected = set(EventEnvelope.model_fields)
    assert set(raw) == expected, (
        f"{example_path(contract).name}: envelope keys missing {sorted(expected - set(raw))}, "
        f"unknown {sorted(set(raw) - expected)}")
    envelope = EventEnvelope.model_validate(raw)
    assert (envelope.type, envelope.version) == (contract.type, contract.version)
    assert envelope.source == contract.producer, f"source must be the producer, {contract.producer}"
    assert envelope.occurred_at.tzinfo is not None, "occurred_at must carry a time zone (UTC)"
    assert envelope.subject_id, "subject_id names the aggregate the event is about"


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_example_data_validates_against_the_contract(contract: EventContract) -> None:
    raw = example(contract)
    envelope = EventEnvelope.model_validate(raw)
    parsed = contract.parse(envelope.data)
    # What the producer's outbox would publish for the same data must parse back to the same event.
    assert contract.parse(parsed.model_dump(mode="json")) == parsed
    schema = contract.json_schema()
    unknown = unknown_fields(schema, schema, envelope.data)
    assert not unknown, (
        f"{example_path(contract).name} has fields the contract does not declare (ignored silently, so "
        f"probably a typo): {', '.join(unknown)}")


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_example_shows_every_field(contract: EventContract) -> None:
    data = example(contract)["data"]
    missing = [name for name in contract.json_schema().get("properties", {}) if name not in data]
    assert not missing, (
        f"{example_path(contract).name} leaves out {', '.join(missing)}; show every field so consumers "
        "see a complete event")


def test_every_example_belongs_to_a_registered_contract() -> None:
    orphans = []
    for path in example_files():
        event_type, version = parse_stem(path)
        try:
            CONTRACTS.get(event_type, version)
        except KeyError:
            orphans.append(path.name)
    assert not orphans, f"examples of unregistered contracts: {', '.join(orphans)}"


def test_example_ids_are_unique() -> None:
    ids = [load_json(path)["id"] for path in example_files()]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"example events share ids (the dedupe key): {duplicates}"
