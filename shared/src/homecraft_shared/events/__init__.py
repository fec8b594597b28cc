"""Every event contract, one module per producing service. Importing this package registers them all."""

from homecraft_shared.events import catalog, engagement, orders, payments, refunds

__all__ = ["catalog", "engagement", "orders", "payments", "refunds"]
