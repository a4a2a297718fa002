"""The ops page over real HTTP: who gets in, CSRF, and an operator using it in Chromium.

A request that "ran out of retries" is made the way the maintenance actor makes one, without
waiting for twenty real retries: it is accepted with `payments` in this test process, whose
broker is Dramatiq's StubBroker (so no worker ever gets its message), and then marked
`failed` / `retries_exhausted` by `settle.give_up`, as `fail_exhausted_request` does. The
web process and worker of the `stack` are real, on RabbitMQ.
"""
import os
import re
import time

import pika
import pytest
import requests
from dramatiq import Message

import settings
from models import AuditRun, TransactionRequest, User, WebhookJob
from payments import door, settle
from tests.browser import Browser
from tests.helpers import free_port, is_problem, start_sweeper, start_web, unique, wait_for
from tests.receiver import Receiver
from web.ops import auth as opsauth
from webhooks import dispatch

OPS_TOKEN = os.environ["OPS_TOKEN"]
BEARER = {"Authorization": f"Bearer {OPS_TOKEN}"}
STATUSES = ("pending", "succeeded", "failed")
SCREENSHOT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "artifacts", "ops.png")
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def exhausted_deposit(client, wallet_id: int, amount: str) -> TransactionRequest:
    """A deposit of the client's that ran out of retries (see the module docstring)."""
    request, _ = door.accept(User.get_by_id(client.user_id), kind="deposit",
                                 key=unique("k"), amount=amount, wallet_id=wallet_id)
    assert settle.give_up(request.id, detail="Gave up after 20 retries.")
    return TransactionRequest.get_by_id(request.id)


def status_of(request_id: int) -> str:
    return TransactionRequest.get_by_id(request_id).status


def db_counts() -> dict[str, int]:
    return {s: TransactionRequest.select().where(TransactionRequest.status == s).count()
            for s in STATUSES}


def dead_counts() -> dict[str, int]:
    """Messages in each .XQ of the test vhost, as RabbitMQ's management API says."""
    vhost = os.environ["REAL_BROKER_URL"].rsplit("/", 1)[1]
    rows = requests.get(f"http://127.0.0.1:15672/api/queues/{vhost}", auth=("guest", "guest"),
                        params={"disable_stats": "true", "enable_queue_totals": "true"},
                        timeout=5).json()
    return {r["name"][:-3]: r.get("messages", 0) for r in rows if r["name"].endswith(".XQ")}


def session_cookie(base: str) -> str:
    """The session cookie a login through the form sets."""
    res = requests.post(f"{base}/ops/login", data={"token": OPS_TOKEN}, allow_redirects=False,
                        timeout=30)
    assert res.status_code == 303 and res.headers["Location"] == "/ops", res.text
    return res.cookies[opsauth.COOKIE]


def logged_in(base: str) -> requests.Session:
    """A session that logged in through the form, as a browser does. (The cookie is
    `Secure` outside development, so requests would not send it back over plain HTTP by
    itself: it is put in the jar without that flag.)"""
    session = requests.Session()
    session.cookies.set(opsauth.COOKIE, session_cookie(base), path="/ops")
    return session


def csrf_of(session: requests.Session, base: str) -> str:
    return CSRF.search(session.get(f"{base}/ops").text)[1]


@pytest.fixture(autouse=True)
def rabbitmq_and_the_ops_token():
    """The stack runs on RabbitMQ, and its web process takes this process's OPS_TOKEN."""
    assert os.environ["REAL_BROKER_URL"].startswith("amqp"), "these tests expect RabbitMQ"
    assert settings.OPS_KEY == OPS_TOKEN


