"""What a benchmark run uses: its isolated namespace, sizes, durations, and the environment
every process of the stack gets.

A run never touches the `wallet`/`wallet_test` data: it has its own database, RabbitMQ
virtual host and Redis db (a full run and the `--quick` smoke test each have their own,
so CI can run the smoke test while someone runs a full benchmark).
"""
import base64
import os
import re
import secrets
import sys
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "bench", "out")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
# The interpreter of every child process: the project's virtualenv (the caller's otherwise).
PYTHON = os.path.join(VENV_BIN, "python") if os.path.exists(VENV_BIN) else sys.executable

# The HS256 key of this run's stack, random per run: no key in the repository signs a token.
JWT_SECRET = secrets.token_urlsafe(48)
# The key sealing its webhooks' secrets in the database, random per run too.
WEBHOOK_SECRET_KEYS = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
CURRENCY = "USD"
# What every seeded wallet starts with, in minor units (10,000.00 USD): enough that no
# transfer of a few cents ever fails for want of funds, even from the single hot sender.
SEED_BALANCE_MINOR = 1_000_000
# Transfers move a random 1 to MAX_TRANSFER_CENTS cents.
MAX_TRANSFER_CENTS = 9


def _procfile_worker_threads() -> int:
    """The `--threads` of the Procfile's worker line, which the stack runs as it is."""
    with open(os.path.join(ROOT, "Procfile")) as f:
        for line in f:
            if line.startswith("worker:") and (found := re.search(r"--threads (\d+)", line)):
                return int(found.group(1))
    raise SystemExit("bench: the Procfile has no `worker:` line with --threads")


# Thread count of each worker process, read from the Procfile (for the report).
WORKER_THREADS = _procfile_worker_threads()


@dataclass(frozen=True)
class Namespace:
    """Where one kind of run keeps its data: database, vhost, Redis db."""

    database: str
    vhost: str
    redis_db: int

    @property
    def database_url(self) -> str:
        return f"mysql://root@127.0.0.1:3306/{self.database}"

    @property
    def broker_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:5672/{self.vhost}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:6379/{self.redis_db}"


def parse_namespace(text: str) -> Namespace:
    """A `--namespace DATABASE,VHOST,REDIS_DB`; the database's name must end in _test."""
    database, vhost, redis_db = text.split(",")
    if not database.endswith("_test"):
        raise SystemExit("bench: --namespace needs a database name ending in _test")
    return Namespace(database, vhost, int(redis_db))


FULL_NAMESPACE = Namespace("wallet_bench_test", "wallet_bench", 3)
QUICK_NAMESPACE = Namespace("wallet_bench_quick_test", "wallet_bench_quick", 4)
# bench/app_cost.py's: the accept path in-process, beside either of the others.
APP_NAMESPACE = Namespace("wallet_bench_app_test", "wallet_bench_app", 5)


@dataclass(frozen=True)
class Sizes:
    """Sizes and durations of one run (full or quick)."""

    wallets: int                # the seeded population (reads; growth starts from it)
    phase_s: float              # each transfer accept phase
    read_s: float               # each read phase
    warmup_s: float             # unmeasured lead-in of each read phase
    ceiling_s: float            # the direct-SQL ceiling
    drain_timeout_s: float      # longest wait for a phase's requests to settle
    read_users: int             # distinct users the read phases pick from
    hot_wallets: int            # the hot set of the `hot` scenario
    hot_share: float            # share of transfers that touch the hot set
    growth: bool                # run the growth measures (1M entries, 100k wallets)
    transfer_wallets: int = 200  # the first wallets, between which the scenarios and the
                                 # ceiling move money (--wallets)
    small_wallets: int = 1_000  # settle rate at this many wallets...
    large_wallets: int = 100_000  # ...versus this many
    small_history: int = 1_000  # history latency at this many entries...
    large_history: int = 1_000_000  # ...versus this many; and balance at a moment on it
    statement_entries: int = 100_000  # a year's statement of this many entries


FULL = Sizes(wallets=10_000, phase_s=15, read_s=10, warmup_s=2, ceiling_s=15,
             drain_timeout_s=300, read_users=1_000, hot_wallets=10, hot_share=0.9,
             growth=True)
QUICK = Sizes(wallets=200, phase_s=2, read_s=1, warmup_s=1, ceiling_s=2,
              drain_timeout_s=90, read_users=200, hot_wallets=10, hot_share=0.9,
              growth=False)


def stack_env(namespace: Namespace, *, port: int, **extra: str) -> dict[str, str]:
    """The environment of every process of a run (web, workers, sweeper, manage.py).

    Parameters:
      namespace: the run's database, vhost and Redis db.
      port: where the web process listens.
      extra: more settings (say CACHE_TTL_S=0) for one process.
    """
    env = dict(os.environ)
    env.update({
        "WALLET_ENV": "test",
        "DATABASE_URL": namespace.database_url,
        "BROKER_URL": namespace.broker_url,
        "REDIS_URL": namespace.redis_url,
        "JWT_SECRET": JWT_SECRET,
        "WEBHOOK_SECRET_KEYS": WEBHOOK_SECRET_KEYS,
        "PORT": str(port),
        "LOGIN_MAX_FAILURES_PER_IP": "1000000",
        "SIGNUP_MAX_PER_IP": "1000000",
        # Version conflicts and Dramatiq's retries are counted from INFO lines.
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    env.pop("CACHE_TTL_S", None)
    env.update(extra)
    return env
