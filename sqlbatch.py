"""Several SQL statements in one round trip, with their row counts checked.

The settle path writes four statements (balances, entries, request status,
notifications); sent one by one they cost four round trips and four trips through the
driver. Sent as one MariaDB multi-statement they cost one. Every value still travels
as a parameter, escaped by the driver; only constant SQL text is joined.
"""
from dataclasses import dataclass
from typing import Callable

import pymysql
from peewee import __exception_wrapper__ as translated_errors

from models import db


@dataclass(frozen=True)
class Statement:
    """One statement of a batch: its SQL, its parameters, and the row count it must hit."""

    sql: str
    params: tuple = ()
    rows: int | None = None
    mismatch: Callable[[], Exception] | None = None


def run(*statements: Statement) -> None:
    """Execute `statements` in one round trip, inside the caller's transaction.

    Raises:
      Whatever a statement's `mismatch` builds when its row count is not `rows` (the
      caller's transaction must then roll back: later statements have run too), or the
      database error of the first statement that failed, as a peewee error.
    """
    sql = ";\n".join(s.sql for s in statements)
    params = tuple(p for s in statements for p in s.params)
    with translated_errors:
        cursor = db.cursor()
        try:
            cursor.execute(sql, params)
            for index, statement in enumerate(statements):
                if index:
                    cursor.nextset()
                if statement.rows is not None and cursor.rowcount != statement.rows:
                    raise statement.mismatch()
        finally:
            _drain(cursor)


def _drain(cursor) -> None:
    """Read what is left of a batch, so the connection can roll back; errors in it are
    consequences of the mismatch already being raised."""
    try:
        while cursor.nextset():
            pass
    except pymysql.MySQLError:
        pass
    finally:
        cursor.close()
