"""The storefront's Jinja2 environment (autoescaped: user text always shows as text) and its filters."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from homecraft_shared.money import format_cents

_DICT_ATTRIBUTES = frozenset(dir(dict))


class PageEnvironment(Environment):
    """Jinja2's environment with a fast path for ``p.title`` on the services' JSON (plain dicts).

    Jinja tries ``getattr(obj, name)`` first and falls back to ``obj[name]`` on the AttributeError;
    for a dict key that raise-and-catch was a fifth of a home page's render (decision 0701's
    profile). A dict has no attribute by that name unless it is one of dict's own (``items``,
    ``get``...), so looking the key up first gives exactly Jinja's answer, and dict's own names
    still go the usual way."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


env = PageEnvironment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                  autoescape=select_autoescape(default=True), enable_async=False,
                  auto_reload=False)  # templates change with a deploy, not while serving: no stat per render
env.filters["money"] = format_cents


def _stars(value: float | None) -> str:
    if value is None:
        return "☆☆☆☆☆"
    full = round(value)
    return "★" * full + "☆" * (5 - full)


env.filters["stars"] = _stars


# --- kept pages: a page rendered with no visitor, its personal parts left as slots (decision 0703) -------

_RANDOM = secrets.token_hex(16)  # random per process: no user text can contain a marker
# Where the CSRF token goes (the add-to-cart form) in a kept page.
PLACEHOLDER = f"csrf-placeholder-{_RANDOM}"
ACCOUNT, FLASHES, QA = (f"hc-slot-{_RANDOM}-{name}" for name in ("account", "flashes", "qa"))
# What templates print for ``shell.account`` etc. when a page is rendered as a shell.
SHELL_SLOTS = {"account": Markup(ACCOUNT), "flashes": Markup(FLASHES), "qa": Markup(QA)}
_SPLIT = re.compile("(" + "|".join(re.escape(m) for m in (ACCOUNT, FLASHES, QA, PLACEHOLDER)) + ")")


class _LazyToken:
    """The visitor's CSRF token as a template value, made only if a slot prints it."""

    __slots__ = ("_make", "_token")

    def __init__(self, make: Callable[[], str]) -> None:
        self._make = make
        self._token: str | None = None

    def __str__(self) -> str:
        if self._token is None:
            self._token = self._make()
        return self._token

    def __html__(self) -> Markup:
        return escape(str(self))


class _Choices:
    """What a signed-in user's Q&A slot picks per message (Q2: the author's delete form, anyone else's
    report form), recorded while the slot is rendered once for every signed-in user."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []  # (the message's author id, their form, others' form)

    def choice(self, author_id: Any, own: str, other: str) -> Markup:
        self.items.append((str(author_id), str(own), str(other)))
        return Markup(f"{CHOICE}{len(self.items) - 1}.")


@dataclass(frozen=True, slots=True)
class _Someone:
    """The signed-in user a shared Q&A slot is rendered for: its id is no author's."""

    id: str = f"nobody-{_RANDOM}"
    username: str = ""


CHOICE = f"hc-slot-{_RANDOM}-choice-"
_SPLIT_QA = re.compile("(" + re.escape(CHOICE) + r"\d+\.|" + re.escape(PLACEHOLDER) + ")")


class Shell:
    """A storefront page rendered for nobody: the same for every visitor, with slots where the
    personal parts go — the header's account block (cart count, who is signed in, the sign-out form),
    the messages waiting, the CSRF token of its forms and, on product pages, the Q&A section with the
    forms this visitor may use. ``fill`` renders those parts for one visitor. The Q&A slot (``qa`` =
    the product's id and its threads as the page showed them) is rendered when the shell is made, once
    for signed-out visitors and once for every signed-in user with both forms of each message, so
    filling it picks a form per message and puts the token in (no template per visitor)."""

    __slots__ = ("_parts", "_qa_anonymous", "_qa_choices", "_qa_parts")

    def __init__(self, html: str, qa: dict[str, Any] | None = None) -> None:
        self._parts = _SPLIT.split(html)
        self._qa_anonymous = self._qa_parts = None
        self._qa_choices: list[tuple[str, str, str]] = []
        if qa is not None:
            template = env.get_template("_qa.html")
            self._qa_anonymous = template.render(user=None, csrf_token=Markup(PLACEHOLDER), **qa)
            choices = _Choices()
            self._qa_parts = _SPLIT_QA.split(template.render(user=_Someone(), csrf_token=Markup(PLACEHOLDER),
                                                             marks=choices, **qa))
            self._qa_choices = choices.items

    def fill(self, user: Any, cart_count: int, token: Callable[[], str], flashes: list[dict[str, str]]) -> str:
        """The page for one visitor: ``user`` (``.id``, ``.username``) or None, the cart's line count
        (K1), their CSRF token (made only if printed) and their messages."""
        csrf = _LazyToken(token)
        out: list[str] = []
        for index, part in enumerate(self._parts):
            if not index % 2:
                out.append(part)
            elif part == ACCOUNT:
                out.append(env.get_template("_account.html").render(user=user, cart_count=cart_count, csrf_token=csrf))
            elif part == FLASHES:
                if flashes:
                    out.append(env.get_template("_flashes.html").render(flashes=flashes))
            elif part == QA:
                out.append(self._qa(user, csrf))
            else:
                out.append(csrf.__html__())
        return "".join(out)

    def _qa(self, user: Any, csrf: _LazyToken) -> str:
        if self._qa_parts is None or self._qa_anonymous is None:
            raise ValueError("a product page's shell keeps what its Q&A slot shows")
        if user is None:
            return self._qa_anonymous.replace(PLACEHOLDER, csrf.__html__()) if PLACEHOLDER in self._qa_anonymous \
                else self._qa_anonymous
        out: list[str] = []
        for index, part in enumerate(self._qa_parts):
            if not index % 2:
                out.append(part)
            elif part == PLACEHOLDER:
                out.append(csrf.__html__())
            else:
                author_id, own, other = self._qa_choices[int(part[len(CHOICE):-1])]
                out.append((own if author_id == str(user.id) else other).replace(PLACEHOLDER, csrf.__html__()))
        return "".join(out)
