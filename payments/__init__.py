"""Payments: one money request's life, from the door to its outcome.

  door     accepting a request: its checks, its durable record, its message
  send     handing a recorded request to its actor (the outbox's send side)
  settle   carrying it out, once, however often it is run
  sweep    re-sending requests left pending (the outbox's safety net)
  rerun    putting a request whose retries ran out back to pending (ops)
  waits    waiting for a request to leave pending (`?wait=`)
  requests every SQL statement on transaction_requests
  queues   which actor queue settles which request type
"""
