"""Each consumer's expectations: every field a handler says it ``reads`` is in the producer's schema.

The registries are imported from every service (``<service>.handlers``), so a handler registered
there is checked here without any change to this file.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from contractkit import SERVICES, ServiceHandlers, load_handlers, lookup_field

from homecraft_shared.messaging.consumer import Handler
from homecraft_shared.messaging.contracts import CONTRACTS

REGISTRIES: dict[str, ServiceHandlers] = {service: load_handlers(service) for service in SERVICES}

CASES = [
    pytest.param(loaded, handler, id=f"{service}<-{handler.contract.subject}")
    for service, loaded in REGISTRIES.items()
    if loaded.registry is not None
    for handler in loaded.registry.handlers()
]


@pytest.mark.parametrize("service", SERVICES)
def test_service_exposes_its_handlers(service: str) -> None:
    loaded = REGISTRIES[service]
    assert loaded.error is None, loaded.error
    assert loaded.registry is not None
    assert loaded.registry.consumer_name == service, (
        f"{loaded.handlers_file}: HandlerRegistry(consumer_name={loaded.registry.consumer_name!r}) must be "
        f"{service!r}: it names the durable consumers and the inbox rows")


@pytest.mark.parametrize(("loaded", "handler"), CASES)
def test_handled_event_is_a_registered_contract(loaded: ServiceHandlers, handler: Handler) -> None:
    contract = handler.contract
    assert CONTRACTS.get(contract.type, contract.version) is contract
    assert contract.producer in SERVICES


@pytest.mark.parametrize(("loaded", "handler"), CASES)
def test_consumer_reads_fields_the_producer_publishes(
    loaded: ServiceHandlers, handler: Handler, note: Callable[[str], None]
) -> None:
    contract = handler.contract
    schema = contract.json_schema()
    who = f"{loaded.service} <- {contract.subject} ({contract.producer})"
    if not handler.reads:
        note(f"{who}: the handler declares no `reads`; nothing of the data is checked")
    missing = []
    for name in handler.reads:
        found = lookup_field(schema, name)
        if not found.found:
            available = ", ".join(found.available) or "(none)"
            missing.append(f"  - {name!r}: no field {found.missing_at!r}; the schema has: {available}")
            continue
        caveats = [text for flag, text in ((not found.required, "optional: absent in the data, the model's default "
                                                 "applies"), (found.nullable, "nullable: may be null")) if flag]
        if caveats:
            note(f"{who}: reads {name!r}, which is not a required field ({'; '.join(caveats)}); handle that case")
    if missing:
        pytest.fail(
            f"{who}: the handler in {loaded.handlers_file} reads fields that {contract.producer} does not publish "
            f"in {contract.subject}:\n" + "\n".join(missing) + "\nFix `reads=` (and the handler), or have "
            f"{contract.producer} add the field: as an optional field of v{contract.version}, or in a new version.",
            pytrace=False,
        )
