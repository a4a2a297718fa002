"""Webhooks against MariaDB and a real local receiver: registering, fanning events out to
jobs, delivering them signed as Standard Webhooks, retrying on a schedule, and the rules
that keep a delivery once-at-a-time and a URL from reaching what it must not."""
import base64
import threading
from datetime import timedelta

import pytest
import standardwebhooks
from cryptography.fernet import InvalidToken

import manage
import models
import settings
from accounts import events
from errors import InvalidWebhookUrl, TooManyWebhooks, ValidationError
from models import Event, Wallet, Webhook, WebhookDelivery, WebhookJob, db, utcnow
from tests.helpers import unique
from tests.integration.factories import accept, accept_transfer, new_user, new_wallet, settled
from tests.receiver import Receiver
from webhooks import deliver, dispatch, endpoints, transport, urls


@pytest.fixture
def receiver():
    found = Receiver().start()
    yield found
    found.stop()
    # Leave nothing for the sweepers of later tests to deliver to a receiver that is gone
    Webhook.update(deleted_at=utcnow()).where(Webhook.deleted_at.is_null()).execute()
    WebhookJob.update(status="cancelled").where(WebhookJob.status == "pending").execute()


def register(user, receiver: Receiver, path: str | None = None, **extra):
    path = path or "/" + unique("hook")
    webhook, replayed = endpoints.register(user, key=unique("k"), url=receiver.url(path),
                                           **extra)
    assert not replayed
    receiver.secrets[path] = webhook.secret
    return webhook


def jobs_of(webhook) -> list[WebhookJob]:
    return list(WebhookJob.select().where(WebhookJob.webhook_id == webhook.id)
                .order_by(WebhookJob.id))


def one_job(receiver: Receiver) -> tuple[Wallet, Webhook, WebhookJob]:
    """A wallet whose owner's webhook (request.succeeded) has one job: its deposit's."""
    ada = new_wallet()
    hook = register(ada.user, receiver, kinds=["request.succeeded"])
    settled(accept(ada, "deposit", "1.00"))
    dispatched()
    [job] = jobs_of(hook)
    return ada, hook, job


def dispatched() -> list[int]:
    """Fan every pending event out; returns the jobs made meanwhile (all of them)."""
    while dispatch.fan_out() == dispatch.FAN_OUT_EVENTS:
        pass
    return [j.id for j in WebhookJob.select(WebhookJob.id)]


def due_now(job_id: int) -> None:
    WebhookJob.update(next_attempt_at=utcnow() - timedelta(seconds=1)) \
        .where(WebhookJob.id == job_id).execute()


# -- registering ----------------------------------------------------------------------------
def test_a_webhook_is_registered_once_per_key_with_a_standard_webhooks_secret(receiver):
    user = new_user()
    key, url = unique("k"), receiver.url("/a")
    first, replayed = endpoints.register(user, key=key, url=url)
    again, replayed_again = endpoints.register(user, key=key, url=url)
    assert (replayed, replayed_again, again.id, again.secret) == (False, True, first.id,
                                                                   first.secret)
    assert first.secret.startswith("whsec_")
    assert len(base64.b64decode(first.secret[len("whsec_"):])) >= 24
    assert first.events == list(events.TYPES)  # omitted: every type
    # The package a receiver uses accepts the secret as it is shown
    standardwebhooks.Webhook(first.secret)


def test_the_database_holds_a_webhooks_secret_sealed_and_only_our_keys_open_it(receiver,
                                                                              monkeypatch):
    # Given a registered webhook
    hook = register(new_user(), receiver)
    stored = db.execute_sql("SELECT secret FROM webhooks WHERE id = %s", (hook.id,)).fetchone()[0]
    # Then the row holds neither the secret nor its random part, yet reads back as shown
    assert "whsec_" not in stored and hook.secret[len("whsec_"):] not in stored
    assert Webhook.get_by_id(hook.id).secret == hook.secret
    # And with other keys than the one that sealed it, it does not open at all
    other = base64.urlsafe_b64encode(b"o" * 32).decode()
    monkeypatch.setattr(settings, "WEBHOOK_SEALING_KEYS", (other,))
    models._sealer.cache_clear()
    try:
        with pytest.raises(InvalidToken):
            Webhook.get_by_id(hook.id)
    finally:
        monkeypatch.undo()
        models._sealer.cache_clear()


