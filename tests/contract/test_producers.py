"""Exactly one producer per event type, and each producer's JetStream stream carries exactly its events."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict

import pytest
from contractkit import META_PRODUCER, META_TYPE, SERVICES, contracts, load_json, snapshot_files
from nats.js.api import StorageType

from homecraft_shared.messaging.contracts import CONTRACTS, EventContract
from homecraft_shared.messaging.jetstream import stream_config, stream_configs, stream_name

CONTRACTS_NOW = contracts()
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def by_subject(contract: EventContract) -> str:
    return contract.subject


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_producer_is_a_real_service(contract: EventContract) -> None:
    assert contract.producer in SERVICES, (
        f"{contract.subject}: producer {contract.producer!r} is not one of {', '.join(SERVICES)}")


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_contract_lives_in_its_producers_module(contract: EventContract) -> None:
    expected = f"homecraft_shared.events.{contract.producer}"
    assert contract.data_model.__module__ == expected, (
        f"{contract.subject} is defined in {contract.data_model.__module__}; a producer's contracts live in {expected}")


@pytest.mark.parametrize("contract", CONTRACTS_NOW, ids=by_subject)
def test_event_type_is_entity_dot_past_verb(contract: EventContract) -> None:
    assert EVENT_TYPE.match(contract.type), f"{contract.type!r} is not `entity.past_verb` (lower case, one dot)"
    assert contract.version >= 1
    assert contract.description.strip(), f"{contract.subject} needs a description"


def test_each_event_type_has_exactly_one_producer() -> None:
    producers: dict[str, set[str]] = defaultdict(set)
    for contract in CONTRACTS_NOW:
        producers[contract.type].add(contract.producer)
    for path in snapshot_files():  # the published history counts too
        document = load_json(path)
        if document.get(META_TYPE) and document.get(META_PRODUCER):
            producers[document[META_TYPE]].add(document[META_PRODUCER])
    shared = {event_type: sorted(names) for event_type, names in producers.items() if len(names) > 1}
    assert not shared, f"event types with more than one producer: {shared}"


def test_importing_the_events_package_registers_every_contract() -> None:
    """Services register contracts by importing ``homecraft_shared.events``; a producer module left
    out of its ``__init__`` would exist in tests but not in a running service."""
    probe = ("import homecraft_shared.events\n"
             "from homecraft_shared.messaging.contracts import CONTRACTS\n"
             "print('\\n'.join(c.subject for c in CONTRACTS))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    in_fresh_process = set(result.stdout.split())
    import pkgutil

    import homecraft_shared.events as events

    for module in pkgutil.iter_modules(events.__path__):
        __import__(f"{events.__name__}.{module.name}")
    everything = {c.subject for c in CONTRACTS}
    missing = sorted(everything - in_fresh_process)
    assert not missing, (
        f"{', '.join(missing)} are registered only when their module is imported directly; "
        "import the module in homecraft_shared/events/__init__.py")


@pytest.mark.parametrize("producer", SERVICES)
def test_streams_cover_exactly_the_producers_subjects(producer: str) -> None:
    """On disk unless the contract is held in memory (decision 0327); each of the producer's streams lists its
    subjects exactly."""
    own = CONTRACTS.for_producer(producer)
    if not own:
        with pytest.raises(ValueError):
            stream_configs(producer)
        return
    configs = {config.storage: config for config in stream_configs(producer)}
    on_disk = sorted(c.subject for c in own if not c.held_in_memory)
    in_memory = sorted(c.subject for c in own if c.held_in_memory)
    assert sorted(configs) == sorted(([StorageType.FILE] if on_disk else []) + ([StorageType.MEMORY] if in_memory else []))
    if on_disk:
        config = configs[StorageType.FILE]
        assert config.name == stream_name(producer) == f"EVENTS_{producer.upper()}"
        assert config.subjects == on_disk
        assert stream_config(producer, replicas=3).num_replicas == 3
    if in_memory:
        config = configs[StorageType.MEMORY]
        assert config.name == stream_name(producer, in_memory=True) == f"EVENTS_{producer.upper()}_IN_MEMORY"
        assert config.subjects == in_memory
        assert config.max_bytes and config.max_bytes > 0, "a stream in memory has a bound"
    for config in configs.values():
        assert all("*" not in s and ">" not in s for s in config.subjects or []), "streams list exact subjects"
        assert config.duplicate_window and config.duplicate_window > 0
        assert config.max_age and config.max_age >= config.duplicate_window


def test_no_subject_is_in_two_streams() -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for producer in SERVICES:
        if CONTRACTS.for_producer(producer):
            for config in stream_configs(producer):
                for subject in config.subjects or []:
                    owners[subject].append(str(config.name))
    assert {s for s, names in owners.items() if len(names) > 1} == set()
    assert set(owners) == {c.subject for c in CONTRACTS}
