"""Indexes for a wallet's history and the filtered request list (API.md 1.1, "Metadata,
filters, statements, balance at a time").

- `entries_wallet_created (wallet_id, created_at, id)`: the balance at a moment is one probe
  (the last entry at or before it), a statement one range read in time order, and a page
  of entries limited to a period reads only that period.
- `entries_wallet_type (wallet_id, type, id)`: a page of one type of entry, newest first.
- `requests_user_type (user_id, type, id)`, `requests_user_created (user_id, created_at,
  id)`: the caller's requests of one type, or of a period.
- `requests_wallet_id (wallet_id, id)`, `requests_to_wallet_id (to_wallet_id, id)`: the
  requests naming one wallet, newest first, from either side.
"""
import peewee as pw
from peewee_migrate import Migrator

INDEXES = {
    "transactions": [("entries_wallet_created", "wallet_id, created_at, id"),
                     ("entries_wallet_type", "wallet_id, type, id")],
    "transaction_requests": [("requests_user_type", "user_id, type, id"),
                             ("requests_user_created", "user_id, created_at, id"),
                             ("requests_wallet_id", "wallet_id, id"),
                             ("requests_to_wallet_id", "to_wallet_id, id")],
}


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    for table, indexes in INDEXES.items():
        migrator.sql(f"ALTER TABLE {table} " + ", ".join(
            f"ADD KEY {name} ({columns})" for name, columns in indexes))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table, indexes in INDEXES.items():
        migrator.sql(f"ALTER TABLE {table} " + ", ".join(
            f"DROP KEY {name}" for name, _ in indexes))
