"""Schemathesis against the live service: every operation of /openapi.json, fuzzed, and
the walk its links describe.

The document is loaded from the running `stack`. Calls carry a real bearer token (of a
user whose password is not the document's example one, or the examples phase would change
it and end the token, leaving every later call a 401).

Four runs:
- every operation through the `schemathesis run` CLI with every check (ALL_CHECKS): the
  document's examples, its coverage phase and MAX_EXAMPLES fuzzed cases per operation, in
  positive and negative mode. Besides conformance (status, content type, body, headers, no
  5xx), schema-valid requests must be accepted and schema-invalid ones refused, an
  undocumented method is a 405 with Allow, and a call without its token or a required
  header is refused. tests/e2e/schemathesis_hooks.py keeps the fuzzer from reusing keys
  and emails, and forgives the few refusals that depend on state JSON Schema cannot
  describe (it says which; the test prints how many). (The CLI rather than the pytest
  plugin, whose `from_fixture` sets `node._nodeid`, which pytest 9 removed.)
- the stateful phase through the CLI, with every check (a closed wallet is gone, a created
  one is there): it walks the document's links, sign-up -> log in, a new wallet -> its
  reads, money and closing, a money movement -> its request; and, in a walk of its own,
  version 1.1's: a new wallet -> a hold on it -> its reads, captures and void, a registered
  webhook -> its read, deliveries log and deletion. The test counts, from the CLI's event
  report, the calls made through each link and what they answered.
- through the Python API, the operations with a path id again, with the ids pinned to the
  caller's real wallet, request, notification, hold and webhook (a void, a refund and a
  delete each get one of their own), so generated bodies and queries reach the code behind
  them instead of stopping at a 404; the CLI run above draws those ids (and a transfer's
  wallets) from real ones too, and fails if an operation still only ever answered 404;
- the webhooks the caller registered, the fuzzer's included, are deleted at the end, so no
  delivery is attempted after the test;
- DELETE /v1/me and POST /v1/auth/logout on their own: they end the token's session and
  would turn every later call of the shared runs into a 401, so they are excluded from
  them and fuzzed here with a fresh throwaway user for every example.

Every operation must run at least one example in each run (counted per operation from
the CLI's event report, and per operation and mode through the Python API): a total alone
would pass with an operation that ran none, and an operation whose data cannot be
generated (Hypothesis' Unsatisfiable) fails rather than being skipped.

What each run did is printed (on the terminal, whatever the capture).
"""
import collections
import json
import os
import re
import subprocess
import sys
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks

from tests.helpers import Client

CHECKS = [not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]
# Fuzzed cases per operation (and mode, for the CLI), on top of the examples and coverage
# cases: the whole file stays well under three minutes.
MAX_EXAMPLES = 30
PINNED_EXAMPLES = 30
SESSION_ENDING_EXAMPLES = 5
SESSION_ENDING = ("DELETE /v1/me", "POST /v1/auth/logout")
CLI_TIMEOUT_S = 240
SETTINGS = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))
PATH_IDS = ("wallet_id", "request_id", "notification_id", "hold_id", "webhook_id")
# What `--checks all` runs, less two: the response-time check (which `all` turns on at 10 s:
# a poll may wait its 30 s by design, and timings on a shared machine assert nothing) and
# object_level_authorization (it needs two users configured as WFC peers; the access
# matrix of tests/e2e/test_attacker.py covers it).
ALL_CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
              "response_headers_conformance", "response_schema_conformance",
              "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
              "unsupported_method", "allow_header_conformance", "use_after_free",
              "ensure_resource_availability", "ignored_auth")
HOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis_hooks.py")
# The stateful phase walks the operations the links join. Each scenario is up to MAX_STEPS
# calls; Hypothesis ends a run of scenarios early when the server's state makes a replay
# differ (a wallet created once is a 409 the next time), so the CLI repeats runs for
# STATEFUL_S seconds: a budget of work, not an assertion on time.
WALK = ("sign_up", "issue_token", "create_wallet", "get_wallet", "delete_wallet",
        "list_wallet_transactions", "create_deposit", "create_withdrawal", "create_transfer",
        "get_request")
