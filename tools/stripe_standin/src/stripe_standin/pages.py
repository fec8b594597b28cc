"""Hosted pages standing in for Stripe's: Checkout (``/c/pay/<session>``) and Connect onboarding
(``/setup/s/<account>/<link>``). Plain HTML forms, no JavaScript, clearly marked as the offline
stand-in, so a person (or an HTTP client) can click through a purchase and a seller onboarding.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stripe_standin.engine import PaymentDetails, Standin
from stripe_standin.errors import StripeError
from stripe_standin.objects import now

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; color: #1a1a2e; }
.banner { background: #fff3cd; border: 2px dashed #b8860b; padding: .6rem 1rem; margin-bottom: 1rem; font-weight: 600; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
td, th { padding: .35rem; border-bottom: 1px solid #ddd; text-align: left; }
td.amount, th.amount { text-align: right; }
fieldset { border: 1px solid #ccc; margin: 1rem 0; padding: .5rem 1rem; }
label { display: block; margin: .4rem 0; }
input, select { width: 100%; padding: .35rem; box-sizing: border-box; }
.error { background: #fde2e2; border: 1px solid #c0392b; padding: .5rem 1rem; }
.actions { display: flex; gap: 1rem; align-items: center; margin-top: 1rem; }
button { padding: .6rem 1.4rem; font-size: 1rem; }
"""

BANNER = ('<div class="banner" role="note">Offline Stripe stand-in (Home Craft 3D development) &mdash; '
          'not Stripe: no card is charged and no money moves.</div>')


def money(amount: int, currency: str) -> str:
    zero_decimal = currency.lower() in {"jpy", "krw", "vnd", "clp", "isk", "ugx", "xof", "xaf"}
    value = f"{amount:,}" if zero_decimal else f"{amount / 100:,.2f}"
    return f"{value} {currency.upper()}"


def page(title: str, body: str, status: int = 200, *, wide: bool = False) -> HTMLResponse:
    width = "<style>body { max-width: 80rem; }</style>" if wide else ""
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} &middot; Stripe stand-in'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style>{width}'
            f"</head><body>{BANNER}<h1>{escape(title)}</h1>{body}</body></html>")
    return HTMLResponse(html, status_code=status)


def field(name: str, label: str, value: str | None = "", *, required: bool = False, kind: str = "text",
          readonly: bool = False) -> str:
    attributes = " required" if required else ""
    attributes += " readonly" if readonly else ""
    return (f'<label>{escape(label)}{" *" if required else ""}<input type="{kind}" name="{name}" '
            f'value="{escape(value or "")}"{attributes}></label>')


def address_fields(prefix: str, form: dict[str, str], *, full: bool, countries: list[str] | None = None) -> str:
    parts = []
    if full:
        parts += [field(f"{prefix}_line1", "Address line 1", form.get(f"{prefix}_line1"), required=True),
                  field(f"{prefix}_line2", "Address line 2", form.get(f"{prefix}_line2")),
                  field(f"{prefix}_city", "City", form.get(f"{prefix}_city"), required=True),
                  field(f"{prefix}_state", "State / region", form.get(f"{prefix}_state"))]
    parts.append(field(f"{prefix}_postal_code", "Postal code", form.get(f"{prefix}_postal_code"), required=True))
    chosen = form.get(f"{prefix}_country", "US")
    if countries:
        options = "".join(f'<option value="{escape(c)}"{" selected" if c == chosen else ""}>{escape(c)}</option>'
                          for c in countries)
        parts.append(f'<label>Country *<select name="{prefix}_country" required>{options}</select></label>')
    else:
        parts.append(field(f"{prefix}_country", "Country (2 letters)", chosen, required=True))
    return "".join(parts)


def address_from(prefix: str, form: dict[str, str]) -> dict[str, Any]:
    address = {key: form.get(f"{prefix}_{key}", "").strip() or None
               for key in ("line1", "line2", "city", "state", "postal_code", "country")}
    if address["country"]:
        address["country"] = address["country"].upper()
    return address


def checkout_page(session: dict[str, Any], form: dict[str, str], error: str | None = None, status: int = 200) -> HTMLResponse:
    rows = "".join(
        f"<tr><td>{escape(item['description'] or '')}</td><td>{item['quantity']}</td>"
        f"<td class=\"amount\">{money(item['price']['unit_amount'], item['currency'])}</td>"
        f"<td class=\"amount\">{money(item['amount_total'], item['currency'])}</td></tr>"
        for item in session["_line_items"]
    )
    total = money(session["amount_total"], session["currency"])
    table = (f'<table><thead><tr><th>Item</th><th>Qty</th><th class="amount">Unit price</th><th class="amount">Amount</th>'
             f'</tr></thead><tbody>{rows}</tbody><tfoot><tr><th colspan="3">Total due</th>'
             f'<th class="amount" id="total">{total}</th></tr></tfoot></table>')
    if session["status"] != "open":
        target = session["success_url"] if session["status"] == "complete" else session["cancel_url"]
        link = f'<p><a href="{escape(target)}">Return to the merchant</a></p>' if target else ""
        return page("Checkout", f"{table}<p>This Checkout Session is <strong>{session['status']}</strong>.</p>{link}", status)
    email = session["customer_email"]
    contact = field("email", "Email", email or form.get("email"), required=True, kind="email", readonly=bool(email))
    if session["phone_number_collection"]["enabled"]:
        contact += field("phone", "Phone", form.get("phone"), required=True, kind="tel")
    shipping = ""
    if session["shipping_address_collection"]:
        allowed = session["shipping_address_collection"]["allowed_countries"]
        shipping = ('<fieldset><legend>Shipping address</legend>'
                    + field("shipping_name", "Name", form.get("shipping_name"), required=True)
                    + address_fields("shipping", form, full=True, countries=allowed) + "</fieldset>")
    billing = ('<fieldset><legend>Billing details</legend>' + field("name", "Name on card", form.get("name"), required=True)
               + address_fields("billing", form, full=session["billing_address_collection"] == "required")
               + "</fieldset>")
    card = ('<fieldset><legend>Card</legend><label>Card number<input value="4242 4242 4242 4242" disabled></label>'
            "<p>The stand-in takes no card details: Pay always succeeds.</p></fieldset>")
    cancel = (f'<a href="{escape(session["cancel_url"])}" id="cancel">Cancel and return</a>' if session["cancel_url"] else "")
    problem = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (f"{table}{problem}<form method=\"post\"><fieldset><legend>Contact</legend>{contact}</fieldset>{shipping}"
            f"{billing}{card}<div class=\"actions\"><button type=\"submit\" id=\"pay\">Pay {total}</button>{cancel}</div></form>")
    return page("Checkout", body, status)


