"""Webhook secrets sealed in the database (models.SealedField, WEBHOOK_SECRET_KEYS): the
column grows to hold a Fernet token, and every secret stored plain is sealed in place."""
import peewee as pw
from peewee_migrate import Migrator

PLAIN_PREFIX = "whsec_"


def _each(database: pw.Database, change, *, plain: bool) -> None:
    # The rows are few (at most MAX_WEBHOOKS_PER_USER per user): one UPDATE each.
    rows = database.execute_sql("SELECT id, secret FROM webhooks").fetchall()
    for webhook_id, secret in rows:
        if secret.startswith(PLAIN_PREFIX) == plain:
            database.execute_sql("UPDATE webhooks SET secret = %s WHERE id = %s",
                                 (change(secret), webhook_id))


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    from models import SealedField

    field = SealedField()
    migrator.sql("ALTER TABLE webhooks MODIFY secret VARCHAR(255) NOT NULL")
    migrator.run(lambda: _each(database, field.db_value, plain=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    from models import SealedField

    field = SealedField()
    migrator.run(lambda: _each(database, field.python_value, plain=False))
    migrator.sql("ALTER TABLE webhooks MODIFY secret VARCHAR(64) NOT NULL")
