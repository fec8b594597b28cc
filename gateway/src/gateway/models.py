"""The gateway service's tables: its users and their server-side sessions (I1-I3).
The messaging tables (outbox, inbox, dead letters) come from shared."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from homecraft_shared.db import Base, UtcDateTime, utcnow
from homecraft_shared.messaging import tables as messaging_tables

__all__ = ["Base", "User", "WebSession", "messaging_tables"]


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(150))
    # Usernames are unique case-insensitively (I2): the lower-cased form carries the constraint.
    username_key: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_seller: Mapped[bool] = mapped_column(Boolean, default=False)
    is_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    shop_name: Mapped[str] = mapped_column(String(120), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The profile (I2): everything optional, validated as the seed does.
    first_name: Mapped[str] = mapped_column(String(150), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(150), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(20), default="", server_default="")
    phone2: Mapped[str] = mapped_column(String(20), default="", server_default="")
    address_line1: Mapped[str] = mapped_column(String(200), default="", server_default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    state: Mapped[str] = mapped_column(String(2), default="", server_default="")
    zip_code: Mapped[str] = mapped_column(String(10), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A browser's session, held server-side (revocable); the cookie carries only a random key whose
    SHA-256 is the primary key. Anonymous visitors have one too (their cart)."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user_id", "user_id"), Index("ix_web_sessions_expires_at", "expires_at"))

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(timezone=True))
