"""Cursor pagination of id-descending lists: newest first, stable as rows arrive.

The web parses the page asked for (`page_args`), a service returns up to `limit` + 1 rows
(see models.newest_first), and `rendered_page` renders them with the next cursor.
"""
from collections.abc import Callable, Sequence

import bottle

from web import cursor
from web.inputs import query_int

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
PAGE_PARAMS = frozenset({"limit", "cursor"})


def page_args(scope: str) -> tuple[int, int | None]:
    """The page asked for: `?limit=` and the id `?cursor=` resumes after (None: the first).

    Raises:
      ValidationError, InvalidCursor.
    """
    limit = query_int("limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    return limit, cursor.decode(scope, bottle.request.query.get("cursor"))


def rendered_page(rows: Sequence, *, limit: int, scope: str, render: Callable) -> dict:
    """`{"items": [...], "next_cursor": str | None}` from up to `limit` + 1 rows, newest
    first: a row beyond `limit` says another page follows."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [render(row) for row in rows],
            "next_cursor": cursor.encode(scope, rows[-1].id) if more else None}
