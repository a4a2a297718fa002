"""The ledger audit: `python manage.py audit` (or `make audit`).

Checks, over the whole database:
  1. every user wallet's balance equals the sum of its entries;
  2. every request's entries sum to zero;
  3. no user wallet is negative;
  4. every succeeded request that moves money has entries, and no other request has any
     (a hold or a void moves none);
  5. every user wallet's latest entry shows its current balance as balance_after;
  6. the fee entries of each request add up to the request's fee;
  7. every user wallet's held amount is the sum of its active holds' remaining amounts,
     and never more than its balance (available is never negative);
  8. each hold's captured total is the sum of its succeeded captures, never past its
     amount, and its status agrees with its request's;
  9. each request's refunded total is the sum of its succeeded refunds, never past what
     its recipient received.
Prints what it checked and every finding, records the run in `audit_runs`, and exits
non-zero on any finding.
"""
import sys

import peewee

from models import AuditRun, db, utcnow

CHECKS = [
    ("user wallet balance equals the sum of its entries", """
        SELECT w.id, w.balance, COALESCE(SUM(t.amount), 0) FROM wallets w
        LEFT JOIN transactions t ON t.wallet_id = w.id
        WHERE w.system_key IS NULL GROUP BY w.id, w.balance
        HAVING w.balance <> COALESCE(SUM(t.amount), 0)"""),
    ("entries of each request sum to zero", """
        SELECT request_id, SUM(amount) FROM transactions GROUP BY request_id
        HAVING SUM(amount) <> 0"""),
    ("no user wallet is negative", """
        SELECT id, balance FROM wallets WHERE system_key IS NULL AND balance < 0"""),
    ("every succeeded request that moves money has entries", """
        SELECT r.id FROM transaction_requests r WHERE r.status = 'succeeded'
        AND r.type NOT IN ('hold', 'void')
        AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.request_id = r.id)"""),
    ("no pending or failed request, hold or void has entries", """
        SELECT DISTINCT r.id, r.status FROM transaction_requests r
        JOIN transactions t ON t.request_id = r.id
        WHERE r.status <> 'succeeded' OR r.type IN ('hold', 'void')"""),
    ("latest entry of each user wallet shows its balance", """
        SELECT w.id, w.balance, t.balance_after FROM wallets w
        JOIN transactions t ON t.id = (SELECT MAX(id) FROM transactions WHERE wallet_id = w.id)
        WHERE w.system_key IS NULL AND t.balance_after <> w.balance"""),
    ("fee entries of each request equal its fee", """
        SELECT r.id, r.fee, COALESCE(SUM(t.amount), 0) FROM transaction_requests r
        LEFT JOIN transactions t ON t.request_id = r.id AND t.type = 'fee'
        WHERE r.status = 'succeeded' GROUP BY r.id, r.fee
        HAVING r.fee <> COALESCE(SUM(t.amount), 0)"""),
    ("user wallet held equals the sum of its active holds' remaining amounts", """
        SELECT w.id, w.held, COALESCE(SUM(h.amount - h.captured), 0) FROM wallets w
        LEFT JOIN holds h ON h.wallet_id = w.id AND h.status = 'active'
        WHERE w.system_key IS NULL GROUP BY w.id, w.held
        HAVING w.held <> COALESCE(SUM(h.amount - h.captured), 0)"""),
    ("no user wallet's available balance is negative", """
        SELECT id, balance, held FROM wallets
        WHERE system_key IS NULL AND (held < 0 OR held > GREATEST(balance, 0))"""),
    ("each hold's captured total is the sum of its captures, within its amount", """
        SELECT h.id, h.amount, h.captured, COALESCE(SUM(r.amount), 0) FROM holds h
        LEFT JOIN transaction_requests r ON r.hold_id = h.id AND r.type = 'capture'
        AND r.status = 'succeeded' GROUP BY h.id, h.amount, h.captured
        HAVING h.captured <> COALESCE(SUM(r.amount), 0) OR h.captured > h.amount"""),
    ("each hold's status agrees with its request's", """
        SELECT h.id, h.status, r.id, r.status FROM holds h
        LEFT JOIN transaction_requests r ON r.id = h.request_id
        WHERE r.id IS NULL
        OR (r.status = 'pending') <> (h.status = 'pending')
        OR (r.status = 'failed') <> (h.status = 'failed')"""),
    ("each request's refunded total is the sum of its refunds, within what was received", """
        SELECT o.id, o.amount - o.fee, o.refunded, COALESCE(SUM(r.amount), 0)
        FROM transaction_requests o
        LEFT JOIN transaction_requests r ON r.refund_of = o.id AND r.type = 'refund'
        AND r.status = 'succeeded'
        WHERE o.refunded <> 0 OR r.id IS NOT NULL GROUP BY o.id, o.amount, o.fee, o.refunded
        HAVING o.refunded <> COALESCE(SUM(r.amount), 0) OR o.refunded > o.amount - o.fee"""),
]
COUNTS = {"wallets": "SELECT COUNT(*) FROM wallets",
          "requests": "SELECT COUNT(*) FROM transaction_requests",
          "holds": "SELECT COUNT(*) FROM holds",
          "entries": "SELECT COUNT(*) FROM transactions"}
SHOWN_PER_CHECK = 10


def findings() -> dict[str, list[tuple]]:
    """Run every check; returns the offending rows per check (empty lists when clean)."""
    return {name: list(db.execute_sql(sql).fetchall()) for name, sql in CHECKS}


def report() -> tuple[int, str]:
    """Run the audit.

    Returns:
      The number of findings, and the report `manage.py audit` prints.
    """
    counts = {name: db.execute_sql(sql).fetchone()[0] for name, sql in COUNTS.items()}
    lines = ["audit: " + ", ".join(f"{n} {name}" for name, n in counts.items())]
    bad = 0
    for name, rows in findings().items():
        verdict = "ok  " if not rows else "FAIL"
        lines.append(f"  {verdict} {name}" + (f": {len(rows)}" if rows else ""))
        lines += [f"         {row}" for row in rows[:SHOWN_PER_CHECK]]
        bad += len(rows)
    lines.append("audit: clean" if not bad else f"audit: {bad} finding(s)")
    return bad, "\n".join(lines)


def run_and_record() -> AuditRun:
    """Run the audit and keep its result in `audit_runs` (the ops page shows the latest)."""
    started_at = utcnow()
    bad, text = report()
    return AuditRun.create(started_at=started_at, finished_at=utcnow(), findings=bad,
                           report=text)


def latest() -> AuditRun | None:
    """The most recent recorded audit run, if any."""
    return AuditRun.select().order_by(AuditRun.id.desc()).first()


def main() -> int:
    started_at = utcnow()
    bad, text = report()
    print(text)
    try:
        AuditRun.create(started_at=started_at, finished_at=utcnow(), findings=bad, report=text)
    except peewee.DatabaseError as exc:  # an older schema: the verdict still stands
        print(f"audit: result not recorded ({exc}); run `python manage.py migrate`",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
