"""The run command's Stripe: the offline stand-in (``tools/stripe_standin``) unless the environment
already names real Stripe test-mode keys (``PAYMENTS_STRIPE_SECRET_KEY``); see the README."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PORT = 12111
API_KEY = "sk_test_standin_offline"
PLATFORM_SECRET = "whsec_standin_platform_offline"
CONNECT_SECRET = "whsec_standin_connect_offline"
# Where payments receives Stripe's webhooks (docs/decisions/0401-stripe-standin.md).
PLATFORM_WEBHOOK_PATH = "/webhooks/stripe"
CONNECT_WEBHOOK_PATH = "/webhooks/stripe/connect"


def uses_real_stripe(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    return bool(environ.get("PAYMENTS_STRIPE_SECRET_KEY"))


def standin_environment(data_dir: Path, port: int, payments_port: int) -> dict[str, str]:
    payments = f"http://127.0.0.1:{payments_port}"
    return {
        **os.environ,
        "STRIPE_STANDIN_PORT": str(port),
        "STRIPE_STANDIN_DATABASE": str(data_dir / "data" / "stripe-standin.db"),
        "STRIPE_STANDIN_API_KEY": API_KEY,
        "STRIPE_STANDIN_WEBHOOK_URL": payments + PLATFORM_WEBHOOK_PATH,
        "STRIPE_STANDIN_WEBHOOK_SECRET": PLATFORM_SECRET,
        "STRIPE_STANDIN_CONNECT_WEBHOOK_URL": payments + CONNECT_WEBHOOK_PATH,
        "STRIPE_STANDIN_CONNECT_WEBHOOK_SECRET": CONNECT_SECRET,
        "STRIPE_STANDIN_CONTROLS": "1",
        "PYTHONUNBUFFERED": "1",
    }


def payments_settings(port: int) -> dict[str, str]:
    """What the payments service needs to reach the stand-in (PaymentsSettings.stripe_*)."""
    return {
        "PAYMENTS_STRIPE_API_BASE": f"http://127.0.0.1:{port}",
        "PAYMENTS_STRIPE_SECRET_KEY": API_KEY,
        "PAYMENTS_STRIPE_WEBHOOK_SECRET": PLATFORM_SECRET,
        "PAYMENTS_STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_SECRET,
    }