MAX_STEPS = 10
STATEFUL_S = 15
MAX_WALKS = 4
# Where the walk must have arrived through a link, and the answer it must have got there at
# least once (None: any). A transfer from or to a new wallet has no partner wallet in its
# currency (one wallet per user and currency), so it is reached, not required to succeed.
MUST_REACH = {"POST /v1/auth/token": 200, "GET /v1/wallets/{wallet_id}": 200,
              "GET /v1/wallets/{wallet_id}/transactions": 200,
              "POST /v1/wallets/{wallet_id}/deposits": 202,
              "POST /v1/wallets/{wallet_id}/withdrawals": 202, "POST /v1/transfers": None,
              "DELETE /v1/wallets/{wallet_id}": 204, "GET /v1/requests/{request_id}": 200}
# Version 1.1's walk, on its own so that neither walk thins the other out: a new wallet ->
# a hold on it -> its read, captures and void; a registered webhook -> its read, its
# deliveries log and its deletion. A hold through the link needs a schema-valid body with
# no `to_wallet_id` (the example's 13 is nobody's) and money behind it to go further, which
# a walk of STATEFUL_S seconds on a busy machine may not draw: placing it is required, what
# follows a placed hold is walked when it comes (and forgiven its 409 while it is pending).
WALK_V11 = ("create_wallet", "create_hold", "get_hold", "capture_hold", "void_hold",
            "create_webhook", "get_webhook", "list_webhook_deliveries", "delete_webhook")
MUST_REACH_V11 = {"POST /v1/wallets/{wallet_id}/holds": None,
                  "GET /v1/webhooks/{webhook_id}": 200,
                  "GET /v1/webhooks/{webhook_id}/deliveries": 200,
                  "DELETE /v1/webhooks/{webhook_id}": 204}
# A registration in the walk names a URL that registers (the links from it are what is
# walked; the URL rules have their own runs): https, so it stays valid wherever it runs.
WALK_WEBHOOK_URL = "https://127.0.0.1:9/schemathesis-walk"
CONFIG = f"""
[phases.stateful]
max-steps = {MAX_STEPS}
# Only the document's own links: a walk that arrives somewhere arrives through them.
[phases.stateful.inference]
algorithms = []
"""


def report(request, line: str) -> None:
    """Print past pytest's output capture."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + line, flush=True)


def user(stack) -> Client:
    """A new user whose password is none of the document's examples."""
    return Client(stack).sign_up(password=f"not the example {uuid.uuid4().hex}")


def placed(client: Client, wallet_id: int, amount: str) -> int:
    """The id of an active hold `client` placed naming no recipient (so it decides it)."""
    accepted = client.move(f"/v1/wallets/{wallet_id}/holds", {"amount": amount})
    assert client.settled(accepted["id"])["status"] == "succeeded", accepted
    return accepted["hold_id"]


def registered(client: Client) -> int:
    """A webhook of `client`'s on a port where nothing listens (deleted by the fixture)."""
    res = client.call("POST", "/v1/webhooks", key=uuid.uuid4().hex,
                      json={"url": "http://127.0.0.1:9/schemathesis", "events": ["hold.expired"]})
    assert res.status_code == 201, res.text
    return res.json()["id"]


def delete_webhooks(client: Client) -> int:
    """Delete every live webhook of `client` (the fuzzer's too): no delivery starts after."""
    hooks = client.call("GET", "/v1/webhooks").json()["items"]
    for hook in hooks:
        assert client.call("DELETE", f"/v1/webhooks/{hook['id']}").status_code == 204
    assert client.call("GET", "/v1/webhooks").json()["items"] == []
    return len(hooks)


