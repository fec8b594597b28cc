"""FastAPI dependencies of the engagement service: its settings and the ingestion buffer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from engagement.ingestion.buffer import IngestionBuffer
from engagement.settings import EngagementSettings
from homecraft_shared.dependencies import resource, settings_of

Settings = Annotated[EngagementSettings, Depends(settings_of(EngagementSettings))]
Buffer = Annotated[IngestionBuffer, Depends(resource(IngestionBuffer))]
