"""``GET /_standin/``: a plain page standing in for the bits of Stripe's dashboard a person needs
while clicking through the marketplace: onboarding states, refunds "from the dashboard", disputes,
the webhook record with re-send, and the chaos switch. Every button posts to a control."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from stripe_standin import objects
from stripe_standin.engine import Standin
from stripe_standin.pages import money, page

__all__ = ["overview", "page"]

LATEST = 20


def _button(action: str, label: str, fields: dict[str, str] | None = None, extra: str = "") -> str:
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in (fields or {}).items())
    return (f'<form method="post" action="{escape(action)}" style="display:inline">{hidden}{extra}'
            f'<button type="submit">{escape(label)}</button></form>')


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p><em>none yet</em></p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def overview(engine: Standin) -> HTMLResponse:
    store = engine.store
    chaos = engine.deliverer.chaos
    sections = []

    state = "on" if chaos.enabled else "off"
    toggle = _button("/_standin/chaos", "Turn chaos off" if chaos.enabled else "Turn chaos on",
                     {"enabled": "false" if chaos.enabled else "true"})
    sections.append(f"<h2>Webhook chaos: {state}</h2><p>When on, every event is delivered {chaos.copies} times, "
                    f"late and newest first. {toggle}</p>")

    accounts, _ = store.page("account", {}, LATEST)
    choose = ('<select name="state">' + "".join(f'<option value="{s}">{s}</option>' for s in objects.ONBOARDING_STATES)
              + "</select>")
    sections.append("<h2>Connected accounts</h2>" + _table(
        ["account", "email", "details", "charges", "payouts", "set onboarding"],
        [[f"<code>{escape(a['id'])}</code>", escape(a.get("email") or ""), str(a["details_submitted"]),
          str(a["charges_enabled"]), str(a["payouts_enabled"]),
          _button(f"/_standin/accounts/{a['id']}/onboarding", "Set", extra=choose)] for a in accounts]))

    sessions, _ = store.page("checkout.session", {}, LATEST)
    sections.append("<h2>Checkout Sessions</h2>" + _table(
        ["session", "total", "status", ""],
        [[f'<a href="/c/pay/{escape(cs["id"])}"><code>{escape(cs["id"][:24])}…</code></a>',
          money(cs["amount_total"], cs["currency"]), escape(cs["status"]),
          _button(f"/_standin/checkout/sessions/{cs['id']}/expire", "Expire") if cs["status"] == "open" else ""]
         for cs in sessions]))

    charges, _ = store.page("charge", {}, LATEST)
    amount = '<input name="amount" size="7" placeholder="all">'
    reason = ('<select name="reason">' + "".join(f'<option value="{r}">{r}</option>' for r in
                                               ("fraudulent", "product_not_received", "product_unacceptable", "duplicate"))
              + "</select>")
    sections.append("<h2>Payments</h2>" + _table(
        ["charge", "amount", "refunded", "disputed", "refund from the dashboard", "dispute"],
        [[f"<code>{escape(c['id'])}</code>", money(c["amount"], c["currency"]),
          money(c["amount_refunded"], c["currency"]), str(c["disputed"]),
          _button("/_standin/refunds", "Refund", {"charge": c["id"]}, amount),
          _button("/_standin/disputes", "Open dispute", {"charge": c["id"]}, reason)] for c in charges]))

    disputes, _ = store.page("dispute", {}, LATEST)
    sections.append("<h2>Disputes</h2>" + _table(
        ["dispute", "charge", "amount", "status", ""],
        [[f"<code>{escape(d['id'])}</code>", f"<code>{escape(d['charge'])}</code>", money(d["amount"], d["currency"]),
          escape(d["status"]),
          "" if d["status"] in ("won", "lost") else
          _button(f"/_standin/disputes/{d['id']}/update", "Under review", {"status": "under_review"})
          + _button(f"/_standin/disputes/{d['id']}/close", "Won", {"outcome": "won"})
          + _button(f"/_standin/disputes/{d['id']}/close", "Lost", {"outcome": "lost"})] for d in disputes]))

    refunds, _ = store.page("refund", {}, LATEST)
    sections.append("<h2>Refunds</h2>" + _table(
        ["refund", "charge", "amount", "status", ""],
        [[f"<code>{escape(r['id'])}</code>", f"<code>{escape(r['charge'])}</code>", money(r["amount"], r["currency"]),
          escape(r["status"]),
          _button(f"/_standin/refunds/{r['id']}/status", "Mark failed", {"status": "failed"})
          if r["status"] in ("pending", "succeeded") else ""] for r in refunds]))

    rows = []
    for event, endpoint in store.events(None, 30):
        deliveries = store.deliveries(event["id"])
        states = ", ".join(f"{d['state']} ({d['attempts']} tries, last {d['last_status'] or d['last_error'] or '-'})"
                           for d in deliveries) or "not sent (no endpoint)"
        rows.append([f"<code>{escape(event['id'])}</code>", escape(event["type"]), endpoint, escape(states),
                     _button(f"/_standin/events/{event['id']}/resend", "Re-send")])
    sections.append("<h2>Events (newest first)</h2>" + _table(["event", "type", "endpoint", "deliveries", ""], rows))
    return page("Stripe stand-in controls", "".join(sections), wide=True)
