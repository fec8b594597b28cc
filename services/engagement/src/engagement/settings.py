from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class EngagementSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ENGAGEMENT_", extra="ignore")

    service_name: str = "engagement"
    database_url: str = "sqlite+aiosqlite:///./var/data/engagement.db"

    # Ingestion (E1, docs/decisions/0501): requests queue in memory, a loop writes batches.
    ingest_flush_seconds: float = Field(default=0.25, gt=0)
    ingest_max_batch: int = Field(default=2_000, gt=0)
    ingest_max_pending: int = Field(default=100_000, gt=0)
    # How long a visitor session lives at the gateway: ADD_TO_CART counts once per product in it.
    visitor_session_hours: float = Field(default=24 * 14, gt=0)
    # Raw engagement events are kept this long (the aggregates, which everything reads, forever).
    raw_event_retention_days: float = Field(default=35.0, ge=31)

    # Trending (C7, docs/decisions/0502): how often changed scores are recomputed and published.
    trending_interval_seconds: float = Field(default=10.0, gt=0)
    trending_max_per_event: int = Field(default=1_000, gt=0)

    # Q&A posting limits per user (threads, replies, reports), "limits" notation.
    qa_post_rate_limits: str = "5/minute;30/hour"
    # Where the counts live: per process by default; a shared `limits` storage (async+redis://...) with replicas.
    rate_limit_storage: str = "async+memory://"