# -- who gets in ----------------------------------------------------------------------------
def test_the_ops_page_is_401_without_the_token_with_a_wrong_one_or_a_forged_cookie(stack,
                                                                                   client):
    now = time.time()
    expiry, nonce, signature = session_cookie(stack).split(".")
    refused = [
        ({}, {}), ({"Authorization": "Bearer wrong-ops-token-0"}, {}),
        ({"Authorization": f"Bearer {client.token}"}, {}),  # a user's token is not the ops one
        ({"Authorization": OPS_TOKEN}, {}),  # not as a bearer
        ({}, {opsauth.COOKIE: f"{int(expiry) + 86400}.{nonce}.{signature}"}),  # forged expiry
        ({}, {opsauth.COOKIE: opsauth.new_session("another-ops-token", now_s=now, ttl_s=600)}),
        ({}, {opsauth.COOKIE: opsauth.new_session(OPS_TOKEN, now_s=now - 7200, ttl_s=600)}),
        # well signed with the real token, but no login ever started that session
        ({}, {opsauth.COOKIE: opsauth.new_session(OPS_TOKEN, now_s=now, ttl_s=600)}),
    ]
    for headers, cookies in refused:
        # When someone without the token asks for the page or presses an action
        for method, path in (("GET", "/ops"), ("POST", "/ops/audit"),
                             ("POST", "/ops/requests/1/rerun"), ("GET", "/ops/dramatiq/")):
            res = requests.request(method, stack + path, headers=headers, cookies=cookies,
                                   timeout=30)
            # Then it is a 401 problem
            assert is_problem(res, 401, "unauthorized"), (headers, cookies, path)
    # And a browser gets the login form with that 401
    res = requests.get(f"{stack}/ops", headers={"Accept": "text/html"}, timeout=30)
    assert res.status_code == 401 and res.headers["Content-Type"].startswith("text/html")
    assert '<form method="post" action="/ops/login">' in res.text
    # While the token, or a genuine unexpired cookie, opens the page
    for headers, cookies in ((BEARER, {}),
                             ({}, {opsauth.COOKIE: f"{expiry}.{nonce}.{signature}"})):
        res = requests.get(f"{stack}/ops", headers=headers, cookies=cookies, timeout=30)
        assert res.status_code == 200 and "<h1>Wallet operations</h1>" in res.text


def test_the_login_form_sets_an_httponly_strict_session_cookie_and_refuses_a_wrong_token(stack):
    # When the login form is sent with a wrong token, Then it is a 401 and sets nothing
    res = requests.post(f"{stack}/ops/login", data={"token": "wrong-ops-token-0"},
                        allow_redirects=False, timeout=30)
    assert is_problem(res, 401, "unauthorized") and "Set-Cookie" not in res.headers
    # When it is sent with the token
    res = requests.post(f"{stack}/ops/login", data={"token": OPS_TOKEN},
                        allow_redirects=False, timeout=30)
    # Then it sets a session cookie scripts cannot read, other sites cannot send, and (outside
    # development) no plain-HTTP request carries
    assert res.status_code == 303 and res.headers["Location"] == "/ops"
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith(f"{opsauth.COOKIE}=")
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/ops", "secure"} <= attributes


def test_logging_out_ends_the_session_on_the_server_so_a_copied_cookie_dies_too(stack):
    # Given a session, and a copy of its cookie kept elsewhere
    session = logged_in(stack)
    copied = {opsauth.COOKIE: session.cookies[opsauth.COOKIE]}
    assert requests.get(f"{stack}/ops", cookies=copied, timeout=30).status_code == 200
    # When the session logs out
    res = session.post(f"{stack}/ops/logout", data={"csrf_token": csrf_of(session, stack)},
                       allow_redirects=False)
    assert res.status_code == 303 and res.headers["Location"] == "/ops/login"
    # Then the copied cookie, still well signed and unexpired, opens nothing
    assert is_problem(requests.get(f"{stack}/ops", cookies=copied, timeout=30), 401,
                      "unauthorized")
    # While another session goes on
    assert logged_in(stack).get(f"{stack}/ops").status_code == 200


def test_the_ops_routes_are_documented_for_operators_only(stack):
    public = requests.get(f"{stack}/openapi.json", timeout=30).json()
    assert not [p for p in public["paths"] if p.startswith("/ops")]
    assert is_problem(requests.get(f"{stack}/ops/openapi.json", timeout=30), 401,
                      "unauthorized")
    ops = requests.get(f"{stack}/ops/openapi.json", headers=BEARER, timeout=30)
    assert ops.status_code == 200 and "/ops/requests/{request_id}/rerun" in ops.json()["paths"]


def test_dramatiqs_dashboard_is_not_found_with_rabbitmq(stack):
    for path in ("/ops/dramatiq", "/ops/dramatiq/", "/ops/dramatiq/queues/deposits"):
        assert is_problem(requests.get(stack + path, headers=BEARER, timeout=30), 404,
                          "not_found")


def test_the_page_renders_with_counts_unavailable_when_rabbitmqs_api_does_not_answer(log_dir):
    # Given a web process whose management URL leads nowhere
    web, base = start_web(log_dir, RABBITMQ_MANAGEMENT_URL=f"http://guest:guest@127.0.0.1:"
                                                           f"{free_port()}")
    try:
        # When an operator opens the page
        res = requests.get(f"{base}/ops", headers=BEARER, timeout=60)
        # Then it renders, saying the counts are unavailable
        assert res.status_code == 200, res.text
        assert 'id="counts-unavailable"' in res.text and "unavailable" in res.text
        assert 'id="requests-pending"' in res.text
    finally:
        web.stop()


