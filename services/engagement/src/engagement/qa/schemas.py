"""Q&A bodies (Q1-Q3). Text is stored as typed and returned as JSON text: never HTML."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engagement.models import ReportReason, ReportStatus
from homecraft_shared.inputs import Line, Text

SUBJECT_MAX = 180
BODY_MAX = 5_000
DETAILS_MAX = 2_000


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _HasBody(_Input):
    body: Annotated[Text, Field(min_length=1, max_length=BODY_MAX)]

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message cannot be blank")
        return value


class ThreadIn(_HasBody):
    subject: Annotated[Line, Field(max_length=SUBJECT_MAX)] = ""


class ReplyIn(_HasBody):
    pass


class ReportIn(_Input):
    reason: ReportReason
    details: Annotated[Text, Field(max_length=DETAILS_MAX)] = ""


class MessageOut(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    author_id: str
    author_name: str
    body: str  # empty once deleted
    created_at: dt.datetime
    deleted: bool
    deleted_at: dt.datetime | None


class ThreadOut(BaseModel):
    id: uuid.UUID
    product_id: str
    author_id: str
    author_name: str
    subject: str
    created_at: dt.datetime
    last_activity_at: dt.datetime
    messages: list[MessageOut]


class ProductThreads(BaseModel):
    """The product page's Q&A (C9): the 20 threads with the newest activity, and how many there are."""

    product_id: str
    count: int
    threads: list[ThreadOut]


class ReportOut(BaseModel):
    id: uuid.UUID
    message_id: uuid.UUID
    thread_id: uuid.UUID
    product_id: str
    message_body: str
    message_deleted: bool
    reporter_id: str
    reason: ReportReason
    details: str
    status: ReportStatus
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    resolved_by: str | None


class ReportQueue(BaseModel):
    total: int
    reports: list[ReportOut]
