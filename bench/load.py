"""The load generator: C client threads over keep-alive HTTP, for a fixed time.

Runs in its own process (`python bench/load.py < spec.json`), so the orchestrator's work
never steals its time; prints one JSON object with every measured latency and the count
of each status. Tokens are signed here with the bench secret (HS256, sub, iat, exp), as the
service would sign them, so no login is on the measured path.

Spec keys: base_url, kind (transfer | wallet | history), clients, duration_s, warmup_s,
rate_per_s (0: closed loop, as fast as answers come), secret, population {user_base,
wallet_base, count}, pattern (uniform | hot | single), hot_wallets, hot_share, and for
history reads of one wallet: history {user_id, wallet_id, cursor}.

Closed loop: a latency is send to last byte. Paced (rate_per_s > 0): each client sends on a
fixed schedule and a latency counts from the scheduled moment, so a stall that delays later
sends is charged to them (no coordinated omission).
"""
import http.client
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

import jwt

TOKEN_TTL_S = 3600
EXPECTED = {"transfer": 202, "wallet": 200, "history": 200}
MAX_SAMPLES = 5
TIMEOUT_S = 30


class Tokens(dict):
    """Access tokens by user id, signed on first use."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def __missing__(self, user_id: int) -> str:
        now = int(time.time())
        # Seeded users never logged out: their token generation is 0.
        token = jwt.encode({"sub": str(user_id), "iat": now, "exp": now + TOKEN_TTL_S,
                            "gen": 0}, self.secret, algorithm="HS256")
        self[user_id] = token
        return token


def pick_pair(spec: dict, rng: random.Random) -> tuple[int, int]:
    """Sender and recipient indexes into the population, never equal."""
    n = spec["population"]["count"]
    pattern = spec.get("pattern", "uniform")
    if pattern == "single":
        return 0, rng.randrange(1, n)
    hot = spec.get("hot_wallets", 0)
    if pattern == "hot" and rng.random() < spec["hot_share"]:
        one, other = rng.randrange(hot), hot + rng.randrange(n - hot)
        return (one, other) if rng.random() < 0.5 else (other, one)
    sender = rng.randrange(n)
    return sender, (sender + rng.randrange(1, n)) % n


def next_call(spec: dict, rng: random.Random, tokens: Tokens) -> tuple[str, str, bytes | None,
                                                                      dict]:
    """Method, path, body and headers of the next request."""
    pop = spec["population"]
    kind = spec["kind"]
    if kind == "transfer":
        sender, recipient = pick_pair(spec, rng)
        body = json.dumps({"from_wallet_id": pop["wallet_base"] + sender,
                           "to_wallet_id": pop["wallet_base"] + recipient,
                           "amount": f"0.0{rng.randint(1, 9)}"}).encode()
        return "POST", "/v1/transfers", body, {
            "Authorization": "Bearer " + tokens[pop["user_base"] + sender],
            "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
    if spec.get("history"):
        one = spec["history"]
        path = f"/v1/wallets/{one['wallet_id']}/transactions"
        if one.get("cursor"):
            path += "?cursor=" + one["cursor"]
        return "GET", path, None, {"Authorization": "Bearer " + tokens[one["user_id"]]}
    i = rng.randrange(pop["count"])
    path = f"/v1/wallets/{pop['wallet_base'] + i}" + ("/transactions" if kind == "history" else "")
    return "GET", path, None, {"Authorization": "Bearer " + tokens[pop["user_base"] + i]}


def client(n: int, spec: dict, tokens: Tokens, measure_from: float, until: float,
           out: dict) -> None:
    """One client: keep-alive connection, calls until `until`, results into `out`."""
    url = urlsplit(spec["base_url"])
    rng = random.Random(spec.get("seed", 0) * 1000 + n)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_S)
    interval = spec["clients"] / spec["rate_per_s"] if spec.get("rate_per_s") else 0.0
    scheduled = time.perf_counter() + (interval * n / spec["clients"] if interval else 0)
    latencies, status, samples = out["latencies"], out["status"], out["samples"]
    expected = EXPECTED[spec["kind"]]
    while True:
        if interval:
            pause = scheduled - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        began = scheduled if interval else time.perf_counter()
        if began >= until:
            break
        method, path, body, headers = next_call(spec, rng, tokens)
        try:
            conn.request(method, path, body=body, headers=headers)
            res = conn.getresponse()
            payload = res.read()
            code = str(res.status)
            if res.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            code, payload = "transport", repr(exc).encode()
            conn.close()
        ended = time.perf_counter()
        if began >= measure_from:
            latencies.append(round((ended - began) * 1000, 3))
            status[code] = status.get(code, 0) + 1
            if code != str(expected) and len(samples) < MAX_SAMPLES:
                samples.append(f"{code} {method} {path}: {payload[:300].decode(errors='replace')}")
        scheduled += interval
    conn.close()


def run(spec: dict) -> dict:
    """Drive the load described by `spec`; returns latencies (ms) and status counts."""
    tokens = Tokens(spec["secret"])
    start = time.perf_counter()
    measure_from = start + spec.get("warmup_s", 0)
    until = measure_from + spec["duration_s"]
    outs = [{"latencies": [], "status": {}, "samples": []} for _ in range(spec["clients"])]
    threads = [threading.Thread(target=client, args=(n, spec, tokens, measure_from, until, out),
                                daemon=True) for n, out in enumerate(outs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    status: dict[str, int] = {}
    for out in outs:
        for code, count in out["status"].items():
            status[code] = status.get(code, 0) + count
    return {"latencies_ms": [ms for out in outs for ms in out["latencies"]], "status": status,
            "samples": [s for out in outs for s in out["samples"]][:MAX_SAMPLES],
            "elapsed_s": spec["duration_s"],
            "finished_s": round(time.perf_counter() - measure_from, 3)}


def drive(spec: dict, *, python: str = sys.executable) -> dict:
    """Run the load generator in its own process and return its result."""
    done = subprocess.run([python, __file__], input=json.dumps(spec), capture_output=True,
                          text=True, timeout=spec.get("warmup_s", 0) + spec["duration_s"] + 120)
    if done.returncode:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
