"""The event contract registry: versioned contracts, one producer per event type."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from testsvc import ItemRecordedV1

from homecraft_shared.messaging.consumer import ConsumedStream, HandlerRegistry
from homecraft_shared.messaging.contracts import CONTRACTS, ContractRegistry, EventContract, EventData
from homecraft_shared.messaging.jetstream import stream_config


class WidgetMadeV1(EventData):
    widget_id: str


class WidgetMadeV2(EventData):
    widget_id: str
    colour: str


def _contract(model: type[EventData], version: int = 1, producer: str = "factory") -> EventContract:
    return EventContract("widget.made", version, producer, model, "test")


def test_a_second_producer_for_a_type_is_refused() -> None:
    registry = ContractRegistry()
    registry.register(_contract(WidgetMadeV1))
    with pytest.raises(ValueError, match="one producer per type"):
        registry.register(_contract(WidgetMadeV2, version=2, producer="rival"))
    with pytest.raises(ValueError, match="one producer per type"):
        registry.register(_contract(WidgetMadeV1, producer="rival"))
    assert [c.producer for c in registry] == ["factory"]


def test_a_new_version_by_the_same_producer_sits_beside_the_old() -> None:
    registry = ContractRegistry()
    registry.register(_contract(WidgetMadeV1))
    registry.register(_contract(WidgetMadeV2, version=2))
    assert [c.subject for c in registry] == ["widget.made.v1", "widget.made.v2"]
    assert registry.get("widget.made", 2).data_model is WidgetMadeV2
    assert {c.subject for c in registry.for_producer("factory")} == {"widget.made.v1", "widget.made.v2"}


def test_a_published_version_cannot_be_redefined() -> None:
    registry = ContractRegistry()
    registry.register(_contract(WidgetMadeV1))
    registry.register(_contract(WidgetMadeV1))  # the same model again (a re-import) is harmless
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(_contract(WidgetMadeV2, version=1))


def test_unknown_contract_lookups_fail_clearly() -> None:
    registry = ContractRegistry()
    with pytest.raises(KeyError, match=r"no event contract widget\.made\.v9"):
        registry.get("widget.made", 9)


def test_the_global_registry_holds_the_test_contract_and_derives_its_stream() -> None:
    contract = CONTRACTS.for_model(ItemRecordedV1)
    assert (contract.type, contract.version, contract.producer) == ("test_item.recorded", 1, "testsvc")
    assert CONTRACTS.get("test_item.recorded", 1) is contract
    config = stream_config("testsvc")
    assert config.name == "EVENTS_TESTSVC"
    assert config.subjects == ["test_item.recorded.v1"]
    with pytest.raises(ValueError, match="produces no registered event contracts"):
        stream_config("nobody")


def test_contract_parsing_ignores_unknown_fields_and_rejects_missing_ones() -> None:
    contract = CONTRACTS.for_model(ItemRecordedV1)
    parsed = contract.parse({"item_id": "a", "quantity": 2, "added_later": True})
    assert parsed == ItemRecordedV1(item_id="a", quantity=2)
    with pytest.raises(ValidationError):
        contract.parse({"item_id": "a"})


def test_a_consumer_registers_one_handler_per_contract() -> None:
    registry = HandlerRegistry("someone")

    @registry.on(ItemRecordedV1, reads=("item_id",))
    async def first(*_: object) -> None: ...

    with pytest.raises(ValueError, match=r"already handles test_item\.recorded\.v1"):
        registry.on(ItemRecordedV1, reads=())(first)
    assert registry.streams() == [ConsumedStream("testsvc", "EVENTS_TESTSVC", ["test_item.recorded.v1"])]
    assert registry.get("test_item.recorded", 1).reads == ("item_id",)  # type: ignore[union-attr]
