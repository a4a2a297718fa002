"""A settlement's writes in one round trip: one MariaDB compound statement.

The settle path writes four statements (balances, entries, request status,
notifications) and must commit them together only if the version-checked balance
update and the conditional status change each hit their row count. Sent one by one,
with BEGIN and COMMIT, that is six round trips; as one `BEGIN NOT ATOMIC ... END` block
that checks ROW_COUNT() after each statement and rolls back with a SIGNAL, it is one.
Every value still travels as a driver-escaped parameter; only constant SQL is joined.
"""
from collections.abc import Callable
from dataclasses import dataclass

import peewee

# peewee translates driver errors into its own inside this context (untyped in its stubs).
from peewee import __exception_wrapper__ as translated_errors  # type: ignore[attr-defined]

from models import db

SIGNAL_PREFIX = "sqlbatch:"
USER_SIGNAL = 1644  # ER_SIGNAL_EXCEPTION: a SIGNAL raised by the block itself


@dataclass(frozen=True)
class Statement:
    """One statement of a batch: its SQL, its parameters, and the row count it must hit."""

    sql: str
    params: tuple = ()
    rows: int | None = None
    mismatch: Callable[[], Exception] | None = None


def compound(statements: tuple[Statement, ...], *, own_transaction: bool,
             then: str = "") -> tuple[str, tuple]:
    """The block and its parameters (the benchmark's ceiling sends exactly this too);
    `then`, a constant SELECT, runs after the commit and answers the call."""
    undo = "ROLLBACK; " if own_transaction else ""
    body = ["START TRANSACTION;"] if own_transaction else []
    for index, statement in enumerate(statements):
        body.append(statement.sql + ";")
        if statement.rows is not None:
            body.append(f"IF ROW_COUNT() <> {statement.rows} THEN {undo}SIGNAL SQLSTATE '45000' "
                        f"SET MESSAGE_TEXT = '{SIGNAL_PREFIX}{index}'; END IF;")
    if own_transaction:
        body.append("COMMIT;")
    if then:
        body.append(then + ";")
    return "BEGIN NOT ATOMIC " + " ".join(body) + " END", \
        tuple(p for s in statements for p in s.params)


def run(*statements: Statement, own_transaction: bool = True, then: str = "") -> list[tuple]:
    """Execute `statements` in one round trip, all or nothing.

    Parameters:
      own_transaction: the block starts and commits its own transaction; False when the
        caller already holds one (say, with rows locked FOR UPDATE) and will commit it.
      then: a constant SELECT to run last (say `SELECT LAST_INSERT_ID()`).

    Returns:
      The rows `then` selected (none without it).

    Raises:
      Whatever a statement's `mismatch` builds when its row count is not `rows` (nothing
      was committed), or the database error of the statement that failed.
    """
    sql, params = compound(statements, own_transaction=own_transaction, then=then)
    try:
        with translated_errors:
            cursor = db.cursor()
            try:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if then else []
            finally:
                cursor.close()
    except peewee.DatabaseError as exc:
        if own_transaction:
            _roll_back()  # a failed statement leaves the block's transaction open
        code, message = (exc.args + (None, ""))[:2]
        if code == USER_SIGNAL and str(message).startswith(SIGNAL_PREFIX):
            mismatch = statements[int(str(message)[len(SIGNAL_PREFIX):])].mismatch
            if mismatch is not None:
                raise mismatch() from None
        raise


def _roll_back() -> None:
    try:
        db.execute_sql("ROLLBACK")
    except peewee.DatabaseError:
        pass  # the connection is gone, and its transaction with it