def test_listing_and_reading_webhooks_never_open_their_secrets(receiver, monkeypatch):
    # Given a user's webhook, and keys that cannot open its secret
    user = new_user()
    hook = register(user, receiver)
    monkeypatch.setattr(settings, "WEBHOOK_SEALING_KEYS",
                        (base64.urlsafe_b64encode(b"o" * 32).decode(),))
    models._sealer.cache_clear()
    try:
        # Then the list and the read still answer (an opening would raise InvalidToken)
        [listed] = endpoints.of_user(user)
        read = endpoints.one(user, hook.id)
        assert (listed.id, listed.url, read.id, read.url) == (hook.id, hook.url, hook.id,
                                                              hook.url)
        assert listed.secret is None and read.secret is None
    finally:
        monkeypatch.undo()
        models._sealer.cache_clear()


def test_resealing_with_a_new_first_key_lets_the_old_key_go(receiver, monkeypatch):
    # Given a webhook sealed with today's key
    hook = register(new_user(), receiver)
    old, new = settings.WEBHOOK_SEALING_KEYS[0], base64.urlsafe_b64encode(b"n" * 32).decode()
    try:
        # When a new key goes first and everything is sealed again
        monkeypatch.setattr(settings, "WEBHOOK_SEALING_KEYS", (new, old))
        models._sealer.cache_clear()
        assert manage.reseal() == 0
        # Then the new key alone opens it, to the same secret
        monkeypatch.setattr(settings, "WEBHOOK_SEALING_KEYS", (new,))
        models._sealer.cache_clear()
        assert Webhook.get_by_id(hook.id).secret == hook.secret
    finally:
        # (every row, other tests' too, goes back to the old key before it returns alone)
        monkeypatch.setattr(settings, "WEBHOOK_SEALING_KEYS", (old, new))
        models._sealer.cache_clear()
        manage.reseal()
        monkeypatch.undo()
        models._sealer.cache_clear()


def test_no_user_gets_more_webhooks_than_allowed_even_when_registering_at_once(receiver,
                                                                               monkeypatch):
    monkeypatch.setattr(settings, "MAX_WEBHOOKS_PER_USER", 3)
    user = new_user()
    results: list[object] = []

    def one(n: int) -> None:
        try:
            results.append(endpoints.register(user, key=unique("k"), url=receiver.url(f"/{n}")))
        except TooManyWebhooks as exc:
            results.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not isinstance(r, TooManyWebhooks) for r in results) == 3
    assert len(endpoints.of_user(user)) == 3


SHAPE = "must be scheme://host[:port][/path], the host a DNS name or an IPv4 address"


@pytest.mark.parametrize("url, why", [
    ("ftp://example.com/x", "must start with https:// or http://"),
    ("https://user:pass@example.com/x", "must not carry credentials"),
    ("https:///x", "must name a host"),
    ("https://example.com/" + "a" * 2030, "must be at most 2048 characters"),
    (7, "must be a string"),
    ("https://shop\x00.example/x", "must not contain spaces or control characters"),
    ("https://[::1]/x", SHAPE),
    ("https://sh\u00f6p.example/x", SHAPE),
    ("https://shop.example:99999/x", "is not a valid URL"),
])
def test_a_malformed_url_is_refused_as_invalid_webhook_url(url, why):
    with pytest.raises(InvalidWebhookUrl) as refused:
        endpoints.register(new_user(), key=unique("k"), url=url)
    assert refused.value.errors == [{"field": "url", "message": why}]


def test_events_sent_as_null_are_refused_while_left_out_they_mean_every_type():
    with pytest.raises(ValidationError) as refused:
        endpoints.register(new_user(), key=unique("k"), url="https://example.com/x", kinds=None)
    assert refused.value.errors == [{"field": "events",
                                     "message": "must be a non-empty list of event types"}]
    every, _ = endpoints.register(new_user(), key=unique("k"), url="https://example.com/x")
    assert Webhook.get_by_id(every.id).events == list(events.TYPES)


