"""Home Craft 3D refunds service: Refund requests, allocation snapshots, lifecycle and queues."""
