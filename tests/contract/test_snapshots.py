"""Every contract has a committed JSON Schema snapshot, and today's schema is compatible with it."""

from __future__ import annotations

import pytest
from contractkit import (
    META_PRODUCER,
    META_TYPE,
    META_VERSION,
    REFRESH_COMMAND,
    UPDATE_COMMAND,
    contracts,
    load_json,
    parse_stem,
    snapshot_document,
    snapshot_files,
    snapshot_path,
    walk_schema,
)
from schema_compat import breaking_changes, normalized

from homecraft_shared.messaging.contracts import CONTRACTS, EventContract

CONTRACTS_NOW = contracts()


def by_subject(contract: EventContract) -> str:
    return contract.subject


def published(contract: EventContract, *, report_missing: bool = False) -> dict:
    path = snapshot_path(contract)
    if not path.exists() and not report_missing:
        pytest.skip(f"no snapshot yet: reported by test_contract_has_a_snapshot[{contract.subject}]")
    if not path.exists():
        pytest.fail(
            f"{contract.subject} ({contract.producer}) has no snapshot {path.name}. A new contract needs one: "
            f"run `{UPDATE_COMMAND}` from the repository root; it writes tests/contract/snapshots/{path.name} and a "
            f"draft tests/contract/examples/{path.name} (edit its values), then commit both.",
            pytrace=False,
        )
    return load_json(path)


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_contract_has_a_snapshot(contract: EventContract) -> None:
    published(contract, report_missing=True)


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_schema_is_compatible_with_its_snapshot(contract: EventContract) -> None:
    problems = breaking_changes(published(contract), contract.json_schema())
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        pytest.fail(
            f"{contract.subject} changed incompatibly since it was published:\n{listing}\n"
            f"A published contract is never edited incompatibly. Restore {contract.data_model.__name__} and register "
            f"{contract.type} version {contract.version + 1} beside it (a new model class with "
            f"@event_contract({contract.type!r}, {contract.version + 1}, ...)); the producer publishes both until "
            f"every consumer has moved, then run `{UPDATE_COMMAND}`.",
            pytrace=False,
        )


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_snapshot_names_the_contract_and_its_producer(contract: EventContract) -> None:
    document = published(contract)
    assert (document.get(META_TYPE), document.get(META_VERSION)) == (contract.type, contract.version), (
        f"{snapshot_path(contract).name} describes {document.get(META_TYPE)} v{document.get(META_VERSION)}")
    assert document.get(META_PRODUCER) == contract.producer, (
        f"{contract.subject} was published by {document.get(META_PRODUCER)}, now claims producer {contract.producer}: "
        "moving an event type to another producer moves it to another stream, which its consumers do not read. "
        "Introduce a new event type instead.")


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_snapshot_records_the_latest_compatible_shape(contract: EventContract) -> None:
    """After a compatible change (an optional field added) the snapshot must be refreshed, or a later
    removal of that field would go unnoticed."""
    document = published(contract)
    if breaking_changes(document, contract.json_schema()):
        pytest.skip("incompatible: reported by test_schema_is_compatible_with_its_snapshot")
    if normalized(document) != normalized(snapshot_document(contract)):
        pytest.fail(
            f"{contract.subject} changed compatibly, but the snapshot still has the old shape. Record it: "
            f"`{REFRESH_COMMAND}` (and show the new fields in examples/{snapshot_path(contract).name}).",
            pytrace=False,
        )


def test_every_snapshot_belongs_to_a_registered_contract() -> None:
    """Removing a published version (or renaming its type) breaks whoever still consumes it."""
    orphans = []
    for path in snapshot_files():
        event_type, version = parse_stem(path)
        try:
            CONTRACTS.get(event_type, version)
        except KeyError:
            orphans.append(path.name)
    assert not orphans, (
        f"published contracts no longer registered: {', '.join(orphans)}. Keep the old version registered "
        "beside its successor while anyone may consume it; retire it deliberately by deleting its snapshot "
        "and example once no consumer handles it.")


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_contract_lets_consumers_ignore_unknown_fields(contract: EventContract) -> None:
    """Adding an optional field is only compatible while consumers ignore fields they do not know."""
    schema = contract.json_schema()
    closed = [path for path, node in walk_schema(schema, schema) if node.get("additionalProperties") is False]
    assert not closed, (
        f"{contract.subject}: {', '.join(closed)} forbid unknown fields (extra='forbid'); contracts must "
        "derive from EventData and keep extra='ignore'")
