"""The webhook delivery actor, on a queue of its own (see webhooks/dispatch.py).

The Procfile runs it in worker processes of their own (`webhooks`), so a slow or dead
receiver holds only those threads, never a settlement. Retries are the job's own schedule
in the database (webhooks/schedule.py), not Dramatiq's: the actor makes one attempt and
returns, and the sweeper hands the job over again when it is due.
"""
import dramatiq

from webhooks import deliver
from webhooks.dispatch import DELIVER_ACTOR, QUEUE

# An attempt takes at most WEBHOOK_TIMEOUT_S; the time limit only catches a hang.
TIME_LIMIT_MS = 5 * 60 * 1000


@dramatiq.actor(queue_name=QUEUE, actor_name=DELIVER_ACTOR, max_retries=3,
                time_limit=TIME_LIMIT_MS)
def deliver_webhook(job_id: int) -> None:
    """Make one delivery attempt of webhook job `job_id` if it is due; safe to run twice."""
    deliver.deliver(job_id)
