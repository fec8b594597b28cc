"""Home Craft 3D platform library.

Mechanisms shared by every service: settings, database, event envelope and contracts, the
transactional outbox and idempotent consumers over NATS JetStream, the gateway-signed identity
token, money helpers, the service-to-service HTTP client, problem-style errors, health endpoints
and structured logs. Business rules never live here.
"""
