"""What waitress spends on sending an answer: `make bench-sends`.

    .venv/bin/python bench/sends.py                  # ROUNDS rounds of SLICE_S s each
    .venv/bin/python bench/sends.py --rounds 1 --seconds 1

Two child processes serve the same small WSGI app (a 202 with a JSON body of the size of
an accepted transfer's) with waitress as the web process configures it (WEB_THREADS
threads): one with the web process's channel (web.server.Channel: the head and the body in
one send()), one with waitress's own (the head, then the body). wrk drives each in turn
(closed loop, 32 connections), each round starting with the other one, and the table gives
each one's answers a second and its CPU per answer (/proc), medians over the rounds. No
database, broker or cache: only the server's own work, which every answer of the service
pays on top of its route's. The servers' output goes to bench/out/sends-servers.log, the
table to bench/out/latest-sends.md.
"""
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from bench import cpu  # noqa: E402
from bench.config import OUT_DIR  # noqa: E402
from bench.load import run  # noqa: E402
from bench.stack import free_port, wait_healthy  # noqa: E402

ROUNDS = 6
SLICE_S = 5
CONNECTIONS = 32
BODY = b'{"id": 123456, "status": "pending", "type": "transfer", "amount": "0.05"}' * 4
VARIANTS = {"one send (web.server.Channel)": "one", "two sends (waitress's channel)": "two"}


def serve(variant: str, port: int) -> None:
    """Serve the app with `variant`'s channel until killed."""
    import waitress
    from waitress.channel import HTTPChannel

    import settings
    from web import server

    def app(environ, start_response):
        # /healthz answers 200, as the service's does, for bench.stack.wait_healthy.
        status = "200 OK" if environ["PATH_INFO"] == "/healthz" else "202 Accepted"
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(BODY)))])
        return [BODY]

    srv = waitress.create_server(app, host="127.0.0.1", port=port,
                                 threads=settings.WEB_THREADS, ident="wallet")
    srv.channel_class = server.Channel if variant == "one" else HTTPChannel
    srv.run()


def cpu_s(pid: int) -> float:
    """CPU seconds the server `pid` has used so far."""
    return cpu.seconds({"server": [pid]}, {})["server"]


def drive(port: int, seconds: int, data_path: str, out_prefix: str) -> float:
    """Answers a second from one wrk slice (bench.load.run, with get.lua over `data_path`).

    Raises:
      SystemExit: when an answer was not the app's 202, or a socket failed.
    """
    load = run("get", data_path, base_url=f"http://127.0.0.1:{port}", connections=CONNECTIONS,
               duration_s=seconds, out_prefix=out_prefix, expect=202)
    if load.status != {"202": load.requests}:
        raise SystemExit(f"bench: wrk saw other answers or errors: {load.status}")
    return load.rate_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--seconds", type=int, default=SLICE_S)
    args = parser.parse_args()
    ports = {variant: free_port() for variant in VARIANTS.values()}
    os.makedirs(OUT_DIR, exist_ok=True)
    log_path = os.path.join(OUT_DIR, "sends-servers.log")
    data_path = os.path.join(OUT_DIR, "sends.data")
    with open(data_path, "w") as f:
        f.write("/ -\n")  # get.lua's `path token`: the bare app reads neither
    with open(log_path, "w") as log:
        children = {v: subprocess.Popen([sys.executable, __file__, "--serve", v, str(port)],
                                        cwd=HERE, stdout=log, stderr=subprocess.STDOUT)
                    for v, port in ports.items()}
    rates: dict[str, list[float]] = {v: [] for v in ports}
    cpu_us: dict[str, list[float]] = {v: [] for v in ports}
    try:
        for variant, port in ports.items():
            wait_healthy(f"http://127.0.0.1:{port}", children[variant], log_path)
        for round_ in range(args.rounds):
            # Each round starts with the next variant, so a drift falls on each in turn.
            order = list(ports)
            for variant in order[round_ % len(order):] + order[:round_ % len(order)]:
                before = cpu_s(children[variant].pid)
                rate = drive(ports[variant], args.seconds, data_path,
                             os.path.join(OUT_DIR, f"sends-{variant}"))
                used = cpu_s(children[variant].pid) - before
                rates[variant].append(rate)
                cpu_us[variant].append(used * 1e6 / (rate * args.seconds))
                print(f"  {variant}, round {round_}: {rate:,.0f} answers/s, "
                      f"{cpu_us[variant][-1]:.0f} µs of server CPU each", flush=True)
    finally:
        for child in children.values():
            child.kill()
            child.wait()
    lines = [f"{args.rounds} rounds of {args.seconds} s per variant, interleaved, wrk with "
             f"{CONNECTIONS} connections; medians, then every round", "",
             "| server | answers/s | server CPU µs per answer | rounds: answers/s |",
             "|---|---|---|---|"]
    for name, variant in VARIANTS.items():
        lines.append(f"| {name} | {statistics.median(rates[variant]):,.0f} | "
                     f"{statistics.median(cpu_us[variant]):.0f} | "
                     f"{', '.join(f'{r:,.0f}' for r in rates[variant])} |")
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    with open(os.path.join(OUT_DIR, "latest-sends.md"), "w") as f:
        f.write(report)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
