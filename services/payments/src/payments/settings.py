from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    """Without real Stripe keys the service talks to the local Stripe stand-in (``stripe_api_base``);
    with Stripe test-mode keys and webhook secrets (and ``stripe_api_base`` = https://api.stripe.com)
    the same code talks to Stripe."""

    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    required_secrets: ClassVar[tuple[str, ...]] = (
        "identity_public_key", "stripe_secret_key", "stripe_webhook_secret", "stripe_connect_webhook_secret")

    service_name: str = "payments"
    database_url: str = "sqlite+aiosqlite:///./var/data/payments.db"

    # Stripe (docs/decisions/0401-stripe-standin.md): the official library's StripeClient pointed at this
    # base address. The run command points these at the offline stand-in unless
    # PAYMENTS_STRIPE_SECRET_KEY is already set (then: real Stripe test mode). Unset secrets in local
    # mode fall back to the stand-in's defaults (below).
    stripe_api_base: str = "https://api.stripe.com"
    stripe_secret_key: SecretStr | None = None
    # Signing secrets of the platform endpoint (/webhooks/stripe) and the Connect one (/webhooks/stripe/connect).
    stripe_webhook_secret: SecretStr | None = None
    stripe_connect_webhook_secret: SecretStr | None = None
    # Signatures older than this are refused (Stripe's library default).
    stripe_webhook_tolerance_seconds: int = Field(default=300, gt=0)
    stripe_timeout_seconds: float = Field(default=20.0, gt=0)
    stripe_max_network_retries: int = Field(default=2, ge=0)

    # The orders service (the order as it is now, for Checkout: P3, O5).
    orders_url: str = "http://127.0.0.1:8102"
    orders_timeout_seconds: float = Field(default=5.0, gt=0)
    # Where people open links (the storefront, i.e. the gateway): Checkout and Connect return URLs.
    public_base_url: str = "http://127.0.0.1:8000"

    # Live reconciliation with Stripe as a job (decision 0305): every replica checks this often whether a
    # run is due; one runner at a time across replicas (a lease row), which holds it at most
    # reconciliation_lease_seconds (a crashed runner's lease expires).
    reconciliation_scheduled: bool = True
    reconciliation_interval_seconds: float = Field(default=3600.0, gt=0)
    reconciliation_lease_seconds: float = Field(default=900.0, gt=0)

    # How often Stripe events that wait for an order are checked again (decision 0302).
    waiting_sweep_seconds: float = Field(default=2.0, gt=0)
    # A stored Stripe event not processed this long after it arrived has its fact sent again (NATS holds the
    # facts in memory and loses them when it restarts); looked for this often (decision 0327).
    lost_fact_after_seconds: float = Field(default=60.0, gt=0)
    # How often planned payout transfers are looked for besides the wake-up by their plan's commit in this
    # process (other replicas' plans; a maker that died mid-way): decision 0316.
    transfer_poll_seconds: float = Field(default=5.0, gt=0)
    # Stripe calls of the transfer maker at a time (a call to Stripe takes hundreds of ms).
    transfers_at_once: int = Field(default=8, ge=1, le=64)

    # PostgreSQL: a fetched batch of Stripe events (this service's own stream) is applied in up to 4
    # transactions at once (decision 0315). Their handlers lock orders' rows and, at the commit, the sellers'
    # balances in one statement in seller order, so two parts wait for each other in a cycle only when each
    # holds an order the other wants next (PostgreSQL then fails one, whose part goes one by one). Not
    # order.paid: its payouts lock sellers' balances in the middle of a batch, so two parts paying the same
    # sellers would meet in cycles often. SQLite: 1, whatever this says.
    consumer_parallel_transactions: dict[str, Annotated[int, Field(ge=1, le=16)]] = {"payments": 4}

    def secret_key(self) -> str:
        return _secret(self.stripe_secret_key, LOCAL_SECRET_KEY)

    def webhook_secret(self) -> str:
        return _secret(self.stripe_webhook_secret, LOCAL_WEBHOOK_SECRET)

    def connect_webhook_secret(self) -> str:
        return _secret(self.stripe_connect_webhook_secret, LOCAL_CONNECT_WEBHOOK_SECRET)


# Local-mode defaults: the stand-in's own defaults (docs/decisions/0401), never valid against Stripe.
LOCAL_SECRET_KEY = "sk_test_standin_offline"
LOCAL_WEBHOOK_SECRET = "whsec_standin_platform_offline"
LOCAL_CONNECT_WEBHOOK_SECRET = "whsec_standin_connect_offline"


def _secret(value: SecretStr | None, local_default: str) -> str:
    # Outside local mode the settings validator already refused a missing secret.
    return value.get_secret_value() if value is not None else local_default
