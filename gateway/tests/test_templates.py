"""The page environment's fast path for ``p.title`` on the services' JSON gives exactly Jinja's own
answers (decision 0701): keys, dict's own methods, missing keys, objects, and escaping all unchanged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from jinja2 import Environment, select_autoescape

from gateway.pages import PageEnvironment

CASES: list[tuple[str, dict[str, Any]]] = [
    ("{{ p.title }}", {"p": {"title": "<script>alert(1)</script> & co"}}),
    ("{{ p.missing }}|{{ p.missing is defined }}", {"p": {"title": "x"}}),
    ("{% for k, v in p.items() %}{{ k }}={{ v }};{% endfor %}", {"p": {"a": 1, "items": "shadowed"}}),
    ("{{ p.get('a') }}|{{ p['items'] }}|{{ p.keys() | list }}", {"p": {"a": 1, "items": "key"}}),
    ("{{ p.title }}|{{ p.upper() }}", {"p": SimpleNamespace(title="an object", upper=lambda: "UP")}),
    ("{{ p.0 }}|{{ p.1.name }}", {"p": [{"name": "zero"}, {"name": "<one>"}]}),
    ("{{ p.nested.deeper.title }}", {"p": {"nested": {"deeper": {"title": "<i>deep</i>"}}}}),
]


@pytest.mark.parametrize(("source", "data"), CASES)
def test_the_fast_path_renders_what_jinja_renders(source: str, data: dict[str, Any]) -> None:
    stock = Environment(autoescape=select_autoescape(default=True)).from_string(source).render(**data)
    fast = PageEnvironment(autoescape=select_autoescape(default=True)).from_string(source).render(**data)
    assert fast == stock


def test_a_missing_key_is_undefined_and_user_text_is_escaped() -> None:
    env = PageEnvironment(autoescape=select_autoescape(default=True))
    page = env.from_string("[{{ p.title }}][{{ p.nope }}]").render(p={"title": "<b>&</b>"})
    assert page == "[&lt;b&gt;&amp;&lt;/b&gt;][]"
