"""Infrastructure: Redis (caches, idempotency fast path, throttling, wake-ups), the broker,
logs and health. Everything here is an accelerator or a pipe; MariaDB stays the truth."""
