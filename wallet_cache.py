"""Cached wallets in Redis, versioned so the cache never goes backwards.

An entry carries the wallet's version, and a store only replaces an older version.
A reader that loaded a wallet just before a settlement committed cannot overwrite
the newer state the settlement stored, so a lost race leaves no stale balance behind.
"""
import json
from datetime import datetime

import cache
import settings
from models import Wallet

# KEYS[1] = wallet key; ARGV[1] = version, ARGV[2] = payload, ARGV[3] = ttl seconds.
_STORE_IF_NEWER = """
local old = redis.call('GET', KEYS[1])
if old then
  local v = tonumber(string.match(old, '^(%d+)|'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""
_script = cache.client.register_script(_STORE_IF_NEWER)


def _key(wallet_id: int) -> str:
    return f"wallet:{wallet_id}"


def _payload(row: dict) -> str:
    return json.dumps(row, default=lambda moment: moment.isoformat())


def store(row: dict) -> None:
    """Cache one wallet state (`id, user_id, currency, balance, version, created_at,
    updated_at, deleted`) unless the cache already holds this version or a newer one."""
    try:
        _script(keys=[_key(row["id"])], args=[row["version"], _payload(row),
                                               settings.CACHE_TTL_S])
    except cache.ERRORS:
        pass  # the database still has it


def fetch(wallet_id: int) -> dict | None:
    """The cached state of a wallet, or None."""
    raw = cache.get(_key(wallet_id))
    if raw is None:
        return None
    row = json.loads(raw.split(b"|", 1)[1])
    for name in ("created_at", "updated_at"):
        row[name] = datetime.fromisoformat(row[name])
    return row


def state_of(wallet: Wallet) -> dict:
    """The cacheable state of a wallet row."""
    return {"id": wallet.id, "user_id": wallet.user_id, "currency": wallet.currency,
            "balance": wallet.balance, "version": wallet.version,
            "created_at": wallet.created_at, "updated_at": wallet.updated_at,
            "deleted": wallet.deleted_at is not None}


def refresh(wallet_ids: list[int]) -> None:
    """Store the current database state of these wallets (never older than what is cached)."""
    for wallet in Wallet.select().where(Wallet.id.in_(wallet_ids)):
        store(state_of(wallet))
