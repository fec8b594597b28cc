"""python -m stripe_standin serve --port 12111 [--database FILE] [--controls] [webhook options]"""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from stripe_standin.app import DEFAULT_API_KEY, DEFAULT_CONNECT_SECRET, DEFAULT_PLATFORM_SECRET, StandinConfig, create_app
from stripe_standin.webhooks import Chaos, RetryPolicy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stripe_standin", description="Offline Stripe stand-in")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API, hosted pages and webhooks")
    env = os.environ.get
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(env("STRIPE_STANDIN_PORT", "12111")))
    serve.add_argument("--database", default=env("STRIPE_STANDIN_DATABASE"), help="SQLite file (default: in memory)")
    serve.add_argument("--public-url", default=env("STRIPE_STANDIN_PUBLIC_URL"))
    serve.add_argument("--api-key", default=env("STRIPE_STANDIN_API_KEY", DEFAULT_API_KEY))
    serve.add_argument("--webhook-url", default=env("STRIPE_STANDIN_WEBHOOK_URL"))
    serve.add_argument("--webhook-secret", default=env("STRIPE_STANDIN_WEBHOOK_SECRET", DEFAULT_PLATFORM_SECRET))
    serve.add_argument("--connect-webhook-url", default=env("STRIPE_STANDIN_CONNECT_WEBHOOK_URL"))
    serve.add_argument("--connect-webhook-secret",
                       default=env("STRIPE_STANDIN_CONNECT_WEBHOOK_SECRET", DEFAULT_CONNECT_SECRET))
    serve.add_argument("--controls", action="store_true", default=env("STRIPE_STANDIN_CONTROLS") == "1",
                       help="enable the /_standin test and operator controls")
    serve.add_argument("--retry-base-seconds", type=float, default=1.0)
    serve.add_argument("--retry-cap-seconds", type=float, default=60.0)
    serve.add_argument("--max-attempts", type=int, default=0, help="0: retry until the endpoint answers 2xx")
    serve.add_argument("--chaos", action="store_true", default=env("STRIPE_STANDIN_CHAOS") == "1",
                       help="deliver every event twice, late and out of order (also PUT /_standin/chaos)")
    args = parser.parse_args(argv)
    config = StandinConfig(
        api_key=args.api_key,
        database=args.database,
        public_url=args.public_url,
        platform_webhook_url=args.webhook_url,
        platform_webhook_secret=args.webhook_secret,
        connect_webhook_url=args.connect_webhook_url,
        connect_webhook_secret=args.connect_webhook_secret,
        controls=args.controls,
        retry=RetryPolicy(base_seconds=args.retry_base_seconds, cap_seconds=args.retry_cap_seconds,
                          max_attempts=args.max_attempts),
        chaos=Chaos(enabled=args.chaos),
    )
    # The stand-in's own lines (webhook failures and retries) beside uvicorn's access log.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    print(f"Stripe stand-in (offline) on http://{args.host}:{args.port}/ ; controls "
          f"{'at /_standin/' if args.controls else 'off'}; state in {args.database or 'memory'}", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
