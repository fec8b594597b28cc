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


def test_a_product_shell_filled_for_each_visitor_is_their_full_render() -> None:
    """Decision 0703: a kept product page's slots (header, Q&A forms per message, tokens) filled for a
    visitor give exactly the page rendered for them; Q2: only the author gets a message's delete form."""
    from markupsafe import Markup

    from gateway.templating import PLACEHOLDER, SHELL_SLOTS, Shell, env

    pid = "4b1c2a58-0000-4000-8000-000000000001"
    threads = {"threads": [{"id": "t1", "subject": "Size <b>?</b>", "messages": [
        {"id": "m1", "author_id": "u-grace", "author_name": "grace", "body": "How tall?", "deleted": False},
        {"id": "m2", "author_id": "u-ada", "author_name": "ada", "body": "30 cm", "deleted": False},
        {"id": "m3", "author_id": "u-grace", "author_name": "grace", "body": "", "deleted": True}]}]}
    p = {"id": pid, "title": "Lamp", "kind": "MODEL", "images": [], "rating": {"avg": None, "count": 0},
         "seller_rating": {"avg": None, "count": 0}, "can_buy": True, "category": {"id": 1, "name": "Lamps"},
         "parent_category": None, "price_cents": 2500, "is_free": False, "more_like_this": []}
    data = {"p": p, "seller": "Ada", "reviews": {"reviews": []}, "threads": threads, "query": "", "nav": []}
    shell = Shell(env.get_template("product.html").render(user=None, cart_count=0, csrf_token=Markup(PLACEHOLDER),
                                                          flashes=[], shell=SHELL_SLOTS, **data),
                  {"p": {"id": pid}, "threads": threads})
    grace, ada = SimpleNamespace(id="u-grace", username="grace"), SimpleNamespace(id="u-ada", username="ada")
    for user, cart, token in ((grace, 2, "tok-grace"), (ada, 0, "tok-ada"), (None, 1, "tok-anon")):
        full = env.get_template("product.html").render(user=user, cart_count=cart, csrf_token=token, flashes=[], **data)
        assert shell.fill(user, cart, lambda token=token: token, []) == full
    filled = {name: shell.fill(u, 0, lambda: "t", []) for name, u in (("grace", grace), ("ada", ada))}
    assert "/messages/m1/delete" in filled["grace"] and "/messages/m1/report" not in filled["grace"]
    assert "/messages/m2/report" in filled["grace"] and "/messages/m2/delete" not in filled["grace"]
    assert "/messages/m1/report" in filled["ada"] and "/messages/m2/delete" in filled["ada"]
    assert "/messages/m3/" not in filled["grace"] + filled["ada"]  # a deleted message has no form
