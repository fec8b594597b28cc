"""Write the secrets docker-compose.yml mounts: ``.venv/bin/python deploy/compose/make_secrets.py``.

Creates, in deploy/compose/secrets/ (git-ignored), whatever is missing:
- ``identity_private_key.pem`` / ``identity_public_key.pem``: the gateway's Ed25519 key pair; the
  gateway signs identity tokens with the private key, every service verifies with the public key;
- ``orders_service_private_key.pem``, ``gateway_service_private_key.pem``,
  ``refunds_service_private_key.pem`` and ``trusted_service_keys.json``: the own Ed25519 keys of orders
  (it signs its calls to the catalog and its download grants), of the gateway (it records views and
  clicks through engagement) and of refunds (it asks payments for refunds, decision 0305), decision
  0201, and the ``{"orders": "<public PEM>", "gateway": ..., "refunds": ...}`` map the receivers trust;
- ``postgres_password``: the PostgreSQL superuser's;
- ``<service>_db_password`` and ``<service>_database_url`` for each service: its own role and
  database (``postgresql+asyncpg://<service>:<password>@postgres:5432/<service>``).

- ``stripe_secret_key``, ``stripe_webhook_secret``, ``stripe_connect_webhook_secret``: Stripe's (test or
  live) secret key and the two webhook endpoints' signing secrets, from the environment variables
  ``STRIPE_SECRET_KEY``, ``STRIPE_WEBHOOK_SECRET`` and ``STRIPE_CONNECT_WEBHOOK_SECRET``; empty when
  unset (payments then refuses to start, naming the missing variable).

Existing files are kept (the database was initialised with those passwords); ``--force`` replaces
everything, which also needs a fresh ``postgres-data`` volume.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path

from homecraft_shared.identity import generate_keypair

SERVICES = ("catalog", "orders", "payments", "refunds", "engagement", "gateway")
# The apps that call others as themselves (decision 0201): orders (the catalog's lookup, download
# grants), the gateway (engagement's ingestion, E1) and refunds (refund execution by payments, 0305).
SERVICE_IDENTITIES = ("orders", "gateway", "refunds")
SECRETS = Path(__file__).resolve().parent / "secrets"
POSTGRES_HOST = "postgres:5432"


def write(path: Path, content: str, *, force: bool) -> None:
    if path.exists() and not force:
        print(f"kept    {path.name}")
        return
    path.write_text(content)
    # Readable inside the containers (they run as other users); keep the folder itself private.
    path.chmod(0o644)
    print(f"wrote   {path.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="replace existing secrets")
    args = parser.parse_args()

    SECRETS.mkdir(exist_ok=True)
    SECRETS.chmod(0o700)
    private_path, public_path = SECRETS / "identity_private_key.pem", SECRETS / "identity_public_key.pem"
    if args.force or not (private_path.exists() and public_path.exists()):
        private_pem, public_pem = generate_keypair()
        write(private_path, private_pem, force=True)
        write(public_path, public_pem, force=True)
    else:
        print("kept    identity key pair")
    trusted_path = SECRETS / "trusted_service_keys.json"
    trusted: dict[str, str] = {} if args.force or not trusted_path.exists() else json.loads(trusted_path.read_text())
    for caller in SERVICE_IDENTITIES:
        key_path = SECRETS / f"{caller}_service_private_key.pem"
        if args.force or not key_path.exists() or caller not in trusted:
            private_pem, public_pem = generate_keypair()
            write(key_path, private_pem, force=True)
            trusted[caller] = public_pem
        else:
            print(f"kept    {caller}'s service key pair")
    write(trusted_path, json.dumps(trusted), force=True)
    write(SECRETS / "postgres_password", secrets.token_hex(24), force=args.force)
    for service in SERVICES:
        password_path = SECRETS / f"{service}_db_password"
        write(password_path, secrets.token_hex(24), force=args.force)
        password = password_path.read_text().strip()
        url = f"postgresql+asyncpg://{service}:{password}@{POSTGRES_HOST}/{service}"
        write(SECRETS / f"{service}_database_url", url, force=True)
    for name in ("stripe_secret_key", "stripe_webhook_secret", "stripe_connect_webhook_secret"):
        value = os.environ.get(name.upper(), "")
        write(SECRETS / name, value, force=args.force or bool(value))


if __name__ == "__main__":
    main()
