"""Cursor pagination over id-descending queries: newest first, stable as rows arrive."""
from typing import Callable

import bottle
from peewee import ModelSelect

from web import cursor
from web.http import query_int

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def page(query: ModelSelect, id_field, *, scope: str, render: Callable) -> dict:
    """One page of `query`, newest first.

    Parameters:
      query: the rows of the list, unordered and unlimited.
      id_field: the increasing id column the list is ordered by.
      scope: names the list and its owner; cursors of other scopes are refused.
      render: turns one row into its JSON object.

    Returns:
      `{"items": [...], "next_cursor": str | None}`.
    """
    limit = query_int("limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
    after = cursor.decode(scope, bottle.request.query.get("cursor"))
    if after is not None:
        query = query.where(id_field < after)
    rows = list(query.order_by(id_field.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [render(row) for row in rows],
            "next_cursor": cursor.encode(scope, rows[-1].id) if more else None}
