from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from homecraft_shared.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore")

    service_name: str = "payments"
    database_url: str = "sqlite+aiosqlite:///./var/data/payments.db"

    # Stripe (docs/decisions/0401-stripe-standin.md). The run command points these at the offline
    # stand-in unless PAYMENTS_STRIPE_SECRET_KEY is already set (then: real Stripe test mode).
    # Webhooks arrive at POST /webhooks/stripe (platform events, stripe_webhook_secret) and
    # POST /webhooks/stripe/connect (Connect events such as account.updated, stripe_connect_webhook_secret).
    stripe_api_base: str = "https://api.stripe.com"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_connect_webhook_secret: SecretStr | None = None
