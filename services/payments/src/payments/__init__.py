"""Home Craft 3D payments service: Stripe Connect, checkout, webhooks, transfers, refunds, disputes and the seller ledger."""
