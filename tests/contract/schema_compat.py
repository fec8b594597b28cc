"""Is a new JSON Schema of an event's ``data`` compatible with the published one?

A published contract has two audiences at once: consumers still running the old code receive events
the new producer writes, and consumers running the new code read events the old producer wrote (the
stream keeps 30 days of them, and dead letters are replayed). So a change is compatible only if it
works in both directions. ``breaking_changes(published, current)`` lists every change that does not:

- a field removed (old consumers may read it);
- a new field that is required (events already in the stream do not have it);
- a field's required status flipped either way;
- a field's type changed, including becoming or ceasing to be nullable, a format change
  (``date-time``, ``uuid``) or a changed numeric/length constraint;
- an enum (``Literal``) narrowed (old events carry the value) or widened (old consumers reject the
  new value), or a free string turned into an enum or back;
- the same rules, recursively, inside nested objects, array items, dict values and union branches.

Adding an optional field (one with a default) is compatible: consumers ignore fields they do not
know (``EventData`` has ``extra="ignore"``) and the new model fills the default for old events.
Titles, descriptions, examples and defaults are annotations and never break anything.

Only the subset of JSON Schema that pydantic emits is understood: ``$ref``/``$defs``, ``anyOf``/
``oneOf``, ``allOf`` with one member, ``type`` (a string or a list), ``enum``, ``const``, ``format``,
``properties``/``required``, ``additionalProperties``, ``items``/``prefixItems`` and the usual
constraints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

CONSTRAINTS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "decimal_places",
    "max_digits",
)

# Keys that describe a schema without constraining it: changing them never breaks a consumer.
ANNOTATIONS = frozenset({"title", "description", "examples", "default", "$comment", "deprecated", "readOnly", "writeOnly"})

_ABSENT = object()


def breaking_changes(published: Schema, current: Schema, *, root: str = "data") -> list[str]:
    """Every incompatible difference between two versions of one contract's schema, as messages.

    An empty list means ``current`` may replace ``published`` under the same type and version.
    """
    return _Comparison(published, current).compare(published, current, root)


def normalized(schema: Schema) -> Any:
    """The schema with every annotation dropped and every ``$ref`` inlined: equal means no change.

    Used to tell a snapshot that is merely out of date (a compatible change not yet recorded) from
    one that matches. Recursive models are cut at the second visit of a definition.
    """
    return _normalize(schema, schema, ())


# --------------------------------------------------------------------------------------------------


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self._in_progress: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> list[str]:
        refs = (ref_name(old), ref_name(new))
        if refs[0] and refs[1]:
            if refs in self._in_progress:  # a recursive model: already being compared further up
                return []
            self._in_progress.add(refs)  # type: ignore[arg-type]
        try:
            return self._compare_resolved(resolve(old, self.old_root), resolve(new, self.new_root), path)
        finally:
            self._in_progress.discard(refs)  # type: ignore[arg-type]

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> list[str]:
        old_branches = branches(old, self.old_root)
        new_branches = branches(new, self.new_root)
        if len(old_branches) > 1 or len(new_branches) > 1:
            return self._compare_unions(old_branches, new_branches, path)
        return self._compare_single(old_branches[0], new_branches[0], path)

    def _compare_unions(self, old: list[Schema], new: list[Schema], path: str) -> list[str]:
        problems: list[str] = []
        remaining = list(new)
        for old_branch in old:
            match = next((b for b in remaining if kind(b) == kind(old_branch)), None)
            if match is None:
                problems.append(f"{path}: type changed: no longer may be {describe(old_branch)} "
                                f"(was {describe_union(old)}, now {describe_union(new)})")
                continue
            remaining.remove(match)
            problems.extend(self.compare(old_branch, match, path))
        for new_branch in remaining:
            problems.append(f"{path}: type changed: now may also be {describe(new_branch)} "
                            f"(was {describe_union(old)}, now {describe_union(new)}); consumers of the "
                            "published version do not expect it")
        return problems

    def _compare_single(self, old: Schema, new: Schema, path: str) -> list[str]:
        old_kind, new_kind = kind(old), kind(new)
        if old_kind != new_kind:
            return [f"{path}: type changed from {describe(old)} to {describe(new)}"]
        problems: list[str] = []
        if old.get("format") != new.get("format"):
            problems.append(f"{path}: type changed: format {old.get('format')!r} became {new.get('format')!r}")
        problems.extend(_compare_enums(old, new, path))
        for key in CONSTRAINTS:
            before, after = old.get(key, _ABSENT), new.get(key, _ABSENT)
            if before != after:
                problems.append(f"{path}: constraint {key} changed from {_show(before)} to {_show(after)}")
        if old_kind == "object":
            problems.extend(self._compare_objects(old, new, path))
        elif old_kind == "array":
            problems.extend(self._compare_arrays(old, new, path))
        return problems

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        old_props: Mapping[str, Schema] = old.get("properties", {})
        new_props: Mapping[str, Schema] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, old_field in old_props.items():
            field_path = f"{path}.{name}"
            if name not in new_props:
                problems.append(f"{field_path}: field removed")
                continue
            if name in old_required and name not in new_required:
                problems.append(f"{field_path}: required field became optional; consumers may rely on it being present")
            elif name not in old_required and name in new_required:
                problems.append(f"{field_path}: optional field became required; events already published may lack it")
            problems.extend(self.compare(old_field, new_props[name], field_path))
        for name in new_props:
            if name not in old_props and name in new_required:
                problems.append(f"{path}.{name}: new required field; events already published lack it "
                                "(give it a default to make it optional, or publish a new version)")
        problems.extend(self._compare_additional(old, new, path))
        return problems

    def _compare_additional(self, old: Schema, new: Schema, path: str) -> list[str]:
        before = old.get("additionalProperties", _ABSENT)
        after = new.get("additionalProperties", _ABSENT)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            return self.compare(before, after, f"{path}{{*}}")
        if _additional_allowed(before) and _additional_allowed(after):
            return []
        if before == after:
            return []
        return [f"{path}: type changed: additional properties went from {_show(before)} to {_show(after)}"]

    def _compare_arrays(self, old: Schema, new: Schema, path: str) -> list[str]:
        problems: list[str] = []
        old_prefix = old.get("prefixItems", [])
        new_prefix = new.get("prefixItems", [])
        if len(old_prefix) != len(new_prefix):
            problems.append(f"{path}: type changed: tuple of {len(old_prefix)} became tuple of {len(new_prefix)}")
        else:
            for index, (before, after) in enumerate(zip(old_prefix, new_prefix, strict=True)):
                problems.extend(self.compare(before, after, f"{path}[{index}]"))
        before, after = old.get("items", _ABSENT), new.get("items", _ABSENT)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            problems.extend(self.compare(before, after, f"{path}[]"))
        elif before != after and not (_items_unconstrained(before) and _items_unconstrained(after)):
            problems.append(f"{path}: type changed: items went from {_show(before)} to {_show(after)}")
        return problems


def _compare_enums(old: Schema, new: Schema, path: str) -> list[str]:
    before, after = enum_values(old), enum_values(new)
    if before is None and after is None:
        return []
    if before is None:
        return [f"{path}: enum narrowed: any value was allowed, now only {_show_values(after)}"]
    if after is None:
        return [f"{path}: enum widened: was {_show_values(before)}, now any value; consumers of the "
                "published version reject values they do not know"]
    problems = []
    removed = [v for v in before if v not in after]
    added = [v for v in after if v not in before]
    if removed:
        problems.append(f"{path}: enum narrowed: {_show_values(removed)} removed; events already published carry them")
    if added:
        problems.append(f"{path}: enum widened: {_show_values(added)} added; consumers of the published version "
                        "reject values they do not know")
    return problems


# --------------------------------------------------------------------------------------------------
# Schema helpers, shared with the consumer checks and the example generator.


def ref_name(node: Schema) -> str | None:
    ref = node.get("$ref")
    if ref is None:
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            ref = all_of[0].get("$ref")
    return ref


def resolve(node: Schema, root: Schema) -> Schema:
    """Follow ``$ref`` (and pydantic's one-member ``allOf`` wrapper), keeping sibling keywords."""
    seen: set[str] = set()
    while True:
        if "$ref" in node:
            ref = node["$ref"]
            siblings = {k: v for k, v in node.items() if k != "$ref"}
        else:
            all_of = node.get("allOf")
            if not (isinstance(all_of, list) and len(all_of) == 1):
                return node
            ref_node = all_of[0]
            siblings = {k: v for k, v in node.items() if k != "allOf"}
            if "$ref" not in ref_node:
                return {**ref_node, **siblings}
            ref = ref_node["$ref"]
        if ref in seen:
            raise ValueError(f"$ref cycle at {ref}")
        seen.add(ref)
        node = {**_lookup(ref, root), **siblings}


def _lookup(ref: str, root: Schema) -> Schema:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, got {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def branches(node: Schema, root: Schema) -> list[Schema]:
    """The alternatives of a union (``anyOf``/``oneOf``/``type: [...]``), flattened; else ``[node]``."""
    node = resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out: list[Schema] = []
            for branch in node[key]:
                out.extend(branches(branch, root))
            return out
    if isinstance(node.get("type"), list):
        rest = {k: v for k, v in node.items() if k != "type"}
        return [{**rest, "type": t} if t != "null" else {"type": "null"} for t in node["type"]]
    return [node]


def kind(node: Schema) -> str:
    """The JSON type a (resolved, non-union) schema accepts: ``string``, ``object``, ``null``, ..."""
    declared = node.get("type")
    if isinstance(declared, str):
        return declared
    values = enum_values(node)
    if values:
        types = {_json_type(v) for v in values}
        return types.pop() if len(types) == 1 else "mixed"
    if "properties" in node or "additionalProperties" in node:
        return "object"
    if "items" in node or "prefixItems" in node:
        return "array"
    return "any"


def enum_values(node: Schema) -> list[Any] | None:
    if "enum" in node:
        return list(node["enum"])
    if "const" in node:
        return [node["const"]]
    return None


def describe(node: Schema) -> str:
    node_kind = kind(node)
    values = enum_values(node)
    if values is not None:
        return f"{node_kind} one of {_show_values(values)}"
    if node.get("format"):
        return f"{node_kind} ({node['format']})"
    return node_kind


def describe_union(nodes: list[Schema]) -> str:
    return " | ".join(describe(n) for n in nodes)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _additional_allowed(value: Any) -> bool:
    return value is _ABSENT or value is True or value == {}


def _items_unconstrained(value: Any) -> bool:
    return value is _ABSENT or value is True or value == {}


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(none)"
    return json.dumps(value, sort_keys=True)


def _show_values(values: list[Any] | None) -> str:
    return ", ".join(json.dumps(v) for v in values or [])


def _normalize(node: Any, root: Schema, seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_normalize(item, root, seen) for item in node]
    if not isinstance(node, Mapping):
        return node
    ref = ref_name(node)
    if ref is not None:
        if ref in seen:
            return {"$recursive": ref.rsplit("/", 1)[-1]}
        seen = (*seen, ref)
        node = resolve(node, root)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ANNOTATIONS or key == "$defs" or key.startswith("x-"):
            continue
        if key == "properties":
            out[key] = {name: _normalize(sub, root, seen) for name, sub in value.items()}
        elif key in ("required", "enum"):
            out[key] = sorted(value, key=json.dumps)
        else:
            out[key] = _normalize(value, root, seen)
    return out
