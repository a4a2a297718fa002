"""One table, one unique index, for every Idempotency-Key a user ever sent.

Keys are scoped per user across endpoints. They used to be unique twice, once among money
requests and once among wallet creations, and a key sent to both endpoints at the same
moment passed both checks: a wallet and a request from one key. Now the key is reserved in
`idempotency_keys`, in the same transaction as what it creates (a request or a wallet);
the second of two racing calls fails on the one primary key and replays, or is refused as
`idempotency_key_reused`. Existing keys move over (had one been used twice, the request
keeps it); `wallet_requests` and the key columns of requests go.
"""
import peewee as pw
from peewee_migrate import Migrator

KEY = "VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL"


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql(f"""CREATE TABLE idempotency_keys (
        user_id BIGINT NOT NULL,
        idempotency_key {KEY},
        fingerprint CHAR(64) CHARACTER SET ascii NOT NULL,
        request_id BIGINT NULL,
        wallet_id BIGINT NULL,
        created_at DATETIME(6) NOT NULL,
        PRIMARY KEY (user_id, idempotency_key),
        CONSTRAINT idempotency_keys_one_target CHECK ((request_id IS NULL) <> (wallet_id IS NULL))
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""")
    migrator.sql("""INSERT INTO idempotency_keys
        (user_id, idempotency_key, fingerprint, request_id, created_at)
        SELECT user_id, idempotency_key, fingerprint, id, created_at FROM transaction_requests""")
    migrator.sql("""INSERT IGNORE INTO idempotency_keys
        (user_id, idempotency_key, fingerprint, wallet_id, created_at)
        SELECT user_id, idempotency_key, fingerprint, wallet_id, created_at FROM wallet_requests""")
    migrator.sql("DROP TABLE wallet_requests")
    migrator.sql("ALTER TABLE transaction_requests DROP KEY requests_user_key, "
                 "DROP COLUMN idempotency_key, DROP COLUMN fingerprint")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql(f"ALTER TABLE transaction_requests ADD COLUMN idempotency_key {KEY} DEFAULT '', "
                 "ADD COLUMN fingerprint CHAR(64) CHARACTER SET ascii NOT NULL DEFAULT ''")
    migrator.sql("""UPDATE transaction_requests r JOIN idempotency_keys k ON k.request_id = r.id
        SET r.idempotency_key = k.idempotency_key, r.fingerprint = k.fingerprint""")
    migrator.sql("ALTER TABLE transaction_requests "
                 "ADD UNIQUE KEY requests_user_key (user_id, idempotency_key)")
    migrator.sql(f"""CREATE TABLE wallet_requests (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        idempotency_key {KEY},
        fingerprint CHAR(64) CHARACTER SET ascii NOT NULL,
        wallet_id BIGINT NOT NULL,
        created_at DATETIME(6) NOT NULL,
        UNIQUE KEY wallet_requests_user_key (user_id, idempotency_key),
        CONSTRAINT wallet_requests_user FOREIGN KEY (user_id) REFERENCES users (id),
        CONSTRAINT wallet_requests_wallet FOREIGN KEY (wallet_id) REFERENCES wallets (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""")
    migrator.sql("""INSERT INTO wallet_requests
        (user_id, idempotency_key, fingerprint, wallet_id, created_at)
        SELECT user_id, idempotency_key, fingerprint, wallet_id, created_at
        FROM idempotency_keys WHERE wallet_id IS NOT NULL""")
    migrator.sql("DROP TABLE idempotency_keys")
