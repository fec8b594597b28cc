"""Ingestion request and response bodies (E1)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engagement.models import EventKind

MAX_EVENTS_PER_CALL = 1_000


class EngagementEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: EventKind
    product_id: str = Field(min_length=1, max_length=64)
    visitor: str = Field(min_length=1, max_length=200, description="The visitor's session key (hashed before use).")


class EngagementBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EngagementEventIn] = Field(min_length=1, max_length=MAX_EVENTS_PER_CALL)


class EngagementAccepted(BaseModel):
    queued: int = Field(description="Events queued for recording (throttles apply when they are written).")
    dropped: int = Field(description="Events dropped because the ingestion buffer is full (best effort, E1).")


class IngestionStats(BaseModel):
    pending: int
    received: int
    recorded: int
    throttled: int
    unknown_product: int
    dropped_full: int
    dropped_failed: int
    batches: int