# -- CSRF -----------------------------------------------------------------------------------
def test_a_session_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing(stack,
                                                                                     client):
    # Given a request that ran out of retries, and an operator logged in through the form
    request = exhausted_deposit(client, client.open_wallet("USD")["id"], "10.00")
    session = logged_in(stack)
    other_sessions_token = csrf_of(logged_in(stack), stack)
    audits_before = AuditRun.select().count()
    for form in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 64},
                 {"csrf_token": other_sessions_token}):
        # When the session presses re-run or run-audit without its own CSRF token
        for path in (f"/ops/requests/{request.id}/rerun", "/ops/audit"):
            res = session.post(stack + path, data=form, allow_redirects=False)
            # Then it is refused with a 403
            assert is_problem(res, 403, "csrf_rejected"), (form, path)
    # And nothing changed
    assert status_of(request.id) == "failed" and AuditRun.select().count() == audits_before
    # While its own token re-runs it, and it settles
    res = session.post(f"{stack}/ops/requests/{request.id}/rerun",
                       data={"csrf_token": csrf_of(session, stack)}, allow_redirects=False)
    assert res.status_code == 303, res.text
    assert client.settled(request.id)["status"] == "succeeded"


def test_re_running_a_request_that_did_not_run_out_of_retries_is_409(stack, client):
    wallet = client.open_wallet("USD")
    done = client.settled(client.deposit(wallet["id"], "5.00")["id"])
    res = requests.post(f"{stack}/ops/requests/{done['id']}/rerun", headers=BEARER, timeout=30)
    assert is_problem(res, 409, "not_rerunnable")
    assert status_of(done["id"]) == "succeeded"


# -- an operator at work ----------------------------------------------------------------------
def page_numbers(browser: Browser) -> tuple[dict, dict]:
    """Requests by status and dead-lettered messages per queue, as the page shows them."""
    by_status = browser.evaluate(
        "Object.fromEntries(['pending', 'succeeded', 'failed'].map(s => "
        "[s, Number(document.getElementById('requests-' + s).textContent)]))")
    dead = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('tr[id^=queue-]')].map(tr => "
        "[tr.id.slice(6), Number(tr.cells[4].textContent)]))")
    return by_status, dead


