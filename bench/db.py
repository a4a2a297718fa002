"""Plain pymysql connections to the run's database (no ORM: the harness measures the service,
it does not share its connection pool)."""
import pymysql

from bench.config import Namespace


def connect(namespace: Namespace, *, autocommit: bool = True,
            database: bool = True) -> pymysql.connections.Connection:
    """A connection in READ COMMITTED, the service's isolation level.

    Parameters:
      namespace: the run's namespace.
      autocommit: off for the ceiling's explicit transactions.
      database: False to connect to the server only (to create or drop the database).
    """
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                           database=namespace.database if database else None,
                           charset="utf8mb4", autocommit=autocommit,
                           init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")


def scalar(conn: pymysql.connections.Connection, sql: str, args: tuple = ()) -> object:
    """The first column of the first row of `sql`."""
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return row[0] if row else None
