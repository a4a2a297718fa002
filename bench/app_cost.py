"""What one accepted transfer costs the web process's own code: `make bench-app`.

    .venv/bin/python bench/app_cost.py                       # this checkout, 8 runs
    .venv/bin/python bench/app_cost.py --against ../other    # this checkout against another

Each run is a child process that builds the WSGI app as api.py does (logging included,
written to a file) and calls it directly, on one thread, for POST /v1/transfers from a
wallet of a user it signs up to another's: no waitress, no sockets to a client, no other request in
flight. What is left is the app's own Python and its round trips to MariaDB, Redis and
RabbitMQ (publisher confirms on), which is what a change to the accept path changes. The
child reports its user and system CPU, wall time and voluntary context switches per
transfer (getrusage). With `--against`, runs of the two checkouts alternate (one of each,
ROUNDS times) so that a drift in the machine's load falls on both; the table gives each
one's medians, and each run's CPU so the spread shows.

Whole-service figures stay `make bench`'s: this measures a piece, not the service.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

# This checkout; a child imports the app from the checkout it runs in (its working folder).
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = 8
TRANSFERS = 800
WARM_UP = 50  # transfers before the measured ones: pools, caches, queue declarations
PASSWORD = "bench-app-cost-1"


def child(transfers: int) -> dict:
    """Sign up, open two wallets, accept `transfers` transfers through the app; the costs."""
    import io

    import api  # noqa: F401 - the composition root: the broker every send goes through
    from accounts import users
    from infra import logs
    from models import Wallet

    logs.configure("web")
    app = api.app
    name = f"app{os.getpid()}x{time.monotonic_ns()}"
    sender, recipient = (users.sign_up(email=f"{name}{n}@example.com", username=f"{name}{n}",
                                       password=PASSWORD, ip="198.51.100.7") for n in (1, 2))
    token = users.log_in(email=sender.email, password=PASSWORD, ip="198.51.100.7",
                         user_agent="bench")[0]
    source, target = (Wallet.create(user=user, currency="USD").id
                      for user in (sender, recipient))
    body = json.dumps({"from_wallet_id": source, "to_wallet_id": target,
                       "amount": "0.01"}).encode()

    def accept(n: int) -> None:
        statuses: list[str] = []
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v1/transfers", "QUERY_STRING": "",
                   "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                   "HTTP_AUTHORIZATION": f"Bearer {token}",
                   "HTTP_IDEMPOTENCY_KEY": f"{name}-{n}", "wsgi.input": io.BytesIO(body),
                   "SERVER_NAME": "bench", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                   "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
        answer = b"".join(app(environ, lambda status, _headers, _exc=None:
                              statuses.append(status)))
        if not statuses[0].startswith("202"):
            raise SystemExit(f"bench: POST /v1/transfers answered {statuses[0]}: {answer[:300]!r}")

    for n in range(WARM_UP):
        accept(n)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for n in range(WARM_UP, WARM_UP + transfers):
        accept(n)
    wall_s, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {"user_ms": (after.ru_utime - before.ru_utime) * 1000 / transfers,
            "sys_ms": (after.ru_stime - before.ru_stime) * 1000 / transfers,
            "wall_ms": wall_s * 1000 / transfers,
            "switches": (after.ru_nvcsw - before.ru_nvcsw) / transfers}


def run_child(root: str, env: dict, transfers: int, log_path: str) -> dict:
    from bench.config import PYTHON

    with open(log_path, "ab") as log:
        done = subprocess.run([PYTHON, os.path.abspath(__file__), "--child",
                               "--transfers", str(transfers)], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=log, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: a run in {root} failed; see {log_path}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def table(results: dict[str, list[dict]]) -> str:
    lines = ["| checkout | runs | CPU ms per transfer (user + sys) | wall ms | voluntary "
             "switches | CPU of each run |", "|---|---|---|---|---|---|"]
    for name, runs in results.items():
        cpu = [r["user_ms"] + r["sys_ms"] for r in runs]
        lines.append(f"| {name} | {len(runs)} | {statistics.median(cpu):.2f} "
                     f"({_median(runs, 'user_ms'):.2f} + {_median(runs, 'sys_ms'):.2f}) | "
                     f"{_median(runs, 'wall_ms'):.2f} | {_median(runs, 'switches'):.1f} | "
                     + ", ".join(f"{c:.2f}" for c in cpu) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", metavar="DIR", help="another checkout, run in turn")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--transfers", type=int, default=TRANSFERS)
    parser.add_argument("--namespace", metavar="DATABASE,VHOST,REDIS_DB",
                        help="where the runs keep their data (the database's name must end "
                             "in _test), instead of the default")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path[0] = os.getcwd()  # not bench/, whose modules would shadow none of ours
        print(json.dumps(child(args.transfers)), flush=True)
        return 0
    sys.path[0] = HERE
    from bench.config import APP_NAMESPACE, OUT_DIR, parse_namespace, stack_env
    from bench.run import hold_lock
    from bench.stack import prepare

    namespace = parse_namespace(args.namespace) if args.namespace else APP_NAMESPACE
    lock = hold_lock(namespace.database)  # noqa: F841 - held until the process exits
    env = stack_env(namespace, port=0, PASSWORD_HASH_PROFILE="cheapest", AMQP_HEARTBEAT_S="0")
    prepare(namespace, env)
    os.makedirs(OUT_DIR, exist_ok=True)
    log_path = os.path.join(OUT_DIR, "app-cost.log")
    roots = {"this checkout": HERE}
    if args.against:
        roots[os.path.abspath(args.against)] = os.path.abspath(args.against)
    results: dict[str, list[dict]] = {name: [] for name in roots}
    for round_ in range(args.rounds):
        order = list(roots.items())
        for name, root in order[round_ % len(order):] + order[:round_ % len(order)]:
            results[name].append(run_child(root, env, args.transfers, log_path))
            print(f"  {name}, round {round_}: {json.dumps(results[name][-1])}", flush=True)
    text = table(results)
    with open(os.path.join(OUT_DIR, "latest-app-cost.md"), "w") as f:
        f.write(text + "\n")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
