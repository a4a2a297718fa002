"""Webhooks: telling integrators of their events, signed, at least once.

  urls        what a webhook URL may be, and which addresses may be called (SSRF)
  transport   the HTTP session that checks the address it actually connected to
  endpoints   registering, listing and deleting a user's webhooks; their deliveries log
  dispatch    turning new events into jobs, and handing due jobs to the actor (the sweeper)
  deliver     one attempt: claim, sign (Standard Webhooks), POST, record, schedule the next
  schedule    when the next attempt is due (exponential backoff with jitter), pure
  health      what the ops page and /metrics show of it, and re-sending a failed job
"""
