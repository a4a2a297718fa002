"""Every broker question the service asks, answered through infra.broker as a process with
BROKER_URL and RABBITMQ_MANAGEMENT_URL naming a cluster would: run as
`python -m tests.scale.questions` with those set; prints the answers as JSON. It requeues
one dead-lettered message of `deposits`, the ops page's action, when there is one."""
import json
import time

from infra import broker, health
from payments.queues import QUEUES

# The management API's counts are statistics its nodes emit every few seconds, later still
# for a queue whose leader just moved: they are read until they show the dead message.
COUNTS_WAIT_S = 30


def main() -> None:
    ops = broker.for_ops(QUEUES)
    state = {"ready": health.readiness()["broker"]}
    broker.ping()
    state["backlogged"] = sorted(broker.backlogged(QUEUES))
    state["dead_letter_counts"] = broker.dead_letter_counts(QUEUES)
    deadline = time.monotonic() + COUNTS_WAIT_S
    counts = ops.counts()
    while time.monotonic() < deadline and not any(
            c.queue == "deposits" and c.dead for c in counts or []):
        time.sleep(0.5)
        counts = ops.counts()
    state["counts"] = None if counts is None else {c.queue: [c.ready, c.dead] for c in counts}
    dead = ops.dead("deposits") or []
    state["dead"] = [m.message_id for m in dead]
    if dead:
        ops.requeue("deposits", dead[0].key)
        state["requeued"] = dead[0].message_id
    print(json.dumps(state))


if __name__ == "__main__":
    main()
