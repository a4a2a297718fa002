"""The caller's requests as a list: newest first, filtered as `GET /v1/requests` allows
(status, type, a wallet on either side, a period, one metadata key's exact value).
"""
from dataclasses import dataclass
from datetime import datetime

from peewee import SQL, NodeList, fn

from ledger.history import clamp
from models import TransactionRequest, User, newest_first


@dataclass(frozen=True)
class RequestFilters:
    """What a page of the caller's requests is limited to (None: no limit)."""

    status: str | None = None
    type: str | None = None
    wallet_id: int | None = None  # as the request's wallet_id or its to_wallet_id
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive
    metadata: tuple[str, str] | None = None  # (key, value): the value is exactly this

    def key(self) -> str:
        """A stable text naming these filters (for cursor scopes)."""
        return repr((self.status, self.type, self.wallet_id, self.created_from,
                     self.created_to, self.metadata))

    def index(self) -> str | None:
        """The (user_id, ..., id) index that serves these filters best, None to let the
        database choose (a wallet or several filters at once)."""
        given = [name for name in ("status", "type", "created_from", "created_to")
                 if getattr(self, name) is not None]
        if self.wallet_id is not None or len(given) > 1 and set(given) != {
                "created_from", "created_to"}:
            return None
        if not given:
            return "requests_user_id"
        return {"status": "requests_user_status", "type": "requests_user_type"}.get(
            given[0], "requests_user_created")


def metadata_is(key: str, value: str):
    """`metadata.KEY` is exactly `value` (byte for byte: no padding, case or accent folds).
    The key is of [A-Za-z0-9_.-] (checked at the edge), so quoting it in the path is safe."""
    found = NodeList((fn.JSON_VALUE(TransactionRequest.metadata, f'$."{key}"'),
                      SQL("COLLATE utf8mb4_nopad_bin")))
    return found == value


def page_of(user: User, filters: RequestFilters, *, limit: int,
            after: int | None) -> list[TransactionRequest]:
    """A page of the user's requests matching `filters`, newest first (id descending),
    after the cursor's id: `limit` + 1 rows tell of a next page."""
    R = TransactionRequest
    query = R.select().where(R.user == user)
    if filters.status is not None:
        query = query.where(R.status == filters.status)
    if filters.type is not None:
        query = query.where(R.type == filters.type)
    if filters.wallet_id is not None:
        query = query.where((R.wallet == filters.wallet_id) | (R.to_wallet == filters.wallet_id))
    if filters.created_from is not None:
        query = query.where(R.created_at >= clamp(filters.created_from))
    if filters.created_to is not None:
        query = query.where(R.created_at < clamp(filters.created_to))
    if filters.metadata is not None:
        query = query.where(metadata_is(*filters.metadata))
    return newest_first(query, R.id, limit=limit, after=after, index=filters.index())