@pytest.fixture(scope="module")
def caller(stack):
    """A user with a funded USD wallet, a settled request, notifications, a transfer it
    received, active holds it decides and webhooks; and the real ids the runs use: `pinned`
    (a path parameter's value for the Python API run, `pinned_for` an operation's own), and
    `cli` (per operation, the values the CLI draws a parameter from).

    The webhooks left at the end, the fuzzer's included, are deleted."""
    client = user(stack)
    wallet = client.open_wallet("USD")
    request = client.settled(client.deposit(wallet["id"], "100.00")["id"])
    note = client.call("GET", "/v1/notifications").json()["items"][0]
    partner = Client(stack).sign_up()
    partner_wallet = partner.open_wallet("USD")["id"]
    assert partner.settled(partner.deposit(partner_wallet, "100.00")["id"])["status"] == \
        "succeeded"
    received = partner.transfer(partner_wallet, wallet["id"], "50.00")["id"]
    assert partner.settled(received)["status"] == "succeeded"
    webhook = registered(client)
    yield {"client": client, "headers": {"Authorization": f"Bearer {client.token}"},
           "pinned": {"wallet_id": wallet["id"], "request_id": request["id"],
                      "notification_id": note["id"], "hold_id": placed(client, wallet["id"],
                                                                       "10.00"),
                      "webhook_id": webhook},
           "pinned_for": {"POST /v1/holds/{hold_id}/void": {"hold_id": placed(
                              client, wallet["id"], "1.00")},
                          "POST /v1/requests/{request_id}/refunds": {"request_id": received},
                          "DELETE /v1/webhooks/{webhook_id}": {"webhook_id": registered(
                              client)}},
           "cli": {
               "POST /v1/holds/{hold_id}/captures": {"path.hold_id": [
                   placed(client, wallet["id"], "10.00") for _ in range(3)]},
               "POST /v1/holds/{hold_id}/void": {"path.hold_id": [
                   placed(client, wallet["id"], "1.00") for _ in range(3)]},
               "GET /v1/holds/{hold_id}": {"path.hold_id": [placed(client, wallet["id"],
                                                                   "1.00")]},
               "POST /v1/requests/{request_id}/refunds": {"path.request_id": [received]},
               "POST /v1/transfers": {"body.from_wallet_id": [wallet["id"]],
                                      "body.to_wallet_id": [partner_wallet]},
               "GET /v1/webhooks/{webhook_id}": {"path.webhook_id": [webhook]},
               "GET /v1/webhooks/{webhook_id}/deliveries": {"path.webhook_id": [webhook]},
               "DELETE /v1/webhooks/{webhook_id}": {"path.webhook_id": [
                   registered(client) for _ in range(3)]}}}
    delete_webhooks(client)


@pytest.fixture(scope="module")
def live_schema(stack):
    return schemathesis.openapi.from_url(stack + "/openapi.json")


def pinned_config(cli: dict[str, dict[str, list[int]]]) -> str:
    """The CLI's configuration that has each operation of `cli` draw the named parameters
    (`path.NAME`, `body.NAME`) from real values, where a schema-valid one is wanted."""
    out = []
    for n, (label, parameters) in enumerate(sorted(cli.items())):
        bindings = []
        for m, (name, values) in enumerate(sorted(parameters.items())):
            out.append(f"[dictionaries.real_{n}_{m}]\nvalues = {json.dumps(values)}\n")
            bindings.append(f'"{name}" = {{ dictionary = "real_{n}_{m}" }}')
        out.append(f"[[operations]]\ninclude-name = {json.dumps(label)}\n"
                   f"parameters = {{ {', '.join(bindings)} }}\n")
    return "\n".join(out)


def run_cli(stack, token: str, tmp_path, *options: str, config: str = ""
            ) -> tuple[subprocess.CompletedProcess, str, collections.Counter]:
    """`schemathesis run` with ALL_CHECKS and the hooks, as `token`'s user, with `config`
    added to the configuration file.

    Returns:
      The finished process, its NDJSON event report's path, and the forgiven refusals
      counted by (operation, problem code).
    """
    events, forgiven, config_path = (str(tmp_path / name) for name in (
        "events.ndjson", "forgiven.jsonl", "schemathesis.toml"))
    with open(config_path, "w") as out:
        out.write(CONFIG + config)
    argv = [os.path.join(os.path.dirname(sys.executable), "schemathesis"),
            "--config-file", config_path, "run", f"{stack}/openapi.json",
            "--header", f"Authorization: Bearer {token}", "--checks", ",".join(ALL_CHECKS),
            "--request-timeout", "60", "--suppress-health-check", "all", "--workers", "1",
            "--no-color", "--report", "ndjson", "--report-ndjson-path", events, *options,
            *([f"--seed={os.environ['SEED']}"] if os.environ.get("SEED") else [])]
    # One worker: with two, CPython 3.11's `ast` raced inside Hypothesis' lambda
    # descriptions and the run ended in a SystemError.
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, env={**os.environ, "NO_COLOR": "1",
                                                      "SCHEMATHESIS_HOOKS": HOOKS,
                                                      "SCHEMATHESIS_FORGIVEN": forgiven})
    counted: collections.Counter = collections.Counter()
    if os.path.exists(forgiven):
        with open(forgiven) as lines:
            counted.update((r["operation"], r["code"]) for r in map(json.loads, lines))
    return done, events, counted


