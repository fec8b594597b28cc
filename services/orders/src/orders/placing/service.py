"""Placing an order (O1, O2, K2), reading it, canceling it and checking it out (O3, O5).

Never commits: the request's transaction does, so the order, its lines, its timeline entry and any
event (outbox) are written together or not at all.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict, Problem, ValidationFailed
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import Identity, ServiceSigner
from orders import access, catalog_client, domain, emails, lifecycle
from orders.domain import EventType, Status
from orders.models import Order, new_id
from orders.placing import repository
from orders.placing.schemas import CheckoutOut, LineOut, OrderOut, PlaceOrder, TimelineEntry
from orders.settings import OrdersSettings
from orders.siteconfig import service as siteconfig
from orders.web import PlacingParts

FILE_QUANTITY_NOTICE = "{title}: a 3D file is bought once; quantity {asked} was set to 1 (O2)."


def placement_key(identity: Identity | None, guest_email: str | None, request_key: str) -> str:
    requester = f"user:{identity.user_id}" if identity is not None else f"guest:{guest_email}"
    return hashlib.sha256(f"{requester}\n{request_key}".encode()).hexdigest()


def not_buyable(problems: list[dict[str, str]], detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=problems)


async def place(
    parts: PlacingParts, identity: Identity | None, body: PlaceOrder, request_key: str,
) -> tuple[OrderOut, bool]:
    """(the order's answer, created). The same requester and request key give back the same order: the
    placement key's unique index decides (decision 0205), so a new placement reads nothing before its write;
    its rows are built as plain data, written and committed through the group commit (decision 0204), and
    the answer is made from the same values."""
    guest_email = None if identity is not None else body.guest_email  # O1: a buyer clears the guest email
    if identity is None and guest_email is None:
        raise ValidationFailed("Sign in, or give an email address to check out as a guest (O1).",
                               errors=[{"field": "guest_email", "message": "required for a guest order"}])
    key = placement_key(identity, guest_email, request_key)
    config = await siteconfig.current(parts.engine, parts.config_cache)  # O2: the percent in force now
    try:
        found = await catalog_client.lookup(parts.catalog, [line.product_id for line in body.lines], parts.signer)
        items, notices = _priced(body, found, identity)
    except Problem:
        # A repeat of a placed order gets that order back, even when its products changed since or the
        # catalog cannot be reached now.
        existing = await _placed_before(parts, key)
        if existing is None:
            raise
        return existing, False

    money = domain.snapshot(items, config.marketplace_percent)
    now, order_id = utcnow(), new_id()
    order = {
        "id": order_id, "buyer_id": identity.user_id if identity is not None else None, "guest_email": guest_email,
        "access_token": access.new_token() if identity is None else None, "placement_key": key,
        "status": Status.PENDING.value, "kind": money.kind.value, "currency": config.default_currency,
        "subtotal_cents": money.subtotal_cents, "tax_cents": money.tax_cents, "shipping_cents": money.shipping_cents,
        "total_cents": money.total_cents, "marketplace_percent": money.percent, "payment_method": None,
        "stripe_session_id": None, "stripe_payment_intent_id": None, "stripe_charge_id": None, "shipping": None,
        "refunded_cents": 0, "created_at": now, "updated_at": now, "paid_at": None, "canceled_at": None,
        "refunded_at": None, **lifecycle.new_order_flags(money),
    }
    lines = [
        {"id": new_id(), "order_id": order_id, "position": i, "product_id": m.product_id, "seller_id": m.seller_id,
         "title": m.title, "kind": m.kind, "is_digital": m.is_digital, "requires_shipping": m.requires_shipping,
         "quantity": m.quantity, "unit_price_cents": m.unit_price_cents, "gross_cents": m.gross_cents,
         "fee_cents": m.fee_cents, "net_cents": m.net_cents, "refunded_at": None}
        for i, m in enumerate(money.lines)
    ]
    actor = f"user:{identity.user_id}" if identity is not None else "guest"
    created = lifecycle.entry_row(order_id, EventType.CREATED, " ".join(notices), actor=actor, at=now)
    try:
        # Committed together with the other placements of this moment; back only once that commit holds
        # these rows (decision 0204). Nothing else of the placement is written anywhere.
        await parts.group.run(repository.placed_rows(order, lines, created))
    except IntegrityError as exc:
        # The placement key is taken: this is a repeat, or a double click that raced us on another
        # connection. The order placed under it is committed by now (SQLite writes one transaction at a
        # time; PostgreSQL's unique check waits for the other transaction): answer with it.
        existing = await _placed_before(parts, key)
        if existing is None:  # pragma: no cover - another constraint failed: nothing was written
            raise Conflict("This order could not be written; send the request again.") from exc
        return existing, False
    return _new_order_out(order, lines, notices), True


def _priced(body: PlaceOrder, found: catalog_client.Lookup,
            identity: Identity | None) -> tuple[list[domain.PricedItem], list[str]]:
    """The cart's lines priced by the catalog (O2), or a 422 naming every line that cannot be ordered (K2)."""
    problems: list[dict[str, str]] = []
    for index, line in enumerate(body.lines):
        facts = found.products.get(line.product_id)
        field = f"lines.{index}.product_id"
        if facts is None:
            problems.append({"field": field, "message": f"product {line.product_id} does not exist"})
        elif not facts.visible:
            problems.append({"field": field, "message": f"{facts.title} is not for sale (unlisted)"})
        elif not facts.can_buy and not (identity is not None and identity.is_owner):
            problems.append({"field": field, "message": f"{facts.title}: its seller cannot take payments yet "
                                                       "(payout onboarding unfinished, K2)"})
    if problems:
        raise not_buyable(problems, "Some lines cannot be ordered: " + "; ".join(p["message"] for p in problems))
    items = []
    notices = []
    for line in body.lines:
        facts = found.products[line.product_id]
        if facts.is_file and line.quantity > 1:
            notices.append(FILE_QUANTITY_NOTICE.format(title=facts.title, asked=line.quantity))
        items.append(domain.PricedItem(product_id=facts.product_id, seller_id=facts.seller_id, title=facts.title[:200],
                                       is_file=facts.is_file, unit_price_cents=facts.price_cents, quantity=line.quantity))
    return items, notices


async def _placed_before(parts: PlacingParts, key: str) -> OrderOut | None:
    """The answer for the order already placed under this placement key (a repeat), if there is one."""
    async with parts.sessionmaker() as session:
        existing = await repository.by_placement_key(session, key)
        return to_out(existing, show_token=existing.is_guest) if existing is not None else None


def _new_order_out(order: dict[str, Any], lines: list[dict[str, Any]], notices: list[str]) -> OrderOut:
    """The answer for an order just placed, from the values written (pending: nothing refunded or downloadable
    yet). Built without validation: every value is one this service computed, of the declared type; the
    placer of a guest order sees its token (O1)."""
    return OrderOut.model_construct(
        id=order["id"], status=order["status"], kind=order["kind"], currency=order["currency"],
        buyer_id=order["buyer_id"], guest_email=order["guest_email"], subtotal_cents=order["subtotal_cents"],
        tax_cents=order["tax_cents"], shipping_cents=order["shipping_cents"], total_cents=order["total_cents"],
        marketplace_percent=order["marketplace_percent"], payment_method=None, created_at=order["created_at"],
        paid_at=None,
        lines=[LineOut.model_construct(
            id=line["id"], product_id=line["product_id"], seller_id=line["seller_id"], title=line["title"],
            kind=line["kind"], is_digital=line["is_digital"], requires_shipping=line["requires_shipping"],
            quantity=line["quantity"], unit_price_cents=line["unit_price_cents"], gross_cents=line["gross_cents"],
            fee_cents=line["fee_cents"], net_cents=line["net_cents"], refunded=False, downloadable=False,
        ) for line in lines],
        notices=notices, access_token=order["access_token"], timeline=None,
    )


async def cancel(session: AsyncSession, identity: Identity | None, token: str | None, order_id: str) -> Order:
    order = await access.order_for(session, order_id, identity, token, for_update=True)
    actor = f"user:{identity.user_id}" if identity is not None else "guest"
    who = "an owner" if identity is not None and identity.is_owner and identity.user_id != order.buyer_id else "the buyer"
    await lifecycle.cancel(session, order, reason=f"canceled by {who}", actor=actor)
    return order


async def checkout(
    session: AsyncSession, catalog: ServiceClient, settings: OrdersSettings, signer: ServiceSigner | None,
    identity: Identity | None, token: str | None, order_id: str,
) -> tuple[Order, bool]:
    """O5: only a pending, non-empty order whose every seller is payout-ready (or an owner) goes to
    payment; a total of 0 is paid at once as FREE with no Stripe session (O3). (order, payment required)."""
    order = await access.order_for(session, order_id, identity, token, for_update=True)
    if order.status != Status.PENDING:
        raise Conflict(f"This order is {order.status}; only a pending order can be checked out (O5).")
    if not order.lines:
        raise Conflict("This order has no lines; there is nothing to pay for (O5).")
    found = await catalog_client.lookup(catalog, sorted({line.product_id for line in order.lines}), signer)
    unready = sorted({
        line.title for line in order.lines
        if not (identity is not None and identity.is_owner)
        and not ((facts := found.products.get(line.product_id)) is not None
                 and facts.seller_id == line.seller_id and (facts.seller_payout_ready or facts.seller_is_owner))
    })
    if unready:
        raise Conflict("These items' sellers cannot take payments right now (payout onboarding, O5): "
                       + ", ".join(unready) + ". Remove them and place the order again.")
    if order.total_cents == 0:
        await lifecycle.mark_paid(session, order, method="free", paid_at=utcnow(), payment_intent_id=None,
                                  message="Marked paid via FREE checkout (total 0, no Stripe)")
        await emails.queue_guest_paid_email(session, catalog, settings, order, signer)
        return order, False
    return order, True


def to_out(order: Order, *, notices: list[str] | None = None, show_token: bool = False,
           timeline: list[TimelineEntry] | None = None) -> OrderOut:
    return OrderOut(
        id=order.id, status=order.status, kind=order.kind, currency=order.currency, buyer_id=order.buyer_id,
        guest_email=order.guest_email, subtotal_cents=order.subtotal_cents, tax_cents=order.tax_cents,
        shipping_cents=order.shipping_cents, total_cents=order.total_cents,
        marketplace_percent=order.marketplace_percent, payment_method=order.payment_method,
        created_at=order.created_at, paid_at=order.paid_at,
        lines=[LineOut(id=line.id, product_id=line.product_id, seller_id=line.seller_id, title=line.title, kind=line.kind,
                       is_digital=line.is_digital, requires_shipping=line.requires_shipping, quantity=line.quantity,
                       unit_price_cents=line.unit_price_cents, gross_cents=line.gross_cents, fee_cents=line.fee_cents,
                       net_cents=line.net_cents, refunded=line.refunded_at is not None,
                       downloadable=line.is_digital and line.refunded_at is None and order.status == Status.PAID)
               for line in order.lines],
        notices=notices or [], access_token=order.access_token if show_token else None, timeline=timeline,
    )


async def view(session: AsyncSession, identity: Identity | None, token: str | None, order_id: str) -> OrderOut:
    order = await access.order_for(session, order_id, identity, token)
    timeline = None
    if identity is not None and identity.is_owner:
        timeline = [TimelineEntry.model_validate(e) for e in await repository.timeline(session, order.id)]
    return to_out(order, timeline=timeline)


def checkout_out(order: Order, payment_required: bool) -> CheckoutOut:
    return CheckoutOut(order=to_out(order), payment_required=payment_required)
