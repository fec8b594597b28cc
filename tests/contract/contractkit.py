"""What the contract tests and ``update_snapshots.py`` share: where files live, how a snapshot and a
draft example are made, and how a consumer's ``reads`` are looked up in a producer's schema."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schema_compat import Schema, branches, enum_values, kind, ref_name, resolve

import homecraft_shared.events  # noqa: F401  (registers every event contract)
from homecraft_shared.messaging.consumer import HandlerRegistry
from homecraft_shared.messaging.contracts import CONTRACTS, EventContract

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SNAPSHOTS = HERE / "snapshots"
EXAMPLES = HERE / "examples"

# Every deployable service; also the only valid producers and consumer names.
SERVICES = ("catalog", "orders", "payments", "refunds", "engagement", "gateway")

UPDATE_COMMAND = ".venv/bin/python tests/contract/update_snapshots.py"
REFRESH_COMMAND = f"{UPDATE_COMMAND} --refresh-compatible"

# Keys the snapshot adds beside the JSON Schema (extension keywords: validators ignore them).
META_TYPE, META_VERSION, META_PRODUCER = "x-event-type", "x-event-version", "x-producer"


def contracts() -> list[EventContract]:
    return list(CONTRACTS)


def file_stem(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def snapshot_path(contract: EventContract) -> Path:
    return SNAPSHOTS / f"{file_stem(contract.type, contract.version)}.json"


def example_path(contract: EventContract) -> Path:
    return EXAMPLES / f"{file_stem(contract.type, contract.version)}.json"


def parse_stem(path: Path) -> tuple[str, int]:
    """``review.posted.v1.json`` -> ("review.posted", 1)."""
    stem = path.name.removesuffix(".json")
    event_type, _, version = stem.rpartition(".v")
    if not event_type or not version.isdigit():
        raise ValueError(f"{path.name} is not named <type>.v<version>.json")
    return event_type, int(version)


def snapshot_document(contract: EventContract) -> dict[str, Any]:
    """The snapshot written for a contract: its data JSON Schema plus who publishes it under what name."""
    return {
        META_TYPE: contract.type,
        META_VERSION: contract.version,
        META_PRODUCER: contract.producer,
        **contract.json_schema(),
    }


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def dump_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def snapshot_files() -> list[Path]:
    return sorted(SNAPSHOTS.glob("*.json"))


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json"))


# --------------------------------------------------------------------------------------------------
# Consumers


@dataclass(frozen=True)
class ServiceHandlers:
    service: str
    registry: HandlerRegistry | None
    error: str | None

    @property
    def handlers_file(self) -> str:
        base = "gateway" if self.service == "gateway" else f"services/{self.service}"
        return f"{base}/src/{self.service}/handlers.py"


def load_handlers(service: str) -> ServiceHandlers:
    """Import ``<service>.handlers`` and return its ``handlers`` registry (or why it could not)."""
    try:
        module = importlib.import_module(f"{service}.handlers")
    except Exception as exc:
        return ServiceHandlers(service, None, f"importing {service}.handlers failed: {exc!r}")
    registry = getattr(module, "handlers", None)
    if not isinstance(registry, HandlerRegistry):
        return ServiceHandlers(service, None, f"{service}.handlers has no HandlerRegistry named `handlers`")
    return ServiceHandlers(service, registry, None)


@dataclass(frozen=True)
class FieldLookup:
    """Where a dotted ``reads`` name leads in a schema."""

    found: bool
    required: bool = True
    nullable: bool = False
    missing_at: str = ""
    available: tuple[str, ...] = ()


def lookup_field(schema: Schema, dotted: str) -> FieldLookup:
    """Find ``a.b.c`` in a data schema; arrays are stepped through (``lines.amount_cents`` reads
    each line's amount; ``lines[].amount_cents`` and ``lines.*.amount_cents`` say the same)."""
    node: Schema = schema
    required = True
    nullable = False
    walked: list[str] = []
    for raw in dotted.split("."):
        name = raw.removesuffix("[]")
        if name == "*":
            continue
        node, node_nullable = _step_into_object(node, schema)
        nullable = nullable or node_nullable
        properties = node.get("properties", {})
        if name not in properties:
            return FieldLookup(False, missing_at=".".join([*walked, name]), available=tuple(properties))
        required = required and name in node.get("required", ())
        node = properties[name]
        walked.append(name)
    nullable = nullable or any(kind(b) == "null" for b in branches(node, schema))
    return FieldLookup(True, required=required, nullable=nullable)


def _step_into_object(node: Schema, root: Schema) -> tuple[Schema, bool]:
    """From a field's schema to the object whose properties come next (through arrays and Optional)."""
    nullable = False
    while True:
        options = branches(node, root)
        non_null = [b for b in options if kind(b) != "null"]
        nullable = nullable or len(non_null) < len(options)
        if len(non_null) != 1:
            return {}, nullable
        node = resolve(non_null[0], root)
        if kind(node) == "array" and isinstance(node.get("items"), dict):
            node = node["items"]
            continue
        return node, nullable


# --------------------------------------------------------------------------------------------------
# Draft examples for new contracts


EXAMPLE_TIME = "2025-06-01T12:00:00Z"


def draft_example(contract: EventContract) -> dict[str, Any]:
    """A full envelope whose data is generated from the schema; a starting point to edit by hand."""
    schema = contract.json_schema()
    data = _example_value(schema, schema, "data", depth=0)
    subject_id = next(
        (str(data[name]) for name in schema.get("properties", {}) if name.endswith("_id") and name in data),
        "subject-1",
    )
    return {
        "id": str(uuid.uuid4()),
        "type": contract.type,
        "version": contract.version,
        "source": contract.producer,
        "occurred_at": EXAMPLE_TIME,
        "correlation_id": str(uuid.uuid4()),
        "causation_id": None,
        "subject_id": subject_id,
        "data": data,
    }


def _example_value(node: Schema, root: Schema, name: str, depth: int) -> Any:
    if node.get("default") is not None:
        return node["default"]
    options = [b for b in branches(node, root) if kind(b) != "null"]
    if not options:
        return None
    node = resolve(options[0], root)
    values = enum_values(node)
    if values:
        return values[0]
    node_kind = kind(node)
    if depth > 6:
        return None
    if node_kind == "object":
        properties = node.get("properties", {})
        if properties:
            return {key: _example_value(sub, root, key, depth + 1) for key, sub in properties.items()}
        extra = node.get("additionalProperties")
        return {"key": _example_value(extra, root, "value", depth + 1)} if isinstance(extra, dict) else {}
    if node_kind == "array":
        items = node.get("items")
        return [_example_value(items, root, name.removesuffix("s"), depth + 1)] if isinstance(items, dict) else []
    if node_kind == "integer":
        return _number(node, 1)
    if node_kind == "number":
        return float(_number(node, 1))
    if node_kind == "boolean":
        return True
    if node_kind == "string":
        return _string(node, name)
    return f"example-{name}"


def _number(node: Schema, fallback: int) -> int:
    if "minimum" in node:
        value = max(int(node["minimum"]), fallback)
    elif "exclusiveMinimum" in node:
        value = max(int(node["exclusiveMinimum"]) + 1, fallback)
    else:
        value = fallback
    if "maximum" in node:
        value = min(value, int(node["maximum"]))
    return value


def _string(node: Schema, name: str) -> str:
    fmt = node.get("format")
    if fmt == "date-time":
        return EXAMPLE_TIME
    if fmt == "date":
        return EXAMPLE_TIME[:10]
    if fmt == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    if fmt == "email":
        return "buyer@example.com"
    if fmt in ("uri", "url"):
        return "https://example.com/"
    value = f"{name.removesuffix('_id')}_1" if name.endswith("_id") else f"example {name.replace('_', ' ')}"
    minimum, maximum = node.get("minLength", 0), node.get("maxLength")
    value = value.ljust(minimum, "x")
    return value[:maximum] if maximum else value


def walk_schema(node: Schema, root: Schema, path: str = "data", seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, Schema]]:
    """Every (path, resolved node) in a schema, through objects, arrays, dict values and unions."""
    ref = ref_name(node)
    if ref in seen:
        return
    if ref:
        seen = seen | {ref}
    for option in branches(node, root):
        option = resolve(option, root)
        yield path, option
        for name, sub in option.get("properties", {}).items():
            yield from walk_schema(sub, root, f"{path}.{name}", seen)
        for key, suffix in (("items", "[]"), ("additionalProperties", "{*}")):
            sub = option.get(key)
            if isinstance(sub, dict):
                yield from walk_schema(sub, root, f"{path}{suffix}", seen)


def unknown_fields(node: Schema, root: Schema, value: Any, path: str = "data") -> list[str]:
    """Paths in ``value`` that the schema does not declare (typos a lenient model would ignore)."""
    options = [resolve(b, root) for b in branches(node, root)]
    if isinstance(value, dict):
        objects = [o for o in options if kind(o) == "object"]
        found: list[str] = []
        for key, sub in value.items():
            declared = [o["properties"][key] for o in objects if key in o.get("properties", {})]
            extra = [o["additionalProperties"] for o in objects if isinstance(o.get("additionalProperties"), dict)]
            if declared or extra:
                found.extend(unknown_fields((declared or extra)[0], root, sub, f"{path}.{key}"))
            else:
                found.append(f"{path}.{key}")
        return found
    if isinstance(value, list):
        items = next((o["items"] for o in options if kind(o) == "array" and isinstance(o.get("items"), dict)), None)
        if items is None:
            return []
        return [p for index, item in enumerate(value) for p in unknown_fields(items, root, item, f"{path}[{index}]")]
    return []