def scenarios(events_path: str):
    """The recorders of the finished scenarios in the CLI's NDJSON event report."""
    with open(events_path) as events:
        for line in events:
            if line.startswith('{"ScenarioFinished"'):
                yield json.loads(line)["ScenarioFinished"]["recorder"]


def examples_per_operation(events_path: str) -> collections.Counter:
    """How many requests the CLI sent per operation."""
    sent: collections.Counter = collections.Counter()
    for recorder in scenarios(events_path):
        sent[recorder["label"]] += len(recorder.get("interactions") or {})
    return sent


def walked(events_path: str) -> tuple[int, set[str], dict[str, collections.Counter]]:
    """The stateful calls made, the document's links followed, and for each operation
    reached through one of them, the answers it gave that way."""
    calls, links = 0, set()
    reached: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for recorder in scenarios(events_path):
        answers = recorder.get("interactions") or {}
        for case_id, case in (recorder.get("cases") or {}).items():
            calls += 1
            transition = case.get("transition")
            if transition and not transition["is_inferred"]:
                links.add(transition["id"])
                response = (answers.get(case_id) or {}).get("response") or {}
                target = f"{case['value']['method']} {case['value']['path']}"
                reached[target][response.get("status_code")] += 1
    return calls, links, reached


def forgiven_line(forgiven: collections.Counter) -> str:
    return ", ".join(f"{op} {code} x{n}" for (op, code), n in sorted(forgiven.items())) or "none"


def test_every_operation_answers_as_the_document_says(stack, caller, live_schema, tmp_path,
                                                      request):
    # Given the schemathesis CLI pointed at the live document, with the caller's token
    options = ["--phases", "examples,coverage,fuzzing", "--mode", "all",
               "--max-examples", str(MAX_EXAMPLES)]
    for label in SESSION_ENDING:
        options += ["--exclude-name", label]
    # When it runs every phase but the stateful one over every operation, with every check,
    # drawing the ids an operation needs to reach its code (a hold, a request to refund, a
    # webhook, wallets to transfer between) from the caller's real ones, and failing if an
    # operation still only ever answered 404 to schema-valid calls
    done, events, forgiven = run_cli(
        stack, caller["client"].token, tmp_path, *options,
        config='[warnings]\nfail-on = ["missing_test_data"]\n' + pinned_config(caller["cli"]))
    out = done.stdout + done.stderr
    generated = re.search(r"(\d+) generated", out)
    tested = re.search(r"Tested: (\d+)", out)
    report(request, f"schemathesis CLI, every check: {generated and generated[1]} examples "
                    f"over {tested and tested[1]} operations (exit code {done.returncode}); "
                    f"forgiven: {forgiven_line(forgiven)}")
    # Then every check passed on every answer, and every operation was exercised
    assert done.returncode == 0, out
    assert generated and int(generated[1]) > 0, out
    assert tested and int(tested[1]) >= 20, out
    sent = examples_per_operation(events)
    operations = [result.ok().label for result in live_schema.exclude(
        name=list(SESSION_ENDING)).get_all_operations()]
    assert [op for op in operations if sent[op] == 0] == [], sent
    # And the caller's token still works: the run tested the API, not its 401s
    assert caller["client"].call("GET", "/v1/me").status_code == 200


def missing(reached: dict[str, collections.Counter],
            must_reach: dict[str, int | None]) -> list[str]:
    """The `must_reach` operations not yet reached with their answer."""
    return [target for target, status in must_reach.items()
            if not reached[target] or (status is not None and not reached[target][status])]


