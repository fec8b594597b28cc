"""The one place the service talks to Stripe: the official library's StripeClient, async, pointed at
``PAYMENTS_STRIPE_API_BASE`` (the local stand-in, or https://api.stripe.com with real test keys).

Every call that creates something carries an idempotency key derived from what it is for, so a
retried handler or request gets the same Stripe object back instead of a second one.
"""

from __future__ import annotations

from typing import Any

import stripe

from payments.settings import PaymentsSettings


class StripeGateway:
    def __init__(self, settings: PaymentsSettings) -> None:
        base = settings.stripe_api_base.rstrip("/")
        self.client = stripe.StripeClient(
            settings.secret_key(),
            base_addresses={"api": base, "connect": base, "files": base, "meter_events": base},
            http_client=stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds),
            max_network_retries=settings.stripe_max_network_retries,
        )
        self.webhook_secret = settings.webhook_secret()
        self.connect_webhook_secret = settings.connect_webhook_secret()
        self.tolerance_seconds = settings.stripe_webhook_tolerance_seconds

    @property
    def v1(self) -> Any:
        return self.client.v1

    async def aclose(self) -> None:
        http_client = getattr(self.client, "_requestor", None)
        client = getattr(http_client, "_client", None)
        closer = getattr(client, "close_async", None)
        if closer is not None:
            await closer()


def idempotency(key: str) -> dict[str, Any]:
    """Request options with an idempotency key (Stripe keeps keys for 24 hours)."""
    return {"idempotency_key": key}