def dead_letter(request_id: int) -> Message:
    """Put a settle message for `request_id` in deposits.XQ of the test vhost, as a delivery
    whose retries ran out leaves it there."""
    message = Message(queue_name="deposits", actor_name="settle_deposit", args=(request_id,),
                      kwargs={}, options={"retries": 20, "traceback": "VersionConflict ..."})
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["REAL_BROKER_URL"]))
    try:
        connection.channel().basic_publish("", "deposits.XQ", message.encode(),
                                           pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()
    return message


def test_an_operator_logs_in_checks_the_numbers_and_repairs_two_requests_in_chromium(
        stack, client, log_dir, request):
    # Given a deposit of 25.00 that ran out of retries, as the API shows it
    wallet = client.open_wallet("USD")
    failed = exhausted_deposit(client, wallet["id"], "25.00")
    as_api = client.call("GET", f"/v1/requests/{failed.id}").json()
    assert (as_api["status"], as_api["failure_code"]) == ("failed", "retries_exhausted")
    # And a pending deposit of 10.00 whose message sits dead-lettered in deposits.XQ
    stuck, _ = door.accept(User.get_by_id(client.user_id), kind="deposit", key=unique("k"),
                               amount="10.00", wallet_id=wallet["id"])
    dead = dead_letter(stuck.id)
    # (a quorum queue's count reaches the management API with its next statistics tick)
    wait_for(lambda: dead_counts().get("deposits", 0) >= 1, timeout_s=30,
             what="the management API to count the dead-lettered message")
    browser = Browser(os.path.join(log_dir, f"chromium-{unique('')}.log"))
    try:
        # When an operator opens /ops: the login form first, with a 401
        browser.navigate(f"{stack}/ops")
        assert browser.status() == 401 and browser.evaluate("document.title") == "Ops login"
        # And types the ops token and presses "Log in"
        browser.type_into("input[name=token]", OPS_TOKEN)
        browser.click("#login")
        # Then the page opens, under a session cookie no script can read
        assert browser.evaluate("location.pathname") == "/ops" and browser.status() == 200
        [cookie] = [c for c in browser.cookies() if c["name"] == opsauth.COOKIE]
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ops")
        assert opsauth.COOKIE not in browser.evaluate("document.cookie")
        # And its numbers are the database's and RabbitMQ's (read before and after the page,
        # and only while they stood still)
        for _ in range(10):
            before = (db_counts(), dead_counts())
            started = time.perf_counter()
            browser.navigate(f"{stack}/ops")
            wall_ms = (time.perf_counter() - started) * 1000
            shown = page_numbers(browser)
            if before == (db_counts(), dead_counts()):
                break
        assert shown[0] == before[0] and shown[1] == before[1], (shown, before)
        assert shown[0]["failed"] >= 1 and shown[0]["pending"] >= 1 and shown[1]["deposits"] >= 1
        load_ms = browser.load_time_ms()
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():
            print(f"\nops page load: {load_ms:.0f} ms in Chromium (navigation to load event), "
                  f"{wall_ms:.0f} ms wall clock", flush=True)
        # And the failure shows what the API says about it, and the dead message its request
        row = browser.evaluate(f"document.getElementById('failure-{failed.id}').innerText")
        assert as_api["failure_code"] in row and as_api["failure_detail"] in row
        dead_row = browser.evaluate(f"document.getElementById('requeue-{dead.message_id}')"
                                    ".closest('tr').innerText")
        assert dead.message_id in dead_row and "settle_deposit" in dead_row
        assert f"[{stuck.id}]" in dead_row
        browser.screenshot(SCREENSHOT.replace(".png", "-before.png"))

        # When the operator presses that failure's re-run button
        browser.click(f"#rerun-{failed.id}")
        # Then the page says it is pending again
        assert browser.status() == 200
        assert f"Request {failed.id} is pending again" in browser.evaluate(
            "document.getElementById('notice').textContent")
        # And the request settles, once: the API says succeeded
        done = client.settled(failed.id)
        assert (done["status"], done["failure_code"]) == ("succeeded", None)

        # When the operator presses the dead message's requeue button
        browser.click(f"#requeue-{dead.message_id}")
        # Then the page says so, and the worker settles the stuck deposit
        assert f"Message {dead.message_id} was moved back" in browser.evaluate(
            "document.getElementById('notice').textContent")
        assert client.settled(stuck.id)["status"] == "succeeded"
        # And the wallet holds both deposits, less their fees, once: 24.87 + 9.95
        assert client.wallet(wallet["id"])["balance"] == "34.82"

        # And the page no longer lists the failure or the dead message
        browser.navigate(f"{stack}/ops")
        assert browser.evaluate(f"document.getElementById('failure-{failed.id}')") is None
        assert browser.evaluate(f"document.getElementById('requeue-{dead.message_id}')") is None
        assert browser.evaluate("document.getElementById('failures') !== null")
        browser.screenshot(SCREENSHOT)
        assert os.path.getsize(SCREENSHOT) > 10_000
    finally:
        browser.close()


def test_the_page_shows_webhook_health_and_an_operator_re_sends_a_failed_delivery(stack, client,
                                                                                 log_dir):
    # Given a webhook whose delivery failed for good (its retries ran out) and a receiver
    # that now answers
    receiver = Receiver().start()
    res = client.call("POST", "/v1/webhooks", key=unique("k"),
                      json={"url": receiver.url("/ops"), "events": ["wallet.created"]})
    hook = res.json()
    receiver.secrets["/ops"] = hook["secret"]
    client.open_wallet("GBP")
    while dispatch.fan_out() == dispatch.FAN_OUT_EVENTS:
        pass
    job = WebhookJob.get(WebhookJob.webhook_id == hook["id"])
    WebhookJob.update(status="failed", attempts=80, next_attempt_at=None) \
        .where(WebhookJob.id == job.id).execute()
    sweeper = start_sweeper(log_dir, SWEEP_EVERY_S="1")
    try:
        # When an operator looks at the page, Then the failed delivery is listed with its
        # endpoint
        page = requests.get(f"{stack}/ops", headers=BEARER, timeout=60)
        assert page.status_code == 200
        assert f'id="failed-job-{job.id}"' in page.text
        assert f'id="failing-{hook["id"]}"' in page.text and 'id="webhook-pending"' in page.text
        # When it is re-sent, Then it is delivered (and only a failed job can be re-sent)
        res = requests.post(f"{stack}/ops/webhooks/jobs/{job.id}/resend", headers=BEARER,
                            allow_redirects=False, timeout=30)
        assert res.status_code == 303 and "done=resend" in res.headers["Location"]
        wait_for(lambda: receiver.delivered("/ops"), timeout_s=30, what="the re-sent delivery")
        # (the worker records the outcome once the receiver's answer is in)
        wait_for(lambda: WebhookJob.get_by_id(job.id).status == "succeeded", timeout_s=30,
                 what="the re-sent job to be recorded as succeeded")
        again = requests.post(f"{stack}/ops/webhooks/jobs/{job.id}/resend", headers=BEARER,
                              timeout=30)
        assert is_problem(again, 409, "not_resendable")
        assert is_problem(requests.post(f"{stack}/ops/webhooks/jobs/x1/resend", headers=BEARER,
                                        timeout=30), 409, "not_resendable")
    finally:
        client.call("DELETE", f"/v1/webhooks/{hook['id']}")
        sweeper.stop()
        receiver.stop()
