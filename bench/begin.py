"""The opening every benchmark run shares: its id and folder, the environment of its
processes, a migrated database, and what the report says of the machine."""
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import pymysql

from bench import report, seed
from bench.config import OUT_DIR, Namespace, stack_env
from bench.db import connect
from bench.stack import free_port, prepare


@dataclass
class Run:
    run_id: str
    run_dir: str
    env: dict[str, str]
    conn: pymysql.connections.Connection
    machine: str
    external_id: int


def begin(namespace: Namespace, *, suffix: str = "") -> Run:
    """Start a run in `namespace`: make its folder, prepare its database and services.

    Parameters:
      namespace: the run's database, vhost and Redis db.
      suffix: added to the run's id (`-quick`, `-history`).
    """
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + suffix
    run_dir = os.path.join(OUT_DIR, run_id)
    os.makedirs(run_dir, exist_ok=True)
    env = stack_env(namespace, port=free_port())
    print(f"bench: run {run_id}, logs in {run_dir}", flush=True)
    prepare(namespace, env)
    conn = connect(namespace)
    return Run(run_id, run_dir, env, conn, report.machine(conn),
               seed.system_wallets(conn)[seed.SYSTEM_KEYS[0]])