def test_an_unknown_event_type_is_refused_naming_it():
    with pytest.raises(ValidationError) as refused:
        endpoints.register(new_user(), key=unique("k"), url="https://example.com/x",
                           kinds=["request.succeeded", "money.printed"])
    assert "money.printed" in refused.value.errors[0]["message"]


# -- where a delivery may go (outside development and test) --------------------------------------
@pytest.mark.parametrize("url", [
    "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x", "https://169.254.169.254/x",
    "https://localhost/x", "https://[::ffff:127.0.0.1]/x", "https://224.0.0.1/x",
    "https://0.0.0.0/x", "https://192.168.1.1/x", "http://93.184.216.34/x",
])
def test_in_production_a_url_reaching_a_private_or_reserved_address_is_refused(monkeypatch, url):
    monkeypatch.setattr(settings, "ENV", "production")
    with pytest.raises(InvalidWebhookUrl):
        urls.checked_url(url)


def test_in_production_a_public_address_is_accepted_and_the_switch_lifts_the_rule(monkeypatch):
    monkeypatch.setattr(settings, "ENV", "production")
    assert urls.checked_url("https://93.184.216.34/hook") == "https://93.184.216.34/hook"
    monkeypatch.setattr(settings, "WEBHOOK_ALLOW_PRIVATE", True)
    assert urls.checked_url("https://10.1.2.3/hook") == "https://10.1.2.3/hook"


def test_in_production_a_delivery_is_refused_at_the_address_it_connects_to(monkeypatch,
                                                                          receiver):
    # Given a receiver on loopback (as a name that resolved elsewhere when it was
    # registered would now): the session refuses before sending a byte
    monkeypatch.setattr(settings, "ENV", "production")
    with pytest.raises(Exception) as refused:
        transport.session().post(receiver.url("/x"), data=b"{}", timeout=5)
    assert "may not call" in str(refused.value)
    assert receiver.seen == []


# -- dispatch and delivery ---------------------------------------------------------------------
def test_an_event_reaches_each_subscribed_webhook_signed_and_verifiable(receiver):
    ada, bob = new_wallet(), new_wallet()
    every = register(ada.user, receiver)
    some = register(ada.user, receiver, kinds=["transfer.received"])
    settled(accept(ada, "deposit", "10.00"))
    settled(accept_transfer(ada, bob, "1.00"))
    dispatched()
    # One job per event the webhook wants: all of Ada's for the first, none for the second
    ada_events = [e.id for e in Event.select().where(Event.user_id == ada.user_id)]
    assert sorted(j.event_id for j in jobs_of(every)) == sorted(
        e for e in ada_events if e > 0) and jobs_of(some) == []
    for job in jobs_of(every):
        assert deliver.deliver(job.id) == "succeeded"
    # The receiver verified each with the package, as an integrator would; the body is the
    # event as the feed shows it, and webhook-id is its id
    got = receiver.delivered()
    assert sorted(got) == sorted(str(j.event_id) for j in jobs_of(every))
    for event_id, [seen] in got.items():
        assert seen.verified == events.shown(Event.get_by_id(int(event_id)))
        assert seen.headers["content-type"] == "application/json"
    assert {j.status for j in jobs_of(every)} == {"succeeded"}
    # And delivering again does nothing
    assert deliver.deliver(jobs_of(every)[0].id) is None


def test_a_webhook_registered_after_an_event_is_not_sent_it(receiver):
    # Given an event not yet dispatched when the webhook is registered
    ada = new_wallet()
    settled(accept(ada, "deposit", "1.00"))
    late = register(ada.user, receiver)
    # When the sweeper fans it out, Then the webhook gets nothing from before it; a later
    # event it gets
    dispatched()
    assert jobs_of(late) == []
    settled(accept(ada, "deposit", "2.00"))
    dispatched()
    assert len(jobs_of(late)) == 1


