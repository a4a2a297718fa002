"""What a worker tells Redis after a settlement commits, until Redis has taken it.

Two things, in one round trip: the wallets' new states for the versioned cache (see
wallet_cache.py), and the settled request ids on the wake-up channel (see wake.py). If
Redis does not take them (a timeout, a restart, a full memory), the cache may still hold
the wallets' older states, which no read would ever replace: so a repair thread retries,
every REPAIR_FIRST_MS doubling up to REPAIR_MAX_MS, storing the new states (never over a
newer one) or, if Redis refuses to store, deleting the keys; a read then falls through to
MariaDB. It gives up after CACHE_TTL_S, by when the stale entries have expired anyway.

The bound on a stale wallet read: as soon as Redis takes writes again (plus at most
REPAIR_MAX_MS) while the worker lives; CACHE_TTL_S if the worker dies first.
"""
import logging
import queue
import threading
import time

import redis

import settings
from infra import cache, wake, wallet_cache

log = logging.getLogger(__name__)

REPAIR_FIRST_MS = 50
REPAIR_MAX_MS = 1000


def _pipeline(request_ids: list[int], rows: list[dict], *, delete: bool):
    # One key per command, in one round trip: a Redis that refuses commands over keys of
    # several slots (a cluster node) still takes each.
    pipe = cache.client.pipeline(transaction=False)
    if rows and cache.ENABLED:
        for row in rows:
            if delete:
                pipe.delete(wallet_cache.key(row["id"]))
            else:
                wallet_cache.store_command(pipe, [row])
    if request_ids:
        wake.publish_command(pipe, request_ids)
    return pipe


def _send(request_ids: list[int], rows: list[dict], *, delete: bool = False) -> None:
    # (Sent twice when Redis lost the store script: a second wake-up is harmless too.)
    wallet_cache.with_script(lambda: _pipeline(request_ids, rows, delete=delete).execute())


def announce(request_ids: list[int], rows: list[dict]) -> bool:
    """Tell Redis: these requests settled, these wallets are now so. Never raises.

    Returns:
      Whether Redis took it now (if not, the repair thread keeps trying).
    """
    try:
        _send(request_ids, rows)
        return True
    except cache.ERRORS as exc:
        log.warning("Redis did not take settled requests %s (%s); repairing in the "
                    "background.", request_ids, type(exc).__name__)
        REPAIRS.put((time.monotonic(), request_ids, rows))
        _start()
        return False


def _repair(request_ids: list[int], rows: list[dict], since: float) -> None:
    gap_s = REPAIR_FIRST_MS / 1000
    delete = False
    while time.monotonic() - since < settings.CACHE_TTL_S:
        time.sleep(gap_s)
        try:
            _send(request_ids, rows, delete=delete)
            log.info("Repaired the cache after settled requests %s.", request_ids)
            return
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            pass  # not there: the same again later
        except cache.ERRORS:
            # There, but it refuses to store (full, read-only, a script it will not run):
            # make room for the truth instead (DEL is allowed when full).
            delete = True
        gap_s = min(gap_s * 2, REPAIR_MAX_MS / 1000)
    log.warning("Gave up repairing the cache after settled requests %s: its entries have "
                "expired by now.", request_ids)


REPAIRS: "queue.Queue[tuple[float, list[int], list[dict]]]" = queue.Queue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def _run() -> None:
    while True:
        batch = [REPAIRS.get()]
        while True:  # everything waiting goes in one round trip, newest state per wallet
            try:
                batch.append(REPAIRS.get_nowait())
            except queue.Empty:
                break
        newest: dict[int, dict] = {}
        for _, _, rows in batch:
            for row in rows:
                if row["id"] not in newest or newest[row["id"]]["version"] < row["version"]:
                    newest[row["id"]] = row
        _repair([i for _, ids, _ in batch for i in ids], list(newest.values()),
                min(since for since, _, _ in batch))


def _start() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="cache-repair", daemon=True)
            _thread.start()
