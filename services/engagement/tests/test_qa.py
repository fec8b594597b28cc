"""Q1-Q3: Q&A threads on listed products, who may reply, soft delete (author within 30 minutes,
staff later), reports never hide and are resolved by staff (who, when); posting is rate-limited
per user with a clear 429; text is stored as typed (never HTML)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from support import Engagement, running_engagement

from engagement.models import QaMessage, QaReport, QaThread

TABLES = (QaThread, QaMessage, QaReport)
HTML = '<script>alert("x")</script> & <b>bold</b>'


async def ask(eng: Engagement, user: str, product: str, body: str = "Does it fit?", **extra: Any) -> Any:
    return await eng.client.post(f"/products/{product}/threads", json={"body": body, **extra}, headers=eng.user(user))


async def reply(eng: Engagement, headers: dict[str, str], thread: str, body: str = "Yes.") -> Any:
    return await eng.client.post(f"/threads/{thread}/messages", json={"body": body}, headers=headers)


async def test_q1_threads_replies_and_the_product_page_listing(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="seller-1")
    response = await ask(eng, "asker", p, HTML, subject="Size?")
    assert response.status_code == 201, response.text
    thread = response.json()
    assert (thread["subject"], thread["messages"][0]["body"], thread["author_name"]) == ("Size?", HTML, "name-asker")
    tid = thread["id"]
    assert (await reply(eng, eng.user("asker"), tid, "Also, colour?")).status_code == 201  # the thread's buyer
    assert (await reply(eng, eng.user("seller-1", "seller"), tid, "Fits A4.")).status_code == 201  # the seller
    assert (await reply(eng, eng.staff(), tid, "Moderator here.")).status_code == 201

    other = (await ask(eng, "someone", p, "Older question")).json()["id"]
    # Activity moves the first thread back to the top.
    assert (await reply(eng, eng.user("asker"), tid, "Bump")).status_code == 201
    page = (await eng.client.get(f"/products/{p}/threads")).json()
    assert page["count"] == 2
    assert [t["id"] for t in page["threads"]] == [tid, other]
    assert [m["body"] for m in page["threads"][0]["messages"]] == [HTML, "Also, colour?", "Fits A4.", "Moderator here.", "Bump"]


async def test_q1_refusals_write_nothing(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="seller-1")
    gone = await eng.publish_product(seller_id="seller-1")
    await eng.unlist_product(gone)
    tid = (await ask(eng, "asker", p)).json()["id"]
    before = await eng.counts(*TABLES)
    cases = [
        (await reply(eng, eng.user("stranger"), tid), 403),  # a reply by a stranger
        (await reply(eng, eng.user("seller-2", "seller"), tid), 403),  # another seller
        (await reply(eng, eng.owner(), tid), 403),  # owners are not staff (Q1 names staff)
        (await reply(eng, eng.user("asker"), "00000000-0000-0000-0000-000000000000"), 404),
        (await ask(eng, "asker", gone), 409),  # a thread on an unlisted product
        (await ask(eng, "asker", "no-such-product"), 404),
        (await ask(eng, "asker", p, ""), 422),
        (await ask(eng, "asker", p, "   \n "), 422),
        (await ask(eng, "asker", p, "x" * 5001), 422),
        (await ask(eng, "asker", p, "ok", subject="s" * 181), 422),
        (await ask(eng, "asker", p, "nul\x00byte"), 422),
        (await eng.client.post(f"/products/{p}/threads", json={"body": "anonymous"}), 401),
    ]
    for response, expected in cases:
        assert response.status_code == expected, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert await eng.counts(*TABLES) == before


async def test_q2_soft_delete_by_the_author_within_30_minutes_then_only_staff(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="seller-1")
    thread = (await ask(eng, "asker", p)).json()
    first = thread["messages"][0]["id"]
    second = (await reply(eng, eng.user("asker"), thread["id"], "second")).json()["id"]
    third = (await reply(eng, eng.user("asker"), thread["id"], "third")).json()["id"]

    before = await eng.counts(*TABLES)
    assert (await eng.client.delete(f"/messages/{first}", headers=eng.user("seller-1", "seller"))).status_code == 403
    # 31 minutes later the author may no longer delete; staff still can.
    async with eng.session() as session:
        for mid in (second, third):
            message = await session.get(QaMessage, uuid.UUID(mid))
            message.created_at = message.created_at - dt.timedelta(minutes=31)
    late = await eng.client.delete(f"/messages/{second}", headers=eng.user("asker"))
    assert late.status_code == 403 and "30 minutes" in late.json()["detail"]
    assert await eng.counts(*TABLES) == before
    async with eng.session() as session:
        assert all(m.deleted_at is None for m in (await session.scalars(select(QaMessage))).all())

    mine = await eng.client.delete(f"/messages/{first}", headers=eng.user("asker"))
    assert mine.status_code == 200 and mine.json()["deleted"] is True and mine.json()["body"] == ""
    by_staff = await eng.client.delete(f"/messages/{third}", headers=eng.staff())
    assert by_staff.status_code == 200 and by_staff.json()["deleted"] is True
    page = (await eng.client.get(f"/products/{p}/threads")).json()
    # In posting order (second and third were moved 31 minutes back): second, third, first.
    assert [(m["deleted"], m["body"]) for m in page["threads"][0]["messages"]] == [(False, "second"), (True, ""), (True, "")]
    async with eng.session() as session:
        row = await session.get(QaMessage, uuid.UUID(third))
        assert row.deleted_by == "staff-1" and row.body == "third"  # soft: kept for staff


async def test_q3_reports_never_hide_and_staff_resolve_them_recording_who_and_when(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="seller-1")
    thread = (await ask(eng, "asker", p, "Buy followers cheap")).json()
    mid = thread["messages"][0]["id"]
    response = await eng.client.post(f"/messages/{mid}/reports", json={"reason": "spam", "details": "<i>ad</i>"},
                                     headers=eng.user("reader"))
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["status"], report["reason"], report["details"]) == ("open", "spam", "<i>ad</i>")
    page = (await eng.client.get(f"/products/{p}/threads")).json()
    assert page["threads"][0]["messages"][0]["body"] == "Buy followers cheap"  # never auto-hidden

    assert (await eng.client.get("/staff/reports", headers=eng.user("reader"))).status_code == 403
    queue = (await eng.client.get("/staff/reports", headers=eng.staff())).json()
    assert queue["total"] == 1 and queue["reports"][0]["message_body"] == "Buy followers cheap"
    assert (await eng.client.post(f"/staff/reports/{report['id']}/resolve", headers=eng.user("reader"))).status_code == 403
    resolved = (await eng.client.post(f"/staff/reports/{report['id']}/resolve", headers=eng.staff("staff-7"))).json()
    assert resolved["status"] == "resolved" and resolved["resolved_by"] == "staff-7" and resolved["resolved_at"]
    again = (await eng.client.post(f"/staff/reports/{report['id']}/resolve", headers=eng.staff("staff-8"))).json()
    assert (again["resolved_by"], again["resolved_at"]) == ("staff-7", resolved["resolved_at"])
    assert (await eng.client.get("/staff/reports", headers=eng.staff())).json()["total"] == 0
    assert (await eng.client.get("/staff/reports?status=resolved", headers=eng.staff())).json()["total"] == 1

    # Reporting a deleted message, or with a reason that is not on the list: refused, nothing written.
    await eng.client.delete(f"/messages/{mid}", headers=eng.user("asker"))
    before = await eng.counts(*TABLES)
    deleted = await eng.client.post(f"/messages/{mid}/reports", json={"reason": "spam"}, headers=eng.user("reader"))
    assert deleted.status_code == 409 and deleted.headers["content-type"] == "application/problem+json"
    assert await eng.counts(*TABLES) == before
    other = (await ask(eng, "asker", p, "fine")).json()["messages"][0]["id"]
    before = await eng.counts(*TABLES)
    bad = await eng.client.post(f"/messages/{other}/reports", json={"reason": "rude"}, headers=eng.user("reader"))
    assert bad.status_code == 422
    assert await eng.counts(*TABLES) == before


async def test_posting_is_rate_limited_per_user_with_a_clear_429(
    database_url: str, nats_url: str, identity_keys: tuple[str, str]
) -> None:
    async with running_engagement(database_url, nats_url, identity_keys, qa_post_rate_limits="3/minute") as eng:
        p = await eng.publish_product()
        for i in range(3):
            assert (await ask(eng, "chatty", p, f"q{i}")).status_code == 201
        before = await eng.counts(*TABLES)
        limited = await ask(eng, "chatty", p, "one more")
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "at most 3 per minute" in limited.json()["detail"]
        assert await eng.counts(*TABLES) == before
        assert (await ask(eng, "someone-else", p, "my turn")).status_code == 201  # per user
