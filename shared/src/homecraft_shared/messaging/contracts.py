"""The registry of versioned event contracts.

A contract is a pydantic model for an event's ``data`` plus its type, version and single producer.
Contracts live in ``homecraft_shared.events`` (one module per producing service) and are
snapshotted and checked in ``tests/contract``. A breaking change is a new version registered beside
the old one, never an edit of a published one.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from homecraft_shared.messaging.envelope import subject_for


class EventData(BaseModel):
    """Base of every contract's data model: consumers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)


@dataclass(frozen=True)
class EventContract:
    type: str
    version: int
    producer: str
    data_model: builtins.type[EventData]  # "type" alone would be the field above
    description: str
    # Held by NATS in memory, not on disk (no fsync before the ack): only for an event whose producer keeps
    # what it says in a store of its own and sends it again when NATS lost it (decision 0327).
    held_in_memory: bool = False

    @property
    def subject(self) -> str:
        return subject_for(self.type, self.version)

    @property
    def key(self) -> tuple[str, int]:
        return (self.type, self.version)

    def json_schema(self) -> dict[str, Any]:
        return self.data_model.model_json_schema()

    def parse(self, data: dict[str, Any]) -> EventData:
        return self.data_model.model_validate(data)


class ContractRegistry:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, int], EventContract] = {}
        self._by_model: dict[type[EventData], EventContract] = {}

    def register(self, contract: EventContract) -> None:
        existing = self._by_key.get(contract.key)
        if existing is not None and existing.data_model is not contract.data_model:
            raise ValueError(f"event contract {contract.subject} is registered twice")
        producers = {c.producer for c in self._by_key.values() if c.type == contract.type}
        if producers - {contract.producer}:
            raise ValueError(f"{contract.type} already has producer {producers}; one producer per type")
        self._by_key[contract.key] = contract
        self._by_model[contract.data_model] = contract

    def get(self, event_type: str, version: int) -> EventContract:
        try:
            return self._by_key[(event_type, version)]
        except KeyError:
            raise KeyError(f"no event contract {subject_for(event_type, version)}") from None

    def for_model(self, model: type[EventData]) -> EventContract:
        return self._by_model[model]

    def for_producer(self, producer: str) -> list[EventContract]:
        return [c for c in self._by_key.values() if c.producer == producer]

    def __iter__(self) -> Iterator[EventContract]:
        return iter(sorted(self._by_key.values(), key=lambda c: c.key))


CONTRACTS = ContractRegistry()

ModelT = TypeVar("ModelT", bound=type[EventData])


def event_contract(event_type: str, version: int, *, producer: str, description: str,
                   held_in_memory: bool = False) -> Callable[[ModelT], ModelT]:
    """Class decorator registering an ``EventData`` model as the contract for type/version."""

    def register(model: ModelT) -> ModelT:
        CONTRACTS.register(EventContract(event_type, version, producer, model, description, held_in_memory))
        return model

    return register
