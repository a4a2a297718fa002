"""The ledger audit's runs: when each ran, how many findings, and its printed report.

Written by `manage.py audit` and by the ops page's "run audit now" button; the ops page
shows the latest one.
"""
import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("""CREATE TABLE audit_runs (
        id BIGINT AUTO_INCREMENT PRIMARY KEY,
        started_at DATETIME(6) NOT NULL,
        finished_at DATETIME(6) NOT NULL,
        findings INT NOT NULL,
        report TEXT NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DROP TABLE IF EXISTS audit_runs")
