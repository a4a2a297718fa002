"""The ops page's HTML: one self-contained document, no scripts or outside assets.

Every value that reaches the page goes through `html.escape`, whatever its source.
"""
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from money import format_amount

if TYPE_CHECKING:
    from infra.broker import DeadMessage, QueueCounts
    from models import AuditRun, TransactionRequest
    from payments.requests import Stats as RequestStats
    from webhooks.health import Health as WebhookHealth

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d232a;background:#f6f7f9}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.6rem 1rem 1rem}
table{border-collapse:collapse;min-width:24rem}th,td{padding:.25rem .7rem;text-align:left;
border-bottom:1px solid #e6e9ed;vertical-align:top}td.n{text-align:right;font-variant-numeric:
tabular-nums}form{display:inline;margin:0}button{font:inherit;padding:.1rem .6rem;cursor:
pointer}.muted{color:#68717c}.bad{color:#b3261e;font-weight:600}.ok{color:#1e7a34;font-weight:
600}.notice{background:#e7f3ea;border:1px solid #a9d3b4;padding:.4rem .8rem;border-radius:4px}
pre{background:#f1f3f5;padding:.5rem;overflow:auto;max-height:16rem}header form{float:right}
"""


@dataclass(frozen=True)
class OpsView:
    """Everything the page shows; None where a source did not answer."""

    broker: str
    counts: "list[QueueCounts] | None"
    stats: "RequestStats"
    failures: "list[TransactionRequest]"
    audit: "AuditRun | None"
    dead: "dict[str, list[DeadMessage] | None]"
    dashboard: bool  # Dramatiq's dashboard is served (a Redis broker)
    now: datetime
    webhooks: "WebhookHealth | None" = None


def e(value) -> str:
    return escape(str(value), quote=True)


def document(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}'
            f'</title><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def button(action: str, label: str, csrf: str | None, *, ident: str = "") -> str:
    """A POST form of one button, with the session's CSRF token when there is a session."""
    hidden = f'<input type="hidden" name="csrf_token" value="{e(csrf)}">' if csrf else ""
    ident = f' id="{e(ident)}"' if ident else ""
    return (f'<form method="post" action="{e(action)}">{hidden}'
            f'<button type="submit"{ident}>{e(label)}</button></form>')


def login_page(error: str | None = None) -> str:
    shown = f'<p class="bad">{e(error)}</p>' if error else ""
    return document("Ops login", f"""<h1>Wallet operations</h1><section><h2>Log in</h2>{shown}
<form method="post" action="/ops/login"><label>Ops token <input type="password" name="token"
autocomplete="current-password" required autofocus></label> <button type="submit"
id="login">Log in</button></form></section>""")


def error_page(status: int, title: str, detail: str) -> str:
    return document(title, f'<h1>{e(status)} {e(title)}</h1><p>{e(detail)}</p>'
                           '<p><a href="/ops">Back to the ops page</a></p>')


def age(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    for unit, size, smaller, small_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60),
                                            ("min", 60, "s", 1)):
        if seconds >= size:
            return f"{seconds // size} {unit} {seconds % size // small_size} {smaller}"
    return f"{seconds} s"


def when(moment: datetime) -> str:
    """A UTC time to the second, escaped."""
    return e(moment.isoformat(timespec="seconds")) + "Z"


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def count(value) -> str:
    return '<span class="muted">unavailable</span>' if value is None else e(value)


def queues_section(view: OpsView) -> str:
    note = "" if view.counts is not None else (
        f'<p class="bad" id="counts-unavailable">Queue counts unavailable: {e(view.broker)} '
        "did not answer.</p>")
    rows = "".join(
        f'<tr id="queue-{e(c.queue)}"><td>{e(c.queue)}</td><td class="n">{count(c.ready)}</td>'
        f'<td class="n">{count(c.unacked)}</td><td class="n">{count(c.delayed)}</td>'
        f'<td class="n">{count(c.dead)}</td></tr>' for c in view.counts or [])
    link = ('<p><a href="/ops/dramatiq/">Dramatiq\'s dashboard</a>: workers, and every '
            "queued, delayed and dead message</p>" if view.dashboard else "")
    return (f"<h2>Queues ({e(view.broker)})</h2><section>{note}{link}<table><tr><th>queue</th>"
            "<th>ready</th><th>unacked</th><th>delayed (.DQ)</th><th>dead-lettered (.XQ)</th>"
            f"</tr>{rows}</table></section>")


def requests_section(view: OpsView) -> str:
    stats = view.stats
    rows = "".join(f'<tr><td>{e(s)}</td><td class="n" id="requests-{e(s)}">{e(n)}</td></tr>'
                   for s, n in stats.by_status.items())
    oldest = ("none" if stats.oldest_pending_at is None else
              f"{age((view.now - stats.oldest_pending_at).total_seconds())} "
              f'<span class="muted">(created {when(stats.oldest_pending_at)})</span>')
    return (f'<h2>Requests</h2><section><table><tr><th>status</th><th>count</th></tr>{rows}'
            f'</table><p>Oldest pending: <span id="oldest-pending">{oldest}</span></p></section>')


def failures_section(view: OpsView, csrf: str | None) -> str:
    rows = "".join(
        f'<tr id="failure-{e(r.id)}"><td>{e(r.id)}</td><td>{e(r.type)}</td>'
        f'<td class="n">{e(format_amount(r.amount, r.currency))} {e(r.currency)}</td>'
        f"<td>{when(r.created_at)}</td><td>{e(r.failure_code)}</td>"
        f'<td>{e(r.failure_detail or "")}</td><td>'
        + (button(f"/ops/requests/{r.id}/rerun", "re-run", csrf, ident=f"rerun-{r.id}")
           if r.failure_code == "retries_exhausted" else "") + "</td></tr>"
        for r in view.failures)
    return ('<h2 id="failures">Latest failed requests</h2><section><table><tr><th>id</th>'
            "<th>type</th><th>amount</th><th>created</th><th>failure_code</th>"
            f"<th>failure_detail</th><th></th></tr>{rows}</table>"
            + ("" if rows else '<p class="muted">None.</p>') + "</section>")


def audit_section(view: OpsView, csrf: str | None) -> str:
    run = view.audit
    if run is None:
        shown = '<p class="muted" id="audit-verdict">No audit has run yet.</p>'
    else:
        verdict = ('<span class="ok">clean</span>' if not run.findings else
                   f'<span class="bad">{e(run.findings)} finding(s)</span>')
        took = (run.finished_at - run.started_at).total_seconds()
        shown = (f'<p id="audit-verdict">{verdict}, finished {when(run.finished_at)} '
                 f"({took:.1f} s)</p><pre>{e(run.report)}</pre>")
    return (f'<h2 id="audit">Last ledger audit</h2><section>{shown}'
            f'{button("/ops/audit", "run audit now", csrf, ident="run-audit")}</section>')


def dead_section(view: OpsView, csrf: str | None) -> str:
    parts = []
    for queue, messages in view.dead.items():
        if messages is None:
            parts.append(f'<h3>{e(queue)}.XQ</h3><p class="muted">unavailable</p>')
            continue
        rows = "".join(
            f'<tr><td><code>{e(m.message_id)}</code></td><td>{e(m.actor)}</td>'
            f"<td><code>{e(list(m.args))}</code></td><td class=\"n\">{e(m.retries)}</td>"
            f"<td>{when(utc(m.sent_at_ms))}</td><td>"
            + button(f"/ops/queues/{queue}/dead/{m.key}/requeue", "requeue", csrf,
                     ident=f"requeue-{m.key}")
            + " " + button(f"/ops/queues/{queue}/dead/{m.key}/delete", "delete", csrf,
                           ident=f"delete-{m.key}")
            + "</td></tr>" for m in messages)
        parts.append(f"<h3>{e(queue)}.XQ</h3>" + (
            f"<table><tr><th>message id</th><th>actor</th><th>args</th><th>retries</th>"
            f"<th>first sent</th><th></th></tr>{rows}</table>" if rows else
            '<p class="muted">Empty.</p>'))
    return f'<h2 id="dead">Dead-lettered messages</h2><section>{"".join(parts)}</section>'


def webhooks_section(view: OpsView, csrf: str | None) -> str:
    found = view.webhooks
    if found is None:
        return '<h2 id="webhooks">Webhooks</h2><section><p class="muted">unavailable</p></section>'
    oldest = ("none" if found.oldest_undelivered_at is None else
              f"{age(found.oldest_undelivered_age_s(view.now))} "
              f'<span class="muted">(created {when(found.oldest_undelivered_at)})</span>')
    failing = "".join(
        f'<tr id="failing-{e(f.webhook_id)}"><td>{e(f.webhook_id)}</td><td>{e(f.user_id)}</td>'
        f'<td><code>{e(f.url)}</code></td><td class="n">{e(f.retrying)}</td>'
        f'<td class="n">{e(f.given_up)}</td><td>{when(f.last_at)}</td></tr>'
        for f in found.failing)
    failed = "".join(
        f'<tr id="failed-job-{e(j.id)}"><td>{e(j.id)}</td><td>{e(j.webhook_id)}</td>'
        f"<td>{e(j.event_id)} {e(j.event_type)}</td><td class=\"n\">{e(j.attempts)}</td>"
        f"<td>{when(j.failed_at)}</td><td>"
        + button(f"/ops/webhooks/jobs/{j.id}/resend", "re-send", csrf, ident=f"resend-{j.id}")
        + "</td></tr>" for j in found.failed)
    return (f'<h2 id="webhooks">Webhooks</h2><section><p>Deliveries pending: <span '
            f'id="webhook-pending">{e(found.pending)}</span>. Oldest event not yet delivered: '
            f'<span id="webhook-oldest">{oldest}</span></p><h3>Failing endpoints</h3>'
            + (f"<table><tr><th>webhook</th><th>user</th><th>url</th><th>retrying</th>"
               f"<th>given up (3 days)</th><th>last attempt</th></tr>{failing}</table>"
               if failing else '<p class="muted">None.</p>')
            + "<h3>Failed deliveries</h3>"
            + (f"<table><tr><th>job</th><th>webhook</th><th>event</th><th>attempts</th>"
               f"<th>failed</th><th></th></tr>{failed}</table>" if failed
               else '<p class="muted">None.</p>') + "</section>")


def ops_page(view: OpsView, *, csrf: str | None, notice: str | None) -> str:
    logout = button("/ops/logout", "log out", csrf) if csrf else ""
    shown = f'<p class="notice" id="notice">{e(notice)}</p>' if notice else ""
    return document("Wallet operations", (
        f"<header>{logout}<h1>Wallet operations</h1><p class=\"muted\">As of "
        f"{when(view.now)}</p></header>{shown}"
        + queues_section(view) + requests_section(view) + failures_section(view, csrf)
        + webhooks_section(view, csrf) + audit_section(view, csrf) + dead_section(view, csrf)))
