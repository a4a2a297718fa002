"""Cached wallets in Redis, versioned so the cache never goes backwards.

An entry carries the wallet's version, and a store only replaces an older version.
A reader that loaded a wallet just before a settlement committed cannot overwrite
the newer state the settlement stored, so a lost race leaves no stale balance behind.
"""
import hashlib
import json
from collections.abc import Callable
from datetime import datetime

import redis

import settings
from infra import cache
from models import Wallet

# KEYS = wallet keys; ARGV = version, payload for each key, then the ttl in seconds.
_STORE_IF_NEWER = """
local ttl = tonumber(ARGV[#ARGV])
for i, key in ipairs(KEYS) do
  local version = tonumber(ARGV[2 * i - 1])
  local old = redis.call('GET', key)
  local v = old and tonumber(string.match(old, '^(%d+)|'))
  if not (v and v >= version) then
    redis.call('SET', key, ARGV[2 * i - 1] .. '|' .. ARGV[2 * i], 'EX', ttl)
  end
end
return 1
"""
# Stores call the script by this digest alone (see `store_command`).
STORE_SHA = hashlib.sha1(_STORE_IF_NEWER.encode()).hexdigest()


def key(wallet_id: int) -> str:
    """Where a wallet's state is cached."""
    return f"wallet:{wallet_id}"


def _payload(row: dict) -> str:
    return json.dumps(row, default=lambda moment: moment.isoformat())


def store_command(client, rows: list[dict]) -> None:
    """Run (or queue, on a pipeline) the store of `rows` (see `store`), calling the script
    by its digest alone: on a pipeline redis-py would first ask Redis whether it has the
    script, a round trip more. Run it through `with_script`."""
    keys = [key(row["id"]) for row in rows]
    args = [x for row in rows for x in (row["version"], _payload(row))]
    client.evalsha(STORE_SHA, len(keys), *keys, *args, settings.CACHE_TTL_S)


def with_script(send: Callable[[], object]) -> None:
    """Run `send`, which stores through `store_command` (directly or on a pipeline); if Redis
    lost the script (a restart, SCRIPT FLUSH), give it the script and run `send` once more
    (a store never replaces a newer state, so what ran twice does no harm)."""
    try:
        send()
    except redis.exceptions.NoScriptError:
        cache.client.script_load(_STORE_IF_NEWER)
        send()


def store(*rows: dict) -> None:
    """Cache wallet states (`id, user_id, currency, balance, held, version, created_at,
    updated_at, deleted`), each unless the cache already holds that version or a newer
    one; several in one round trip. Best effort: a reader's fill may simply not happen
    (a settlement's store is retried: see settled.py)."""
    if not rows or not cache.ENABLED:
        return
    try:
        with_script(lambda: store_command(cache.client, list(rows)))
    except cache.ERRORS:
        pass  # the database still has it


def fetch(wallet_id: int) -> dict | None:
    """The cached state of a wallet, or None."""
    raw = cache.get(key(wallet_id))
    if raw is None:
        return None
    row = json.loads(raw.split(b"|", 1)[1])
    for name in ("created_at", "updated_at"):
        row[name] = datetime.fromisoformat(row[name])
    return row


def state_of(wallet: Wallet) -> dict:
    """The cacheable state of a wallet row."""
    return {"id": wallet.id, "user_id": wallet.user_id, "currency": wallet.currency,
            "balance": wallet.balance, "held": wallet.held, "version": wallet.version,
            "created_at": wallet.created_at, "updated_at": wallet.updated_at,
            "deleted": wallet.deleted_at is not None}


def refresh(wallet_ids: list[int]) -> None:
    """Store the current database state of these wallets (never older than what is cached)."""
    store(*(state_of(wallet) for wallet in Wallet.select().where(Wallet.id.in_(wallet_ids))))
