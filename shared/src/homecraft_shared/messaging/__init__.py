"""Events between services: envelope, versioned contracts, transactional outbox, idempotent consumers."""
