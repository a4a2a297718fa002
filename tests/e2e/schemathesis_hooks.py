"""Schemathesis hooks for tests/e2e/test_schemathesis.py (loaded by the CLI from this file
through SCHEMATHESIS_HOOKS; not a test module).

Two things a fuzzer does that a client never would, and that JSON Schema cannot forbid:

- It draws the same short values again and again. A 1-character Idempotency-Key is valid,
  so most of its calls would reuse a key with another body and get 422
  `idempotency_key_reused`; most of its sign-ups would repeat an email or username and get
  409. Either way they never reach the code behind. `before_call` gives a positive case's
  key a fresh value when the service already holds it for another operation, path or body
  (as a client does for a new intended operation), and a sign-up an email and username
  nobody took yet (as a new person brings their own), same length when that leaves room
  to be unique. A key held for the same operation and body is kept: that is a replay, and
  must answer like the first call. `after_call` learns what the service holds from the
  answers (201 or 202 stores a key: a refused call consumes nothing; a 409 means taken).
  Negative cases are never changed: one may leave a header out, and touching it would
  send it.
- `positive_data_acceptance` calls every refusal of a schema-valid request a failure. A
  few refusals depend on the server's state or on a relation between fields; the document
  says them in words. Those, and only those, are forgiven by `filter_failure`, each
  recognised by its stable problem `code` and checked against the request that drew it:

  invalid_cursor      a cursor of the documented form that the list never issued
  invalid_amount      more decimals than the wallet's currency has (the schema allows the
                      most any currency has: 4)
  currency_mismatch   the two wallets of a transfer or hold hold different currencies
  same_wallet         a transfer from a wallet to itself, or a hold for its own wallet
  validation_error    an id or `expires_in_s` sent as a whole float (`7.0`): JSON Schema
                      counts it an integer; the contract wants JSON integers written as such
  exceeds_hold        a capture of more than the hold still reserves (its captures so far)
  refund_exceeds_original  a refund of more than is left of the original (its refunds so far)
  validation_error    a statement whose `to` is not after its `from`, or more than 366 days
                      after it (two fields' relation: each alone is a valid date-time)
  hold_not_active     a capture or void of a hold already ended (captured, voided, expired)
                      or not active yet (its request still pending)
  not_refundable      a refund of a request with nothing left to refund, or of the caller's
                      own request that has no recipient
  too_many_webhooks   a registration past MAX_WEBHOOKS_PER_USER live webhooks

Every forgiven refusal is written, one JSON line each, to the file SCHEMATHESIS_FORGIVEN
names, so the test can print what it forgave.
"""
import json
import os
import re
import uuid

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

KEY = "Idempotency-Key"
VISIBLE_ASCII = re.compile(r"[\x21-\x7e]{1,255}")
# key -> the (operation, path parameters, body) of the call it was stored with: the first
# one answered 201 or 202 (a refused call consumes nothing), in this process
STORED: dict[str, str] = {}
# The emails and ("@" + username)s this process signed up, in lower case.
TAKEN: set[str] = set()
DECIMALS = re.compile(r"[A-Z]{3} allows at most [0-9] decimal places")
INTEGER_FIELDS = ("from_wallet_id", "to_wallet_id", "expires_in_s")
STATEMENT = "GET /v1/wallets/{wallet_id}/statement"


def whole_floats(body: object) -> set[str]:
    """The integer fields of a body sent as floats with no fraction (7.0)."""
    if not isinstance(body, dict):
        return set()
    return {name for name in INTEGER_FIELDS
            if isinstance(body.get(name), float) and body[name].is_integer()}


def state_dependent(case, problem: dict) -> bool:
    """Whether the refusal is one of those the module docstring lists, for this request."""
    code, body = problem.get("code"), case.body
    fields = {error.get("field") for error in problem.get("errors") or []}
    if code in ("currency_mismatch", "exceeds_hold", "refund_exceeds_original",
                "hold_not_active", "not_refundable", "too_many_webhooks"):
        return True
    if code == "invalid_cursor":
        return "cursor" in (case.query or {})
    if code == "invalid_amount":
        return bool(DECIMALS.fullmatch(problem.get("detail", "")))
    if code == "same_wallet":
        source = body.get("from_wallet_id") if isinstance(body, dict) and \
            "from_wallet_id" in body else (case.path_parameters or {}).get("wallet_id")
        return isinstance(body, dict) and source == body.get("to_wallet_id")
    if code == "validation_error":
        if case.operation.label == STATEMENT and fields == {"to"}:
            return {"from", "to"} <= set(case.query or {})
        return bool(fields) and fields <= whole_floats(body)
    return False


def fresh(value: str, *, room: int) -> str:
    """A value never sent before: `value` with a random tail, as long as `value` when it
    is at least 16 characters, else at most `room` characters longer."""
    if len(value) >= 16:
        return value[:-16] + uuid.uuid4().hex[:16]
    return value + uuid.uuid4().hex[:room]


def key_of(case) -> str | None:
    key = (case.headers or {}).get(KEY)
    return key if isinstance(key, str) and VISIBLE_ASCII.fullmatch(key) else None


def use_of(case) -> str:
    """What the service fingerprints a key with: the endpoint and the body."""
    return json.dumps([case.operation.label, case.path_parameters, case.body], sort_keys=True,
                      default=repr)


def fresh_person(body: dict) -> None:
    """A sign-up's email and username, made new when a sign-up took them already (the
    service compares both without case)."""
    email, username = body.get("email"), body.get("username")
    if isinstance(email, str) and email.lower() in TAKEN:
        # A dot-atom stays one with an atom put in front of it (or of its tail).
        local, _, domain = email.rpartition("@")
        tag = uuid.uuid4().hex[:8]
        body["email"] = (tag + local[8:] if len(local) > 8 else f"{tag}.{local}") + "@" + domain
    if isinstance(username, str) and "@" + username.lower() in TAKEN:
        body["username"] = fresh(username, room=min(8, 32 - len(username)))


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    key = key_of(case)
    if key is not None and STORED.get(key, use_of(case)) != use_of(case):
        case.headers[KEY] = fresh(key, room=16)
    if case.operation.label == "POST /v1/users" and isinstance(case.body, dict):
        fresh_person(case.body)


@schemathesis.hook
def after_call(context, case, response) -> None:
    # What the service now remembers; every call counts, a negative one may be accepted too.
    key = key_of(case)
    if key is not None and response.status_code in (201, 202):
        STORED.setdefault(key, use_of(case))
    # (A 409 says the email or the username was taken, not which: both are avoided.)
    if case.operation.label == "POST /v1/users" and response.status_code in (201, 409) and \
            isinstance(case.body, dict):
        TAKEN.update({str(case.body.get("email")).lower(),
                      "@" + str(case.body.get("username")).lower()})


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    if not isinstance(failure, RejectedPositiveData):
        return True
    try:
        problem = json.loads(response.content)
    except ValueError:
        return True
    if not isinstance(problem, dict) or not state_dependent(case, problem):
        return True
    if os.environ.get("SCHEMATHESIS_FORGIVEN"):
        with open(os.environ["SCHEMATHESIS_FORGIVEN"], "a") as out:
            out.write(json.dumps({"operation": case.operation.label, "code": problem["code"],
                                  "phase": case.meta.phase.name.value if case.meta else None})
                      + "\n")
    return False
