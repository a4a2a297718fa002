"""An index for GET /v1/requests?status=: the caller's requests of one status, newest first.

Without it the filtered list walks the caller's whole (user_id, id) range, which for an
owner of many settled requests looking for the few pending ones is most of the table.
"""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("CREATE INDEX requests_user_status ON transaction_requests (user_id, status, id)")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DROP INDEX requests_user_status ON transaction_requests")
