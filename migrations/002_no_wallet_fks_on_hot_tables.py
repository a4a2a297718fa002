"""Drop the foreign keys from requests and ledger entries to wallets.

An InnoDB foreign-key check takes a shared lock on the parent row. Accepting a transfer
(INSERT into transaction_requests) locked both wallets in the order of its columns,
while a settlement held one of them exclusively and wanted the other: deadlocks (1213)
under load, seen in the e2e suite. The columns keep their indexes; that the wallets
exist is checked by the code that writes the rows and by the audit.
"""
import peewee as pw
from peewee_migrate import Migrator

DROPPED = [("transaction_requests", "requests_wallet", "wallet_id"),
           ("transaction_requests", "requests_to_wallet", "to_wallet_id"),
           ("transactions", "entries_wallet", "wallet_id")]


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    for table, name, _ in DROPPED:
        migrator.sql(f"ALTER TABLE {table} DROP FOREIGN KEY {name}")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table, name, column in DROPPED:
        migrator.sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
                     "REFERENCES wallets (id)")
