"""Events (the outbox of what changed) and webhooks (who is told, and how it went).

- `events`: one row per change and user, written in the change's own transaction; its
  `data` is the resource as it stood after the change. `dispatched` says whether the
  webhook jobs of the event were made yet (the sweeper does it, see webhooks/dispatch.py).
- `webhooks`: an endpoint a user registered, with its signing secret; closed, not deleted.
- `webhook_jobs`: one per (endpoint, event) to deliver: `pending` until an attempt gets a
  2xx (`succeeded`), the retries run out (`failed`) or the endpoint is gone (`cancelled`);
  `next_attempt_at` is the schedule, `claimed_until` stops two workers sending at once.
- `webhook_deliveries`: one row per attempt, the endpoint's deliveries log.
- `idempotency_keys.webhook_id`: a key may also have created a webhook.
"""
import peewee as pw
from peewee_migrate import Migrator

TS = "DATETIME(6) NOT NULL"
TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql(f"""CREATE TABLE events (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        type VARCHAR(32) CHARACTER SET ascii NOT NULL,
        data JSON NOT NULL,
        dispatched TINYINT(1) NOT NULL DEFAULT 0,
        created_at {TS},
        KEY events_user_id (user_id, id),
        KEY events_user_type (user_id, type, id),
        KEY events_undispatched (dispatched, id)
    ) {TABLE}""")
    migrator.sql(f"""CREATE TABLE webhooks (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        url VARCHAR(2048) NOT NULL,
        events JSON NOT NULL,
        description VARCHAR(255) NULL,
        secret VARCHAR(64) CHARACTER SET ascii NOT NULL,
        created_at {TS},
        deleted_at DATETIME(6) NULL,
        KEY webhooks_user_id (user_id, id)
    ) {TABLE}""")
    migrator.sql(f"""CREATE TABLE webhook_jobs (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        webhook_id BIGINT NOT NULL,
        event_id BIGINT NOT NULL,
        status VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'pending',
        attempts INT NOT NULL DEFAULT 0,
        next_attempt_at DATETIME(6) NULL,
        claimed_until DATETIME(6) NULL,
        sent_at DATETIME(6) NULL,
        created_at {TS},
        updated_at {TS},
        UNIQUE KEY webhook_jobs_once (webhook_id, event_id),
        KEY webhook_jobs_due (status, next_attempt_at),
        KEY webhook_jobs_event (event_id)
    ) {TABLE}""")
    migrator.sql(f"""CREATE TABLE webhook_deliveries (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        webhook_id BIGINT NOT NULL,
        job_id BIGINT NOT NULL,
        event_id BIGINT NOT NULL,
        event_type VARCHAR(32) CHARACTER SET ascii NOT NULL,
        attempt INT NOT NULL,
        status VARCHAR(16) CHARACTER SET ascii NOT NULL,
        response_status INT NULL,
        error VARCHAR(255) NULL,
        duration_ms INT NOT NULL,
        next_attempt_at DATETIME(6) NULL,
        created_at {TS},
        UNIQUE KEY webhook_deliveries_once (job_id, attempt),
        KEY webhook_deliveries_webhook (webhook_id, id)
    ) {TABLE}""")
    migrator.sql("ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_one_target, "
                 "ADD COLUMN webhook_id BIGINT NULL, "
                 "ADD CONSTRAINT idempotency_keys_one_target CHECK ("
                 "(request_id IS NOT NULL) + (wallet_id IS NOT NULL) "
                 "+ (webhook_id IS NOT NULL) = 1)")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DELETE FROM idempotency_keys WHERE webhook_id IS NOT NULL")
    migrator.sql("ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_one_target, "
                 "DROP COLUMN webhook_id, ADD CONSTRAINT idempotency_keys_one_target CHECK "
                 "((request_id IS NULL) <> (wallet_id IS NULL))")
    for table in ("webhook_deliveries", "webhook_jobs", "webhooks", "events"):
        migrator.sql(f"DROP TABLE IF EXISTS {table}")
