"""The one envelope every event travels in (see ../shared/spec/architecture.md, "Events")."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(description="Unique event id; also the JetStream Nats-Msg-Id and the dedupe key.")
    type: str = Field(description="entity.past_verb, e.g. order.paid")
    version: int = Field(ge=1)
    source: str = Field(description="The producing service.")
    occurred_at: dt.datetime
    correlation_id: str
    causation_id: str | None = None
    subject_id: str = Field(description="The aggregate the event is about.")
    data: dict[str, Any]

    @property
    def subject(self) -> str:
        return subject_for(self.type, self.version)


def subject_for(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"
