"""Initial schema: users, wallets, requests, the ledger, notifications, login logs.

Written as DDL rather than generated from the models because it carries what Peewee
models cannot say: generated "live" columns that make soft-deleted rows drop out of
unique keys (MariaDB treats NULLs as distinct), and CHECK constraints that stop a
user wallet going negative even if application code were wrong.
"""
import peewee as pw
from peewee_migrate import Migrator

TS = "DATETIME(6) NOT NULL"
KEY = "VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL"  # keys compare exactly

TABLES = [
    f"""CREATE TABLE users (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        email VARCHAR(254) NOT NULL,
        username VARCHAR(32) NOT NULL,
        password_hash VARCHAR(255) NOT NULL,
        created_at {TS}, updated_at {TS}, deleted_at DATETIME(6) NULL,
        live TINYINT AS (IF(deleted_at IS NULL, 1, NULL)) PERSISTENT,
        UNIQUE KEY users_live_email (email, live),
        UNIQUE KEY users_live_username (username, live)
    )""",
    f"""CREATE TABLE wallets (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NULL,
        currency CHAR(3) CHARACTER SET ascii NOT NULL,
        balance BIGINT NOT NULL DEFAULT 0,
        version BIGINT NOT NULL DEFAULT 0,
        system_key VARCHAR(16) CHARACTER SET ascii NULL,
        created_at {TS}, updated_at {TS}, deleted_at DATETIME(6) NULL,
        live TINYINT AS (IF(deleted_at IS NULL, 1, NULL)) PERSISTENT,
        UNIQUE KEY wallets_live_currency (user_id, currency, live),
        UNIQUE KEY wallets_system_key (system_key),
        CONSTRAINT wallets_owner FOREIGN KEY (user_id) REFERENCES users (id),
        CONSTRAINT wallets_user_balance_not_negative CHECK (balance >= 0 OR system_key IS NOT NULL),
        CONSTRAINT wallets_owner_or_system CHECK ((user_id IS NULL) <> (system_key IS NULL))
    )""",
    f"""CREATE TABLE transaction_requests (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        type VARCHAR(16) NOT NULL,
        status VARCHAR(16) NOT NULL DEFAULT 'pending',
        currency CHAR(3) CHARACTER SET ascii NOT NULL,
        amount BIGINT NOT NULL,
        fee BIGINT NOT NULL DEFAULT 0,
        wallet_id BIGINT NOT NULL,
        to_wallet_id BIGINT NULL,
        idempotency_key {KEY},
        fingerprint CHAR(64) CHARACTER SET ascii NOT NULL,
        failure_code VARCHAR(32) NULL,
        failure_detail VARCHAR(255) NULL,
        trace_id VARCHAR(64) NULL,
        sweeps INT NOT NULL DEFAULT 0,
        swept_at DATETIME(6) NULL,
        created_at {TS}, completed_at DATETIME(6) NULL,
        UNIQUE KEY requests_user_key (user_id, idempotency_key),
        KEY requests_user_id (user_id, id),
        KEY requests_status_created (status, created_at),
        KEY requests_wallet_status (wallet_id, status),
        KEY requests_to_wallet_status (to_wallet_id, status),
        CONSTRAINT requests_user FOREIGN KEY (user_id) REFERENCES users (id),
        CONSTRAINT requests_wallet FOREIGN KEY (wallet_id) REFERENCES wallets (id),
        CONSTRAINT requests_to_wallet FOREIGN KEY (to_wallet_id) REFERENCES wallets (id),
        CONSTRAINT requests_positive CHECK (amount > 0 AND fee >= 0 AND fee <= amount)
    )""",
    f"""CREATE TABLE transactions (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        request_id BIGINT NOT NULL,
        wallet_id BIGINT NOT NULL,
        type VARCHAR(16) NOT NULL,
        amount BIGINT NOT NULL,
        fee BIGINT NOT NULL DEFAULT 0,
        balance_after BIGINT NULL,
        counterparty_wallet_id BIGINT NULL,
        created_at {TS},
        UNIQUE KEY entries_once (request_id, wallet_id, type),
        KEY entries_wallet_id (wallet_id, id),
        CONSTRAINT entries_request FOREIGN KEY (request_id) REFERENCES transaction_requests (id),
        CONSTRAINT entries_wallet FOREIGN KEY (wallet_id) REFERENCES wallets (id)
    )""",
    f"""CREATE TABLE wallet_requests (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        idempotency_key {KEY},
        fingerprint CHAR(64) CHARACTER SET ascii NOT NULL,
        wallet_id BIGINT NOT NULL,
        created_at {TS},
        UNIQUE KEY wallet_requests_user_key (user_id, idempotency_key),
        CONSTRAINT wallet_requests_user FOREIGN KEY (user_id) REFERENCES users (id),
        CONSTRAINT wallet_requests_wallet FOREIGN KEY (wallet_id) REFERENCES wallets (id)
    )""",
    f"""CREATE TABLE notifications (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NOT NULL,
        type VARCHAR(32) NOT NULL,
        title VARCHAR(200) NOT NULL,
        body VARCHAR(1000) NOT NULL,
        request_id BIGINT NULL,
        is_read TINYINT(1) NOT NULL DEFAULT 0,
        dedupe_key VARCHAR(64) CHARACTER SET ascii NOT NULL,
        created_at {TS},
        UNIQUE KEY notifications_once (dedupe_key),
        KEY notifications_user_read (user_id, is_read, id),
        KEY notifications_user_id (user_id, id),
        CONSTRAINT notifications_user FOREIGN KEY (user_id) REFERENCES users (id),
        CONSTRAINT notifications_request FOREIGN KEY (request_id) REFERENCES transaction_requests (id)
    )""",
    f"""CREATE TABLE login_logs (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT NULL,
        ip_address VARCHAR(45) NOT NULL,
        user_agent VARCHAR(512) NOT NULL,
        success TINYINT(1) NOT NULL,
        created_at {TS},
        KEY login_logs_user_id (user_id, id),
        CONSTRAINT login_logs_user FOREIGN KEY (user_id) REFERENCES users (id)
    )""",
]


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    for ddl in TABLES:
        migrator.sql(ddl + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table in ("login_logs", "notifications", "wallet_requests", "transactions",
                  "transaction_requests", "wallets", "users"):
        migrator.sql(f"DROP TABLE IF EXISTS {table}")
