"""Outgoing email through the database: queued in the caller's transaction, sent by a worker.

``queue_mail`` adds a row to ``outgoing_mail`` inside the caller's transaction, so an email exists
exactly when the state change that caused it committed (a payment, a refund decision). A
``MailWorker`` in the service sends due rows over real SMTP (aiosmtplib), marks them sent, and on
failure retries with backoff up to ``max_attempts``, then leaves the row failed for an operator.

Delivery is at least once: a crash after the SMTP server accepted a message and before the row was
marked sent sends it again, with the same ``Message-ID`` header (fixed when the row was queued), so
mail systems and readers can recognise the copy. Each row also has a unique ``dedupe_key`` chosen by
the caller ("order-paid:<order id>"): queueing the same email twice is refused by the database.

A message is addressed either to an email address (``to=``) or to a registered user's id
(``to_user=``; decision 0602). A user's address is not known to the service that queues the mail
(accounts live with the gateway), so it is looked up when the worker SENDS the row, through a
``ContactDirectory`` (``HttpContactDirectory``: the gateway's ``GET /internal/users/{id}/contact``
with the service's own token). The event handler or request that queued it never waits on HTTP.
When the directory cannot be asked (down, refusing this service), the row waits and is tried again
with a backoff that grows with its age (no SMTP attempt is spent, and it is never given up: the
mail is delayed, not lost); a user the directory does not know, or one with no email address, is a
final answer: the row is closed as failed with the reason in ``last_error``. The row keeps the user
reference (``to_address`` is ``user:<id>``), so a retry uses the address current at that time.

Only services that send mail import this module (it adds a table to their metadata); their
migration calls ``create_outgoing_mail_table``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from homecraft_shared.db import Base, BigIntPK, UtcDateTime, dialect_of, utcnow
from homecraft_shared.http_client import ServiceClient, ServiceUnavailable
from homecraft_shared.identity import ServiceSigner

logger = logging.getLogger(__name__)


class OutgoingMail(Base):
    __tablename__ = "outgoing_mail"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    message_id: Mapped[str] = mapped_column(sa.String(200))
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    failed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


def create_outgoing_mail_table(op: Any) -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", UtcDateTime, nullable=True),
        sa.Column("failed_at", UtcDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outgoing_mail_dedupe_key")),
    )
    op.create_index(op.f("ix_outgoing_mail_next_attempt_at"), "outgoing_mail", ["next_attempt_at"])


def drop_outgoing_mail_table(op: Any) -> None:
    op.drop_index(op.f("ix_outgoing_mail_next_attempt_at"), table_name="outgoing_mail")
    op.drop_table("outgoing_mail")


# ``to_address`` of a message addressed to a registered user: ``user:<id>``, resolved when sent.
USER_RECIPIENT = "user:"


def user_recipient(to_address: str) -> str | None:
    """The user id a queued message is addressed to, or None when it names an email address."""
    return to_address.removeprefix(USER_RECIPIENT) if to_address.startswith(USER_RECIPIENT) else None


async def queue_mail(session: AsyncSession, *, dedupe_key: str, subject: str, body: str, to: str | None = None,
                     to_user: str | None = None, sender_domain: str = "homecraft3d.local") -> OutgoingMail | None:
    """Queue an email in the caller's transaction, to an address (``to``) or to a registered user's id
    (``to_user``, resolved by the worker when it sends); None if one with this dedupe key exists already."""
    if (to is None) == (to_user is None):
        raise ValueError("queue_mail: give exactly one of to= (an email address) and to_user= (a user id)")
    if to is not None and "@" not in to:
        raise ValueError(f"queue_mail: {to!r} is not an email address")
    if to_user is not None and not to_user.strip():
        raise ValueError("queue_mail: to_user= must name a user id")
    existing = await session.scalar(sa.select(OutgoingMail.id).where(OutgoingMail.dedupe_key == dedupe_key))
    if existing is not None:
        return None
    now = utcnow()
    mail = OutgoingMail(dedupe_key=dedupe_key, message_id=f"<{uuid.uuid4()}@{sender_domain}>",
                        to_address=to if to is not None else f"{USER_RECIPIENT}{to_user}",
                        subject=subject, body_text=body, created_at=now, next_attempt_at=now, attempts=0)
    session.add(mail)
    return mail


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "Home Craft 3D <no-reply@homecraft3d.local>"
    username: str | None = None
    password: str | None = None
    start_tls: bool = False
    use_tls: bool = False
    timeout_seconds: float = 10.0
    max_attempts: int = 8
    backoff_seconds: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0, 1800.0)
    poll_seconds: float = 1.0
    batch: int = 20

    def delay_after(self, attempt: int) -> float:
        return self.backoff_seconds[max(1, min(attempt, len(self.backoff_seconds))) - 1]

    def delay_for_age(self, age_seconds: float) -> float:
        """How long a message whose recipient could not be resolved waits: as long as it has waited
        already, between the first and the last backoff step (so the waits double, without a counter)."""
        return min(max(age_seconds, self.backoff_seconds[0]), self.backoff_seconds[-1])


@dataclass(frozen=True)
class Contact:
    """Where a registered user gets mail: None when the account has no email address."""

    email: str | None
    display_name: str


class RecipientUnavailable(Exception):
    """The contact directory could not answer now (down, slow, refusing this service): try again later."""


class ContactDirectory(Protocol):
    async def contact(self, user_id: str) -> Contact | None:
        """The user's contact; None when the directory does not know this user (a final answer).
        Raises ``RecipientUnavailable`` when it cannot answer now."""
        ...


class HttpContactDirectory:
    """Contacts from an HTTP endpoint answering ``{"email": ..., "display_name": ...}`` (the gateway's
    ``GET /internal/users/{user_id}/contact``), asked with this service's own identity token (0201)."""

    def __init__(self, client: ServiceClient, signer: ServiceSigner | None,
                 path: str = "/internal/users/{user_id}/contact") -> None:
        self._client = client
        self._signer = signer
        self._path = path

    async def contact(self, user_id: str) -> Contact | None:
        if self._signer is None:
            raise RecipientUnavailable("this service has no key of its own to ask the contact directory "
                                       "(set <SERVICE>_SERVICE_PRIVATE_KEY; decision 0201)")
        try:
            response = await self._client.get(self._path.format(user_id=user_id), headers=self._signer.authorization())
        except ServiceUnavailable as exc:
            raise RecipientUnavailable(f"the contact directory could not be reached: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RecipientUnavailable(f"the contact directory answered {response.status_code}: {response.text[:300]}")
        try:
            body = response.json()
            return Contact(email=body.get("email") or None, display_name=str(body.get("display_name") or ""))
        except (ValueError, AttributeError) as exc:  # not the JSON object the endpoint promises: ask again later
            raise RecipientUnavailable(f"the contact directory answered something unreadable: {exc}") from exc


def build_message(mail: OutgoingMail, sender: str, to: str | Address | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to if to is not None else mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message.set_content(mail.body_text)
    return message


class MailWorker:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: SmtpSettings,
                 directory: ContactDirectory | None = None) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._directory = directory

    async def run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except Exception:
                logger.exception("mail worker pass failed")
                sent = 0
            if not sent:
                await asyncio.sleep(self._settings.poll_seconds)

    async def send_due(self) -> int:
        """One pass: send every due message (up to a batch); returns how many were attempted."""
        now = utcnow()
        query = (
            sa.select(OutgoingMail)
            .where(OutgoingMail.sent_at.is_(None), OutgoingMail.failed_at.is_(None), OutgoingMail.next_attempt_at <= now)
            .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
            .limit(1)
        )
        attempted = 0
        while attempted < self._settings.batch:
            # One message per transaction: its outcome is recorded before the next is tried.
            async with self._sessionmaker() as session:
                if dialect_of(session) != "sqlite":
                    # Replicas: a row being sent stays locked; the other worker skips it.
                    query = query.with_for_update(skip_locked=True)
                mail = await session.scalar(query)
                if mail is None:
                    return attempted
                await self._attempt(mail)
                await session.commit()
            attempted += 1
        return attempted

    async def _recipient(self, mail: OutgoingMail) -> str | Address | None:
        """Where to send ``mail`` now; None when it must wait or was closed (the row says which)."""
        user_id = user_recipient(mail.to_address)
        if user_id is None:
            return mail.to_address
        now = utcnow()
        try:
            if self._directory is None:
                raise RecipientUnavailable("this service has no contact directory to address users")
            contact = await self._directory.contact(user_id)
        except RecipientUnavailable as exc:
            # Not an SMTP attempt: the mail waits (longer each time) and is never given up for this.
            mail.last_error = f"recipient not resolved yet: {exc}"[:2000]
            waited = (now - mail.created_at).total_seconds()
            mail.next_attempt_at = now + dt.timedelta(seconds=self._settings.delay_for_age(waited))
            logger.warning("mail recipient not resolved; will retry", extra={"mail_id": mail.id, "user_id": user_id})
            return None
        reason = ("the recipient user is unknown" if contact is None
                  else "the recipient user has no email address" if not contact.email else None)
        if contact is not None and contact.email:
            try:
                # One line of plain words: a display name never carries a header break into the message.
                return Address(display_name=" ".join(contact.display_name.split()), addr_spec=contact.email)
            except (ValueError, HeaderParseError) as exc:
                reason = f"the recipient user's email address is not usable: {exc}"
        mail.failed_at, mail.last_error = now, f"not sent: {reason} ({user_id})"
        logger.warning("mail not sent", extra={"mail_id": mail.id, "user_id": user_id, "reason": reason})
        return None

    async def _attempt(self, mail: OutgoingMail) -> None:
        settings = self._settings
        to = await self._recipient(mail)
        if to is None:
            return
        mail.attempts += 1
        try:
            await aiosmtplib.send(
                build_message(mail, settings.sender, to), hostname=settings.host, port=settings.port,
                username=settings.username, password=settings.password, start_tls=settings.start_tls,
                use_tls=settings.use_tls, timeout=settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            mail.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if mail.attempts >= settings.max_attempts:
                mail.failed_at = utcnow()
                logger.error("mail gave up", extra={"mail_id": mail.id, "attempts": mail.attempts})
            else:
                mail.next_attempt_at = utcnow() + dt.timedelta(seconds=settings.delay_after(mail.attempts))
                logger.warning("mail send failed; will retry", extra={"mail_id": mail.id, "attempts": mail.attempts})
            return
        mail.sent_at = utcnow()
        mail.last_error = None
        logger.info("mail sent", extra={"mail_id": mail.id})
