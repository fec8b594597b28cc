"""Unit tests of the compatibility check: it catches each kind of breaking change, and only those."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Optional

from pydantic import BaseModel, Field
from schema_compat import breaking_changes, normalized


def schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema()


def changes(old: type[BaseModel], new: type[BaseModel]) -> list[str]:
    return breaking_changes(schema(old), schema(new))


def assert_one(problems: list[str], *fragments: str) -> None:
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems


class Base(BaseModel):
    order_id: str
    amount_cents: int = Field(ge=0)
    status: Literal["paid", "refunded"]
    note: str | None = None


# -- compatible -------------------------------------------------------------------------------------


def test_identical_schemas_are_compatible() -> None:
    assert changes(Base, Base) == []


def test_adding_an_optional_field_is_allowed() -> None:
    class Added(Base):
        currency: str = "usd"
        buyer_email: str | None = None

    assert changes(Base, Added) == []


def test_annotations_and_defaults_do_not_matter() -> None:
    class Annotated(BaseModel):
        """A docstring now."""

        order_id: str = Field(description="the order", title="Order")
        amount_cents: int = Field(ge=0, examples=[100])
        status: Literal["paid", "refunded"]
        note: str | None = Field(default="n/a", description="free text")

    assert changes(Base, Annotated) == []


def test_renaming_a_nested_model_class_is_not_a_change() -> None:
    class Line(BaseModel):
        sku: str

    class Item(BaseModel):
        sku: str

    class Old(BaseModel):
        lines: list[Line]

    class New(BaseModel):
        lines: list[Item]

    assert changes(Old, New) == []


def test_reordering_a_union_or_an_enum_is_not_a_change() -> None:
    class Old(BaseModel):
        value: int | str
        state: Literal["a", "b"]

    class New(BaseModel):
        value: str | int
        state: Literal["b", "a"]

    assert changes(Old, New) == []


# -- breaking ---------------------------------------------------------------------------------------


def test_removing_a_field_breaks() -> None:
    class Removed(BaseModel):
        order_id: str
        status: Literal["paid", "refunded"]
        note: str | None = None

    assert_one(changes(Base, Removed), "data.amount_cents", "field removed")


def test_removing_an_optional_field_breaks_too() -> None:
    class Removed(BaseModel):
        order_id: str
        amount_cents: int = Field(ge=0)
        status: Literal["paid", "refunded"]

    assert_one(changes(Base, Removed), "data.note", "field removed")


def test_adding_a_required_field_breaks() -> None:
    class Added(Base):
        seller_id: str

    assert_one(changes(Base, Added), "data.seller_id", "new required field")


def test_making_an_optional_field_required_breaks() -> None:
    class Required(BaseModel):
        order_id: str
        amount_cents: int = Field(ge=0)
        status: Literal["paid", "refunded"]
        note: str | None

    assert_one(changes(Base, Required), "data.note", "became required")


def test_making_a_required_field_optional_breaks() -> None:
    class Optional_(BaseModel):
        order_id: str = "unknown"
        amount_cents: int = Field(ge=0)
        status: Literal["paid", "refunded"]
        note: str | None = None

    assert_one(changes(Base, Optional_), "data.order_id", "became optional")


def test_changing_a_fields_type_breaks() -> None:
    class Retyped(BaseModel):
        order_id: int
        amount_cents: int = Field(ge=0)
        status: Literal["paid", "refunded"]
        note: str | None = None

    assert_one(changes(Base, Retyped), "data.order_id", "type changed from string to integer")


def test_int_to_float_breaks() -> None:
    class Old(BaseModel):
        score: int

    class New(BaseModel):
        score: float

    assert_one(changes(Old, New), "data.score", "type changed")


def test_becoming_nullable_breaks() -> None:
    class Old(BaseModel):
        order_id: str

    class New(BaseModel):
        order_id: Optional[str]  # noqa: UP045  (the spelling is the point: still a union with null)

    assert_one(changes(Old, New), "data.order_id", "now may also be null")


def test_ceasing_to_be_nullable_breaks() -> None:
    class Old(BaseModel):
        note: str | None = None

    class New(BaseModel):
        note: str = ""

    assert_one(changes(Old, New), "data.note", "type changed")


def test_a_format_change_breaks() -> None:
    class Old(BaseModel):
        at: str

    class New(BaseModel):
        at: dt.datetime

    assert_one(changes(Old, New), "data.at", "format")


def test_narrowing_an_enum_breaks() -> None:
    class Narrow(BaseModel):
        order_id: str
        amount_cents: int = Field(ge=0)
        status: Literal["paid"]
        note: str | None = None

    assert_one(changes(Base, Narrow), "data.status", "enum narrowed", '"refunded"')


def test_turning_a_string_into_an_enum_breaks() -> None:
    class Old(BaseModel):
        reason: str

    class New(BaseModel):
        reason: Literal["fraud", "duplicate"]

    assert_one(changes(Old, New), "data.reason", "enum narrowed")


def test_widening_an_enum_breaks_old_consumers() -> None:
    class Wide(BaseModel):
        order_id: str
        amount_cents: int = Field(ge=0)
        status: Literal["paid", "refunded", "disputed"]
        note: str | None = None

    assert_one(changes(Base, Wide), "data.status", "enum widened", '"disputed"')


def test_changing_a_constraint_breaks() -> None:
    class Tighter(BaseModel):
        order_id: str
        amount_cents: int = Field(ge=1)
        status: Literal["paid", "refunded"]
        note: str | None = None

    assert_one(changes(Base, Tighter), "data.amount_cents", "minimum")


def test_changes_inside_nested_models_are_found() -> None:
    class OldLine(BaseModel):
        line_id: str
        amount_cents: int

    class NewLine(BaseModel):
        line_id: str

    class Old(BaseModel):
        lines: list[OldLine]

    class New(BaseModel):
        lines: list[NewLine]

    assert_one(changes(Old, New), "data.lines[].amount_cents", "field removed")


def test_changes_of_list_items_and_dict_values_are_found() -> None:
    class Old(BaseModel):
        ids: list[str]
        totals: dict[str, int]

    class New(BaseModel):
        ids: list[int]
        totals: dict[str, str]

    problems = changes(Old, New)
    assert len(problems) == 2, problems
    assert any("data.ids[]" in p and "type changed" in p for p in problems)
    assert any("data.totals{*}" in p and "type changed" in p for p in problems)


def test_changes_inside_an_optional_nested_model_are_found() -> None:
    class OldShipping(BaseModel):
        city: str
        country: str

    class NewShipping(BaseModel):
        city: str

    class Old(BaseModel):
        shipping: OldShipping | None = None

    class New(BaseModel):
        shipping: NewShipping | None = None

    assert_one(changes(Old, New), "data.shipping.country", "field removed")


def test_every_problem_is_reported_at_once() -> None:
    class Broken(BaseModel):
        order_id: int
        status: Literal["paid"]
        seller_id: str

    problems = changes(Base, Broken)
    assert len(problems) == 5, problems  # order_id type, amount removed, status narrowed, note removed, seller_id


def test_recursive_models_terminate() -> None:
    class Node(BaseModel):
        name: str
        children: list[Node] = []

    class Tree(BaseModel):
        root: Node

    assert changes(Tree, Tree) == []
    assert normalized(schema(Tree)) == normalized(schema(Tree))


def test_normalized_ignores_annotations_only() -> None:
    class Annotated(Base):
        """Documented."""

    class Added(Base):
        extra: int = 0

    assert normalized(schema(Base)) == normalized(schema(Annotated))
    assert normalized(schema(Base)) != normalized(schema(Added))


def test_raw_schemas_with_type_lists_and_const() -> None:
    old = {"type": "object", "properties": {"a": {"type": ["string", "null"]}, "k": {"const": "x"}},
           "required": ["a", "k"]}
    new = {"type": "object", "properties": {"a": {"type": "string"}, "k": {"enum": ["x", "y"]}},
           "required": ["a", "k"]}
    problems = breaking_changes(old, new)
    assert len(problems) == 2, problems
    assert any("data.a" in p and "no longer may be null" in p for p in problems)
    assert any("data.k" in p and "enum widened" in p for p in problems)
