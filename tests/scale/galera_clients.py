"""What the Galera scale test's clients do: transfers retried with their key until
accepted, a request waited on through a failover, another local client address, and the
questions asked of the proxy and of each web process."""
import contextlib
import http.client
import json
import threading
import time
from collections import Counter

import pymysql
import requests

from tests.helpers import Client, unique
from tests.scale.haproxy import HAProxy


def post_from(address: str, port: int, path: str, body: dict, **headers: str) -> int:
    """POST from the local address `address` (any of 127.0.0.0/8), as another client."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(address, 0))
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Content-Type": "application/json", **headers})
        return conn.getresponse().status
    finally:
        conn.close()


def writer_node(proxy: HAProxy) -> str:
    """The name of the node the proxy sends a new connection to."""
    with pymysql.connect(host="127.0.0.1", port=proxy.db_port, user="root",
                         connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@wsrep_node_name")
        return cur.fetchone()[0]


class Load:
    """Transfers through the proxy, each retried with its key until it is accepted;
    `enough` is set once `kill_after` are."""

    def __init__(self, base: str, users: list[Client], wallets: list[int], *,
                 kill_after: int) -> None:
        self.kill_after = kill_after
        self.base, self.users, self.wallets = base, users, wallets
        self.lock = threading.Lock()
        self.accepted: dict[str, int] = {}  # Idempotency-Key -> request id
        self.sender: dict[int, Client] = {}  # request id -> who sent it
        self.refused: Counter = Counter()   # what a try got instead of a 202
        # 202s that replayed an earlier try's request: that try was recorded but its answer
        # was lost (a node died between the commit and the answer)
        self.replayed = 0
        self.enough = threading.Event()
        self.stop = threading.Event()  # the test gave up: no more tries

    def transfer(self, i: int) -> None:
        sender, receiver = i % len(self.users), (i * 3 + 1) % len(self.users)
        if receiver == sender:
            receiver = (sender + 1) % len(self.users)
        session = Client(self.base)
        session.token = self.users[sender].token
        key, body = unique("scale"), {"from_wallet_id": self.wallets[sender],
                                      "to_wallet_id": self.wallets[receiver],
                                      "amount": f"{1 + i % 5}.{i % 100:02d}"}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                res = session.call("POST", "/v1/transfers", json=body, key=key)
                status = res.status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            if status == 202:
                with self.lock:
                    self.accepted[key] = res.json()["id"]
                    self.sender[res.json()["id"]] = self.users[sender]
                    self.replayed += res.headers.get("Idempotent-Replayed") == "true"
                    if len(self.accepted) >= self.kill_after:
                        self.enough.set()
                return
            with self.lock:
                self.refused[status] += 1
            assert status in (502, 503, 504) or isinstance(status, str), res.text
            time.sleep(0.1)
        raise AssertionError(f"transfer {key} never accepted")


def settled(client: Client, request_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            res = client.call("GET", f"/v1/requests/{request_id}?wait=10")
            if res.status_code == 200 and res.json()["status"] != "pending":
                return res.json()
        time.sleep(0.1)
    raise AssertionError(f"request {request_id} not settled in 120 s")


def accepted_on(web: str, kind: str) -> float:
    """What this web process's own /metrics counts as newly accepted `kind` requests."""
    text = requests.get(web + "/metrics", timeout=10).text
    line = f'wallet_requests_accepted_total{{type="{kind}"}} '
    return sum(float(row.split()[-1]) for row in text.splitlines() if row.startswith(line))
