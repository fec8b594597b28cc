"""What the service's code needs besides the database session: Stripe, the orders client, settings.

They ride on the session (``session.info``), set once per runtime on its sessionmaker, so request
handlers and event handlers reach the same objects without globals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.http_client import ServiceClient
from payments.settings import PaymentsSettings
from payments.stripe_gateway import StripeGateway

_KEY = "payments_deps"


@dataclass(frozen=True)
class Deps:
    settings: PaymentsSettings
    stripe: StripeGateway
    orders: ServiceClient


def attach(sessionmaker: async_sessionmaker[AsyncSession], deps: Deps) -> None:
    sessionmaker.configure(info={_KEY: deps})


def deps(session: AsyncSession) -> Deps:
    found: Deps = session.info[_KEY]
    return found