def onboarding_page(account: dict[str, Any], token: str) -> HTMLResponse:
    choices = [
        ("complete", "Complete onboarding", "details submitted, charges and payouts enabled (payout-ready)"),
        ("payouts_disabled", "Submit details without a bank account", "charges enabled, payouts disabled"),
        ("pending_verification", "Submit details, verification pending", "charges and payouts disabled for now"),
        ("abandon", "Abandon", "return to the marketplace without finishing; nothing changes"),
    ]
    buttons = "".join(
        f'<p><button type="submit" name="outcome" value="{value}" id="{value}">{escape(label)}</button> '
        f"<small>{escape(note)}</small></p>" for value, label, note in choices
    )
    body = (f"<p>Express account <code>{escape(account['id'])}</code> ({escape(account.get('email') or 'no email')}, "
            f"{escape(account['country'])}).</p><p>Currently: details submitted <strong>{account['details_submitted']}"
            f"</strong>, charges enabled <strong>{account['charges_enabled']}</strong>, payouts enabled <strong>"
            f"{account['payouts_enabled']}</strong>.</p><form method=\"post\" action=\"\">{buttons}</form>")
    return page("Set up payouts for your shop", body)


def router(engine: Standin) -> APIRouter:
    r = APIRouter()

    @r.get("/c/pay/{session_id}", response_class=HTMLResponse)
    async def show_checkout(session_id: str) -> Response:
        with engine.store.transaction():
            session = engine.store.get(session_id, "checkout.session")
            if session is None:
                return page("Checkout", "<p>Something went wrong: no such Checkout Session.</p>", 404)
            session = engine.session(session_id)
        return checkout_page(session, {})

    @r.post("/c/pay/{session_id}")
    async def pay(request: Request, session_id: str) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        session = engine.store.get(session_id, "checkout.session")
        if session is None:
            return page("Checkout", "<p>Something went wrong: no such Checkout Session.</p>", 404)
        details = PaymentDetails(
            email=form.get("email", "").strip() or None,
            name=form.get("name", "").strip() or "",
            address=address_from("billing", form),
            phone=form.get("phone", "").strip() or None,
            shipping_name=form.get("shipping_name", "").strip() or None,
            shipping_address=address_from("shipping", form) if session["shipping_address_collection"] else None,
        )
        missing = [label for label, value in (("name", details.name), ("billing postal code",
                   details.address.get("postal_code")), ("billing country", details.address.get("country"))) if not value]
        if session["billing_address_collection"] == "required":
            missing += [label for label, key in (("billing address line 1", "line1"), ("billing city", "city"))
                        if not details.address.get(key)]
        if missing:
            return checkout_page(session, form, f"Please fill in: {', '.join(missing)}.", 400)
        try:
            with engine.store.transaction():
                paid = engine.pay_session(session_id, details, str(request.base_url).rstrip("/"))
        except StripeError as error:
            return checkout_page(engine.session(session_id), form, error.message, 400)
        target = (paid["success_url"] or "/").replace("{CHECKOUT_SESSION_ID}", paid["id"])
        return RedirectResponse(target, status_code=303)

    @r.get("/setup/s/{account_id}/{token}", response_class=HTMLResponse)
    async def show_onboarding(account_id: str, token: str) -> Response:
        link = engine.link(token)
        if link is None or link["account"] != account_id:
            return page("Set up payouts", "<p>This link is not valid.</p>", 404)
        if link["used"] or link["expires_at"] < now():
            # Stripe sends a used or expired link to refresh_url, where the platform makes a new one.
            return RedirectResponse(link["refresh_url"] or "/", status_code=303)
        return onboarding_page(engine.need(account_id, "account"), token)

    @r.post("/setup/s/{account_id}/{token}")
    async def finish_onboarding(request: Request, account_id: str, token: str) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        outcome = form.get("outcome", "")
        if outcome not in ("complete", "payouts_disabled", "pending_verification", "abandon"):
            return page("Set up payouts", "<p>Choose one of the buttons.</p>", 400)
        link = engine.link(token)
        if link is None or link["account"] != account_id:
            return page("Set up payouts", "<p>This link is not valid.</p>", 404)
        with engine.store.transaction():
            target = engine.use_link(token, outcome)
        return RedirectResponse(target, status_code=303)

    @r.get("/receipts/{charge_id}", response_class=HTMLResponse)
    async def receipt(charge_id: str) -> Response:
        ch = engine.store.get(charge_id, "charge")
        if ch is None:
            return page("Receipt", "<p>No such receipt.</p>", 404)
        return page("Receipt", f"<p>Charge <code>{escape(ch['id'])}</code>: {money(ch['amount'], ch['currency'])}, "
                               f"refunded {money(ch['amount_refunded'], ch['currency'])}.</p>")

    return r
