"""Sessions that can end: a token generation per user, and server-side ops sessions.

`users.token_generation` is copied into every access token (claim `gen`); logging out or
changing the password bumps it, so every token issued before stops working at once, while
one issued a moment later (even within the same second) carries the new generation.
`ops_sessions` holds each login of the ops page: its cookie names a row, and logging out
ends the row, so a copied cookie dies with the session instead of living out its expiry.
"""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0")
    migrator.sql("""CREATE TABLE ops_sessions (
        nonce VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        ip_address VARCHAR(45) NOT NULL,
        created_at DATETIME(6) NOT NULL,
        expires_at DATETIME(6) NOT NULL,
        ended_at DATETIME(6) NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DROP TABLE IF EXISTS ops_sessions")
    migrator.sql("ALTER TABLE users DROP COLUMN token_generation")
