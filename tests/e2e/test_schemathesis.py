"""Schemathesis against the live service: every operation of /openapi.json, fuzzed.

The document is loaded from the running `stack`. Every call carries a real bearer token of
a user with a funded USD wallet, and every response must pass these checks:

  not_a_server_error            no 5xx
  status_code_conformance       the status is documented for the operation
  content_type_conformance      the Content-Type is the one documented for that status
  response_schema_conformance   the body matches the documented schema
  response_headers_conformance  documented headers (Retry-After, Location...) match theirs

Three runs:
- every operation through the `schemathesis run` CLI: the document's examples, its coverage
  phase (boundary, missing and wrong-typed values) and MAX_EXAMPLES fuzzed cases per
  operation, each in positive and negative mode. (The CLI rather than schemathesis' pytest
  plugin, because that plugin's `from_fixture` sets `node._nodeid`, which pytest 9 removed.)
- through the Python API, the operations with a path id again, with the ids pinned to the
  caller's real wallet, request and notification, so generated bodies and queries reach the
  code behind them instead of stopping at a 404;
- DELETE /v1/me on its own: it would delete the token's user and turn every later call of
  the shared runs into a 401, so it is excluded from them and fuzzed here with a fresh
  throwaway user for every example.

Every operation must run at least one example in each run (counted per operation from
the CLI's event report, and per operation and mode through the Python API): a total alone
would pass with an operation that ran none, and an operation whose data cannot be
generated (Hypothesis' Unsatisfiable) fails rather than being skipped.

The number of examples each run made is printed (on the terminal, whatever the capture).
"""
import collections
import json
import os
import re
import subprocess
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import Client

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
# Fuzzed cases per operation (and mode, for the CLI), on top of the examples and coverage
# cases: the whole file stays well under two minutes.
MAX_EXAMPLES = 30
PINNED_EXAMPLES = 30
DELETE_ME_EXAMPLES = 5
CLI_TIMEOUT_S = 240
SETTINGS = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
PATH_IDS = ("wallet_id", "request_id", "notification_id")


def report(request, line: str) -> None:
    """Print past pytest's output capture."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + line, flush=True)


@pytest.fixture(scope="module")
def caller(stack) -> dict:
    """A user with a funded USD wallet, a settled request and notifications."""
    client = Client(stack).sign_up()
    wallet = client.open_wallet("USD")
    request = client.settled(client.deposit(wallet["id"], "100.00")["id"])
    note = client.call("GET", "/v1/notifications").json()["items"][0]
    return {"client": client, "headers": {"Authorization": f"Bearer {client.token}"},
            "pinned": {"wallet_id": wallet["id"], "request_id": request["id"],
                       "notification_id": note["id"]}}


@pytest.fixture(scope="module")
def live_schema(stack):
    return schemathesis.openapi.from_url(stack + "/openapi.json")


def examples_per_operation(events_path: str) -> collections.Counter:
    """How many requests the CLI sent per operation, from its NDJSON event report."""
    sent: collections.Counter = collections.Counter()
    with open(events_path) as events:
        for line in events:
            if line.startswith('{"ScenarioFinished"'):
                recorder = json.loads(line)["ScenarioFinished"]["recorder"]
                sent[recorder["label"]] += len(recorder.get("interactions") or {})
    return sent


def test_every_operation_answers_as_the_document_says(stack, caller, live_schema, tmp_path,
                                                      request):
    # Given the schemathesis CLI pointed at the live document, with the caller's token
    cli = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    events = str(tmp_path / "events.ndjson")
    argv = [cli, "run", f"{stack}/openapi.json",
            "--header", f"Authorization: {caller['headers']['Authorization']}",
            "--exclude-name", "DELETE /v1/me",
            "--checks", ",".join(check.__name__ for check in CHECKS),
            "--phases", "examples,coverage,fuzzing", "--mode", "all",
            "--max-examples", str(MAX_EXAMPLES), "--request-timeout", "60",
            "--suppress-health-check", "all", "--workers", "1", "--no-color",
            "--report", "ndjson", "--report-ndjson-path", events]
    # When it runs every phase over every operation (one worker: with two, CPython 3.11's
    # `ast` raced inside Hypothesis' lambda descriptions and the run ended in a SystemError)
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, env={**os.environ, "NO_COLOR": "1"})
    out = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", out)
    tested = re.search(r"Tested: (\d+)", out)
    report(request, f"schemathesis CLI: {generated and generated[1]} examples over "
                    f"{tested and tested[1]} operations (exit code {done.returncode})")
    # Then every check passed on every answer, and every operation was exercised
    assert done.returncode == 0, out
    assert generated and int(generated[1]) > 0, out
    assert tested and int(tested[1]) >= 20, out
    sent = examples_per_operation(events)
    operations = [result.ok().label for result in live_schema.exclude(name="DELETE /v1/me")
                  .get_all_operations()]
    assert [op for op in operations if sent[op] == 0] == [], sent


def fuzz(strategy, *, base_url: str, headers, examples: int) -> int:
    """Run the checks on up to `examples` cases drawn from `strategy`; returns how many ran.

    `headers` is a dict, or a function called before each case that returns one. A
    strategy that can generate nothing raises Hypothesis' Unsatisfiable: a failure.
    """
    ran = 0

    @settings(SETTINGS, max_examples=examples)
    @given(case=strategy)
    def run(case):
        nonlocal ran
        ran += 1
        case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=60,
                               headers=headers() if callable(headers) else headers)

    run()
    return ran


def test_operations_on_real_ids_answer_as_the_document_says(live_schema, stack, caller,
                                                             request):
    # Given the operations with a path id, and the caller's real wallet, request, notification
    found = [result.ok() for result in live_schema.exclude(name="DELETE /v1/me")
             .get_all_operations()]
    pinned_ops = [op for op in found if any("{" + n + "}" in op.path for n in PATH_IDS)]
    assert len(pinned_ops) >= 7, [op.label for op in found]
    # When each is fuzzed with schema-valid data on those ids
    ran, failures = collections.Counter(), []
    for operation in pinned_ops:
        pinned = {n: v for n, v in caller["pinned"].items() if "{" + n + "}" in operation.path}
        try:
            ran[operation.label] += fuzz(
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters=pinned),
                base_url=stack, headers=caller["headers"], examples=PINNED_EXAMPLES)
        except Exception as exc:  # noqa: BLE001 - collected, so one run shows every failure
            failures.append(f"{operation.label} on {pinned}:\n{exc}")
    report(request, f"schemathesis pinned ids: {sum(ran.values())} examples over "
                    f"{len(ran)} operations")
    # Then no answer broke a check, and every operation ran examples
    assert not failures, "\n\n".join(failures)
    assert [op.label for op in pinned_ops if ran[op.label] == 0] == [], ran


def test_deleting_me_answers_as_the_document_says(live_schema, stack, request):
    # Given DELETE /v1/me, and a fresh throwaway user (with its token) for every example
    (operation,) = [result.ok() for result in live_schema.include(name="DELETE /v1/me")
                    .get_all_operations()]

    def throwaway() -> dict:
        return {"Authorization": f"Bearer {Client(stack).sign_up().token}"}

    # When it is fuzzed, Then every answer conforms (204 for a live user with empty wallets)
    ran = {mode: fuzz(operation.as_strategy(mode), base_url=stack, headers=throwaway,
                      examples=DELETE_ME_EXAMPLES)
           for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)}
    report(request, f"schemathesis DELETE /v1/me: {sum(ran.values())} examples")
    # And each mode ran examples
    assert all(count >= 1 for count in ran.values()), ran
