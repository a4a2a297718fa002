"""What login throttling needs from the login log when Redis cannot count.

Each attempt records a digest of the email it named (never the email: an unknown one has
no user row to point at), and two indexes let the fallback count the failures of one
address, and of one email, within the window.
"""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("ALTER TABLE login_logs ADD COLUMN email_digest CHAR(32) CHARACTER SET ascii "
                 "NOT NULL DEFAULT '', ADD KEY login_logs_ip_time (ip_address, created_at), "
                 "ADD KEY login_logs_email_time (email_digest, created_at)")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("ALTER TABLE login_logs DROP KEY login_logs_email_time, "
                 "DROP KEY login_logs_ip_time, DROP COLUMN email_digest")