def walk(stack, tmp_path, request, operation_ids: tuple[str, ...],
         must_reach: dict[str, int | None], config: str = "") -> None:
    """The CLI's stateful phase over `operation_ids`, with every check, each walk as a new
    user (its webhooks deleted after it), walking again (up to MAX_WALKS times) while some
    operation of `must_reach` was not yet reached: a walk is random, and a slow machine
    walks less. Every walk must pass every check, and together they must reach each
    operation of `must_reach` through a link, with the answer that shows the value the link
    carried was a live one."""
    options = ["--phases", "stateful", "--max-examples", "100", "--max-time", str(STATEFUL_S)]
    for operation_id in operation_ids:
        options += ["--include-operation-id", operation_id]
    reached: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for number in range(1, MAX_WALKS + 1):
        folder = tmp_path / f"walk{number}"
        folder.mkdir()
        walker = user(stack)
        try:
            done, events, forgiven = run_cli(stack, walker.token, folder, *options,
                                             config=config)
        finally:
            # (the webhooks it registered are deleted: no delivery is attempted after)
            delete_webhooks(walker)
        calls, links, arrived = walked(events)
        for target, answers in arrived.items():
            reached[target].update(answers)
        report(request, f"schemathesis stateful ({operation_ids[0]}...) walk {number}: "
                        f"{calls} calls, {sum(sum(c.values()) for c in arrived.values())} "
                        f"through {len(links)} links: " + "; ".join(
                            f"{t} {dict(c)}" for t, c in sorted(arrived.items()))
                        + f"; forgiven: {forgiven_line(forgiven)} "
                          f"(exit code {done.returncode})")
        assert done.returncode == 0, done.stdout + done.stderr
        if not missing(reached, must_reach):
            break
    assert not missing(reached, must_reach), (missing(reached, must_reach), dict(reached))


def test_the_stateful_phase_walks_from_sign_up_to_a_wallet_its_money_and_its_requests(
        stack, tmp_path, request):
    # Given the CLI's stateful phase on the operations the links join, as a user of its own
    # When it walks them, with every check
    # Then every check passed, and the walk went all the way: each operation reached
    # through a link, with the answer that shows the value the link carried was a live one
    walk(stack, tmp_path, request, WALK, MUST_REACH)


def test_the_stateful_phase_walks_from_a_wallet_to_its_holds_and_from_a_webhook_to_its_log(
        stack, tmp_path, request):
    # Given the CLI's stateful phase on version 1.1's linked operations, as a user of its own
    # When it walks them, with every check (its registrations name a URL that registers)
    # Then every check passed, each operation was reached through a link with a live value,
    # and the webhooks it registered were deleted afterwards
    walk(stack, tmp_path, request, WALK_V11, MUST_REACH_V11,
         config=pinned_config({"POST /v1/webhooks": {"body.url": [WALK_WEBHOOK_URL]}}))


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
    # Given the operations with a path id, and the caller's real wallet, request,
    # notification, hold and webhook (and for a void, a refund and a delete, their own)
    found = [result.ok() for result in live_schema.exclude(name=list(SESSION_ENDING))
             .get_all_operations()]
    pinned_ops = [op for op in found if any("{" + n + "}" in op.path for n in PATH_IDS)]
    assert len(pinned_ops) >= 15, [op.label for op in found]
    # When each is fuzzed with schema-valid data on those ids
    ran, failures = collections.Counter(), []
    for operation in pinned_ops:
        pinned = {n: v for n, v in caller["pinned"].items() if "{" + n + "}" in operation.path}
        pinned.update(caller["pinned_for"].get(operation.label, {}))
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


@pytest.mark.parametrize("label", SESSION_ENDING)
def test_an_operation_that_ends_the_session_answers_as_the_document_says(live_schema, stack,
                                                                         label, request):
    # Given the operation, and a fresh throwaway user (with its token) for every example
    (operation,) = [result.ok() for result in live_schema.include(name=label)
                    .get_all_operations()]

    def throwaway() -> dict:
        return {"Authorization": f"Bearer {user(stack).token}"}

    # When it is fuzzed, Then every answer conforms (204 for a live user with empty wallets)
    ran = {mode: fuzz(operation.as_strategy(mode), base_url=stack, headers=throwaway,
                      examples=SESSION_ENDING_EXAMPLES)
           for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)}
    report(request, f"schemathesis {label}: {sum(ran.values())} examples")
    # And each mode ran examples
    assert all(count >= 1 for count in ran.values()), ran
