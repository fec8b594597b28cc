"""Stripe's request encoding: ``application/x-www-form-urlencoded`` with bracketed nesting
(``line_items[0][price_data][currency]=usd``, ``metadata[order_id]=7``, ``expand[0]=x``), decoded
into nested values and checked against a small schema per endpoint, so a misspelt parameter is
refused with Stripe's own "Received unknown parameter" error instead of being ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from stripe_standin.errors import invalid, missing, unknown

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def decode(raw: str | bytes) -> dict[str, Any]:
    """Nested dicts from bracketed keys; list positions stay dict keys ("0", "1", or "" for ``[]``)
    until the schema says the value is a list."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    result: dict[str, Any] = {}
    appended: dict[int, int] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = _KEY.match(key)
        if not match:
            raise invalid(key, f"Invalid parameter name: {key}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = result
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            if part == "":  # name[] appends
                counter = appended.get(id(node), 0)
                appended[id(node)] = counter + 1
                part = str(counter)
            if last:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(key, f"Invalid parameter: {key} mixes a value and a hash")
                node = child
    return result


class Spec:
    def coerce(self, value: Any, name: str) -> Any:
        raise NotImplementedError


class Str(Spec):
    def __init__(self, max_length: int = 5000) -> None:
        self.max_length = max_length

    def coerce(self, value: Any, name: str) -> Any:
        if not isinstance(value, str):
            raise invalid(name, f"Invalid string: {name} must be a string")
        if len(value) > self.max_length:
            raise invalid(name, f"Invalid string: {name} must be at most {self.max_length} characters")
        return value


class Int(Spec):
    def __init__(self, minimum: int | None = None) -> None:
        self.minimum = minimum

    def coerce(self, value: Any, name: str) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
            raise invalid(name, f"Invalid integer: {value if isinstance(value, str) else '(hash)'}",
                          code="parameter_invalid_integer")
        number = int(value)
        if self.minimum is not None and number < self.minimum:
            raise invalid(name, f"This value must be greater than or equal to {self.minimum}.")
        return number


class Bool(Spec):
    def coerce(self, value: Any, name: str) -> Any:
        if value not in ("true", "false"):
            raise invalid(name, f"Invalid boolean: {value if isinstance(value, str) else '(hash)'}")
        return value == "true"


class Enum(Spec):
    def __init__(self, *values: str) -> None:
        self.values = values

    def coerce(self, value: Any, name: str) -> Any:
        if value not in self.values:
            shown = value if isinstance(value, str) else "(hash)"
            raise invalid(name, f"Invalid {name}: must be one of {', '.join(self.values)} (got {shown})")
        return value


class Metadata(Spec):
    """String keys to string values; an empty string (or ``metadata=""``) unsets. On an update
    (``keep_unset``) the empty values stay, so the update can remove those keys."""

    def __init__(self, keep_unset: bool = False) -> None:
        self.keep_unset = keep_unset

    def coerce(self, value: Any, name: str) -> Any:
        if value == "":
            return {}
        if not isinstance(value, dict) or any(not isinstance(v, str) for v in value.values()):
            raise invalid(name, "Invalid metadata: values must be strings")
        if len(value) > 50:
            raise invalid(name, "Invalid metadata: at most 50 keys")
        for key, item in value.items():
            if len(key) > 40 or len(item) > 500:
                raise invalid(f"{name}[{key}]", "Metadata keys are at most 40 characters and values at most 500")
        return dict(value) if self.keep_unset else {k: v for k, v in value.items() if v != ""}


@dataclass
class ListOf(Spec):
    item: Spec

    def coerce(self, value: Any, name: str) -> Any:
        if value == "":
            return []
        if not isinstance(value, dict) or not all(k.isdigit() for k in value):
            raise invalid(name, f"Invalid array: {name}")
        return [self.item.coerce(value[k], f"{name}[{k}]") for k in sorted(value, key=int)]


@dataclass
class DictOf(Spec):
    """A hash whose keys are names the caller chooses (capability names, say)."""

    item: Spec

    def coerce(self, value: Any, name: str) -> Any:
        if not isinstance(value, dict):
            raise invalid(name, f"Invalid object: {name} must be a hash")
        return {key: self.item.coerce(item, f"{name}[{key}]") for key, item in value.items()}


@dataclass
class Hash(Spec):
    fields: dict[str, Spec]
    required: tuple[str, ...] = field(default=())

    def coerce(self, value: Any, name: str) -> Any:
        if not isinstance(value, dict):
            raise invalid(name, f"Invalid object: {name} must be a hash")
        return check(value, self, prefix=name)


def check(params: dict[str, Any], schema: Hash, prefix: str = "") -> dict[str, Any]:
    """Validate and coerce; unknown keys and missing required ones raise Stripe's errors."""
    clean: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        spec = schema.fields.get(key)
        if spec is None:
            raise unknown(name)
        clean[key] = spec.coerce(value, name)
    for key in schema.required:
        if key not in clean or clean[key] == "":
            raise missing(f"{prefix}[{key}]" if prefix else key)
    return clean


EXPAND = ListOf(Str())