def test_a_failed_delivery_is_retried_on_its_schedule_with_the_same_webhook_id(receiver):
    ada, hook, job = one_job(receiver)
    # When the receiver answers 500, then (its time come) 200
    receiver.status = 500
    assert deliver.deliver(job.id) == "failed"
    waiting = WebhookJob.get_by_id(job.id)
    gap = (waiting.next_attempt_at - utcnow()).total_seconds()
    assert waiting.status == "pending" and waiting.attempts == 1
    assert settings.WEBHOOK_FIRST_RETRY_S * 0.8 - 1 <= gap <= settings.WEBHOOK_FIRST_RETRY_S * 1.2
    assert deliver.deliver(job.id) is None  # not due yet
    receiver.status = 200
    due_now(job.id)
    assert deliver.deliver(job.id) == "succeeded"
    # Then both attempts carried the event's id; the log has both, the failed one with
    # when the next was due, the last one with none
    assert [s.headers["webhook-id"] for s in receiver.seen] == [str(job.event_id)] * 2
    log = list(WebhookDelivery.select().where(WebhookDelivery.job_id == job.id)
               .order_by(WebhookDelivery.id))
    assert [(d.attempt, d.status, d.response_status) for d in log] == [
        (1, "failed", 500), (2, "succeeded", 200)]
    assert log[0].next_attempt_at is not None and log[1].next_attempt_at is None


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver):
    target = Receiver().start()
    try:
        ada = new_wallet()
        hook = register(ada.user, receiver, kinds=["request.succeeded"])
        receiver.redirect_to = target.url("/elsewhere")
        settled(accept(ada, "deposit", "1.00"))
        dispatched()
        [job] = jobs_of(hook)
        assert deliver.deliver(job.id) == "failed"
        assert target.seen == []
        assert WebhookDelivery.get(WebhookDelivery.job_id == job.id).response_status == 302
    finally:
        target.stop()


def test_a_receiver_slower_than_the_timeout_fails_the_attempt(receiver, monkeypatch):
    monkeypatch.setattr(settings, "WEBHOOK_TIMEOUT_S", 1)
    receiver.delay_s = 2.5
    ada, hook, job = one_job(receiver)
    assert deliver.deliver(job.id) == "failed"
    attempt = WebhookDelivery.get(WebhookDelivery.job_id == job.id)
    assert attempt.response_status is None and "Timeout" in attempt.error
    assert 900 <= attempt.duration_ms < 2500


def test_after_three_days_of_failures_the_last_attempt_stays_failed(receiver):
    ada, hook, job = one_job(receiver)
    WebhookJob.update(created_at=utcnow() - timedelta(seconds=settings.WEBHOOK_RETRY_FOR_S),
                      attempts=20).where(WebhookJob.id == job.id).execute()
    receiver.status = 503
    assert deliver.deliver(job.id) == "failed"
    final = WebhookJob.get_by_id(job.id)
    assert (final.status, final.next_attempt_at) == ("failed", None)
    assert WebhookDelivery.get(WebhookDelivery.job_id == job.id).next_attempt_at is None


def test_no_delivery_starts_after_its_webhook_is_deleted(receiver):
    ada, hook, job = one_job(receiver)
    endpoints.delete(ada.user, hook.id)
    assert deliver.deliver(job.id) == "cancelled"
    assert receiver.seen == [] and WebhookJob.get_by_id(job.id).status == "cancelled"


def test_two_workers_delivering_one_job_at_once_make_one_attempt(receiver):
    receiver.delay_s = 0.3
    ada, hook, job = one_job(receiver)
    outcomes: list[str | None] = []

    def attempt() -> None:
        outcomes.append(deliver.deliver(job.id))
        db.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == [None, None, None, "succeeded"]
    assert len(receiver.seen) == 1


def test_due_jobs_are_handed_over_once_until_their_message_could_have_been_lost(receiver):
    ada, hook, job = one_job(receiver)
    assert dispatch.send_due() >= 1
    assert job.id not in [row[0] for row in db.execute_sql(
        dispatch.DUE_SQL, (utcnow(),) * 3 + (settings.WEBHOOK_RESEND_AFTER_S, 10_000))]
    # Long after, still not delivered: it is handed over again
    WebhookJob.update(sent_at=utcnow() - timedelta(seconds=settings.WEBHOOK_RESEND_AFTER_S + 1)) \
        .where(WebhookJob.id == job.id).execute()
    assert job.id in [row[0] for row in db.execute_sql(
        dispatch.DUE_SQL, (utcnow(),) * 3 + (settings.WEBHOOK_RESEND_AFTER_S, 10_000))]
    assert deliver.deliver(job.id) == "succeeded"
