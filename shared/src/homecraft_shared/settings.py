"""Settings every service shares; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # importing outgoing_mail adds its table to the metadata: only mail-sending services do
    from homecraft_shared.outgoing_mail import SmtpSettings


class ServiceSettings(BaseSettings):
    """Base settings. A service subclass sets ``model_config`` with ``env_prefix="CATALOG_"`` etc.

    ``environment="local"`` is the embedded default (SQLite files, a local nats-server, used by the
    run command and the tests); ``"production"`` refuses to start while a secret in
    ``required_secrets`` is unset, or a setting in ``required_settings`` was not given explicitly
    (their defaults are for local mode, e.g. another service's URL on loopback).
    """

    model_config = SettingsConfigDict(extra="ignore")

    required_secrets: ClassVar[tuple[str, ...]] = ("identity_public_key",)
    required_settings: ClassVar[tuple[str, ...]] = ()

    service_name: str = "service"
    environment: Literal["local", "production"] = "local"
    database_url: str = "sqlite+aiosqlite:///./var/service.db"
    nats_url: str = "nats://127.0.0.1:4222"
    # Number of JetStream replicas for the streams this service produces (3 in production).
    stream_replicas: int = 1
    run_migrations_on_start: bool = True
    identity_public_key: SecretStr | None = None
    # This service's own Ed25519 key (PEM) for calls and grants with no user behind them (decision 0201).
    service_private_key: SecretStr | None = None
    # Public keys (PEM) of the services whose own tokens and grants this service accepts: {"orders": "-----BEGIN ..."}.
    trusted_service_keys: dict[str, str] = {}
    log_level: str = "INFO"
    log_json: bool = True

    # Consumer tuning (see docs/decisions/0004-consumer-settings.md).
    consumer_max_attempts: int = 5
    consumer_ack_wait_seconds: float = 30.0
    consumer_backoff_seconds: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0)
    # SQLite: a consumer's batch commits early once its transaction has held the write lock this long
    # (decision 0309), so a request waiting to write (a webhook's 2xx) waits about this long at most.
    consumer_max_write_hold_seconds: float = Field(default=0.15, ge=0)
    # PostgreSQL, per producer stream: a fetched batch of its events applied in up to this many transactions
    # at once, e.g. {"payments": 4} (decision 0315); other streams, and every stream on SQLite: 1.
    consumer_parallel_transactions: dict[str, Annotated[int, Field(ge=1, le=16)]] = {}
    relay_poll_seconds: float = 0.5
    # Events are published right after their commit by the process that committed them (decision 0323); the
    # relay publishes the rows that are still unpublished this long after they were written (that process died
    # or NATS was away meanwhile). False: the relay publishes everything, woken by this process's commits, and
    # the events a producer publishes with no outbox row (decision 0328) wait for that producer's own sweep.
    outbox_eager_publishing: bool = True
    relay_grace_seconds: float = Field(default=2.0, gt=0)
    # A JSON warning (and homecraft_event_loop_lag_warnings_total) when the event loop runs late by more
    # than this (decision 0309); 0 turns the watch off.
    loop_lag_warning_seconds: float = Field(default=0.2, ge=0)
    # The long-lived heap is frozen out of the garbage collector at start-up and again this long after it,
    # when the first traffic has filled the lazily built caches (decision 0312); 0: only at start-up.
    heap_freeze_after_seconds: float = Field(default=20.0, ge=0)

    # Retention of the messaging tables (homecraft_shared.messaging.retention).
    retention_published_outbox_days: float = 7.0
    retention_inbox_days: float = 45.0
    retention_replayed_dead_letter_days: float = 90.0
    retention_interval_seconds: float = 3600.0

    @model_validator(mode="after")
    def _secrets_outside_local(self) -> ServiceSettings:
        if self.environment != "local":
            prefix = self.model_config.get("env_prefix", "")
            missing = [name for name in self.required_secrets if not getattr(self, name)]
            if missing:
                names = ", ".join(f"{prefix}{name}".upper() for name in missing)
                raise ValueError(f"these secrets must be set outside local mode: {names}")
            unset = [name for name in self.required_settings if name not in self.model_fields_set]
            if unset:
                names = ", ".join(f"{prefix}{name}".upper() for name in unset)
                raise ValueError(f"these settings must be set outside local mode (their defaults are local): {names}")
        return self


class SmtpSettingsMixin(BaseModel):
    """The outgoing-mail settings of a service that sends email (``homecraft_shared.outgoing_mail``).

    Mixed into a service's settings (``class OrdersSettings(ServiceSettings, SmtpSettingsMixin)``), so
    they read ``<PREFIX>_SMTP_HOST``, ``<PREFIX>_MAIL_MAX_ATTEMPTS``... The defaults point at the run
    command's local mail catcher.
    """

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_sender: str = "Home Craft 3D <no-reply@homecraft3d.local>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_max_attempts: int = Field(default=8, ge=1)
    mail_backoff_seconds: tuple[float, ...] = (2.0, 10.0, 60.0, 300.0, 1800.0)
    mail_poll_seconds: float = Field(default=1.0, gt=0)

    def smtp(self) -> SmtpSettings:
        from homecraft_shared.outgoing_mail import SmtpSettings

        return SmtpSettings(
            host=self.smtp_host, port=self.smtp_port, sender=self.smtp_sender, username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            start_tls=self.smtp_start_tls, use_tls=self.smtp_use_tls, timeout_seconds=self.smtp_timeout_seconds,
            max_attempts=self.mail_max_attempts, backoff_seconds=self.mail_backoff_seconds,
            poll_seconds=self.mail_poll_seconds,
        )
