"""Growth: does the service slow down as the data grows?

- settle rate with transfers spread over 1,000 wallets, then over 100,000 (the population
  is grown to 100,000 in between);
- history page latency of a wallet with 1,000 entries versus one with 1,000,000, for the
  first page and for a page halfway back the cursor chain, read through the cache-off web
  process so the figure is the database's work, not Redis's.
"""
import subprocess
import time
from dataclasses import dataclass

from bench import seed
from bench.config import PYTHON, ROOT
from bench.load import Load
from bench.phases import Bench, TransferPhase, audit, reads, transfers
from bench.seed import HistoryWallet, Population

# History reads use a light load, so the latency is the query's cost rather than queueing.
HISTORY_CONNECTIONS = 4


@dataclass
class HistoryGrowth:
    small: HistoryWallet
    large: HistoryWallet
    first: tuple[Load, Load]    # first page: small, large
    middle: tuple[Load, Load]   # halfway back: small, large


def cursor_for(env: dict, wallet_id: int, last_id: int) -> str:
    """A genuine cursor resuming the wallet's history before entry `last_id`, made by the
    service's own code (web/cursor.py) with the run's secret."""
    code = ("import sys; from web import cursor; "
            f"sys.stdout.write(cursor.encode('transactions:{int(wallet_id)}', {int(last_id)}))")
    done = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.strip()


def settle_rate(bench: Bench, pop: Population, *, external_id: int
                ) -> tuple[TransferPhase, TransferPhase, Population]:
    """Uniform transfers over the first 1,000 wallets, then over 100,000."""
    small_n, large_n = bench.sizes.small_wallets, bench.sizes.large_wallets
    small = transfers(bench, f"uniform over {small_n:,} wallets", pop.subset(small_n))
    began = time.monotonic()
    grown = seed.population(bench.conn, large_n - pop.count, external_id=external_id, after=pop)
    print(f"  seeded {large_n - pop.count:,} more wallets in {time.monotonic() - began:.0f}s",
          flush=True)
    audit(bench.env, f"seeding {large_n:,} wallets", bench.audits)
    large = transfers(bench, f"uniform over {large_n:,} wallets", grown)
    return small, large, grown


def history(bench: Bench, *, base_url: str, external_id: int) -> HistoryGrowth:
    """History page latency at a small and a large number of entries."""
    wallets = []
    for entries in (bench.sizes.small_history, bench.sizes.large_history):
        began = time.monotonic()
        wallets.append(seed.history_wallet(bench.conn, entries, external_id=external_id))
        print(f"  seeded a wallet with {entries:,} entries in {time.monotonic() - began:.0f}s",
              flush=True)
    audit(bench.env, "seeding the history wallets", bench.audits)
    first, middle = [], []
    for wallet in wallets:
        path = f"/v1/wallets/{wallet.wallet_id}/transactions"
        label = f"history of {wallet.entries:,} entries"
        first.append(reads(bench, f"{label}, first page", [(path, wallet.user_id)],
                           base_url=base_url, connections=HISTORY_CONNECTIONS))
        cursor = cursor_for(bench.env, wallet.wallet_id, wallet.middle_entry_id)
        middle.append(reads(bench, f"{label}, halfway back",
                            [(f"{path}?cursor={cursor}", wallet.user_id)],
                            base_url=base_url, connections=HISTORY_CONNECTIONS))
    return HistoryGrowth(wallets[0], wallets[1], tuple(first), tuple(middle))
