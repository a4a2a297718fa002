"""Two-phase money: holds, captures, voids and refunds; descriptions and metadata.

- `wallets.held`: what active holds still reserve. Available = balance - held, never
  negative: a CHECK holds it for user wallets even if code were wrong.
- `holds`: one per hold request, listed per party (payer `user_id`, recipient `to_user_id`), `pending` from the door, then `active`, `captured`,
  `voided`, `expired` or `failed`; `captured` only grows, never past `amount` (CHECK).
- Requests gain `hold_id` (hold, capture, void), `refund_of` and `refunded` (the total
  refunded of a transfer or capture, never past what its recipient received: CHECK),
  `capture_final` (a capture that ends its hold), `description` and `metadata`.
"""
import peewee as pw
from peewee_migrate import Migrator

TS = "DATETIME(6) NOT NULL"


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("ALTER TABLE wallets ADD COLUMN held BIGINT NOT NULL DEFAULT 0, "
                 "ADD CONSTRAINT wallets_held_within_balance CHECK "
                 "(system_key IS NOT NULL OR (held >= 0 AND held <= balance))")
    migrator.sql(f"""CREATE TABLE holds (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        wallet_id BIGINT NOT NULL,
        to_wallet_id BIGINT NULL,
        to_user_id BIGINT NULL,
        currency CHAR(3) CHARACTER SET ascii NOT NULL,
        amount BIGINT NOT NULL,
        captured BIGINT NOT NULL DEFAULT 0,
        status VARCHAR(16) NOT NULL DEFAULT 'pending',
        expires_at {TS},
        request_id BIGINT NULL,
        description VARCHAR(255) NULL,
        metadata JSON NULL,
        created_at {TS}, updated_at {TS},
        KEY holds_user_id (user_id, id),
        KEY holds_user_status (user_id, status, id),
        KEY holds_to_user_id (to_user_id, id),
        KEY holds_to_user_status (to_user_id, status, id),
        KEY holds_wallet_id (wallet_id, id),
        KEY holds_to_wallet_id (to_wallet_id, id),
        KEY holds_status_expires (status, expires_at),
        CONSTRAINT holds_captured_within_amount CHECK (captured >= 0 AND captured <= amount),
        CONSTRAINT holds_positive CHECK (amount > 0)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""")
    migrator.sql("ALTER TABLE transaction_requests "
                 "ADD COLUMN hold_id BIGINT NULL, "
                 "ADD COLUMN refund_of BIGINT NULL, "
                 "ADD COLUMN refunded BIGINT NOT NULL DEFAULT 0, "
                 "ADD COLUMN capture_final TINYINT(1) NOT NULL DEFAULT 0, "
                 "ADD COLUMN description VARCHAR(255) NULL, "
                 "ADD COLUMN metadata JSON NULL, "
                 "ADD KEY requests_hold_id (hold_id), "
                 "ADD KEY requests_refund_of (refund_of), "
                 "ADD CONSTRAINT requests_refunded_within_received "
                 "CHECK (refunded >= 0 AND refunded <= amount - fee)")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("ALTER TABLE transaction_requests DROP CONSTRAINT requests_refunded_within_received, "
                 "DROP KEY requests_refund_of, DROP KEY requests_hold_id, DROP COLUMN metadata, "
                 "DROP COLUMN description, DROP COLUMN capture_final, DROP COLUMN refunded, "
                 "DROP COLUMN refund_of, DROP COLUMN hold_id")
    migrator.sql("DROP TABLE IF EXISTS holds")
    migrator.sql("ALTER TABLE wallets DROP CONSTRAINT wallets_held_within_balance, "
                 "DROP COLUMN held")
