"""Operator commands: `python manage.py secrets|check|migrate|broker-plugins|audit`.

  secrets  writes random per-checkout secrets (JWT_SECRET, OPS_TOKEN, WEBHOOK_SECRET_KEYS) that
           `.env` lacks into it (mode 0600, git-ignored), saying so once; `make run` and
           `make test` run it first
  reseal   seals every webhook secret again with the first of WEBHOOK_SECRET_KEYS (rotation)
  check    says whether MariaDB, Redis and RabbitMQ answer, and how to start one that does not
  migrate  creates the database if missing and applies pending migrations
  reset-test-db  drops and re-migrates the *_test database (WALLET_ENV=test only)
  vhost NAME [--fresh]  creates a RabbitMQ virtual host for guest (tests keep to their
                 own); deletes its empty queues of the other type than BROKER_QUORUM_QUEUES;
                 --fresh deletes the vhost and its messages first
  broker-plugins enables RabbitMQ's management plugin (the ops page's queue counts) and
                 waits until its HTTP API answers; nothing to do for a Redis broker
  audit    checks the ledger (see audit.py), records the run; exits non-zero on any finding
"""
import argparse
import base64
import fcntl
import os
import secrets as random_secrets
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS_DIR = os.path.join(ROOT, "migrations")
# Where settings.py looks for what the environment leaves unset (see settings.DOTENV_PATH).
DOTENV_PATH = os.path.join(ROOT, ".env")
# What `secrets` generates when `.env` lacks it: random, so no key in the repository ever
# signs a token or opens /ops.
GENERATED = {"JWT_SECRET": lambda: random_secrets.token_urlsafe(48),
             "OPS_TOKEN": lambda: random_secrets.token_urlsafe(32),
             "WEBHOOK_SECRET_KEYS": lambda: base64.urlsafe_b64encode(
                 random_secrets.token_bytes(32)).decode()}


def generate_secrets(path: str = DOTENV_PATH) -> list[str]:
    """Append a random value for each secret the file lacks (creating it with mode 0600).

    Runs before settings can be imported (settings refuses to start without them), so it
    reads the file itself; the lock keeps two first runs from writing two values.

    Returns:
      The names written (empty when the file already had every one).
    """
    from dotenv import dotenv_values

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.fchmod(fd, 0o600)
        present = {k for k, v in dotenv_values(path).items() if v}
        missing = [name for name in GENERATED if name not in present]
        if missing:
            size = os.fstat(fd).st_size
            lead = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
            os.write(fd, lead + "".join(f"{name}={GENERATED[name]()}\n"
                                        for name in missing).encode())
        return missing
    finally:
        os.close(fd)


def secrets() -> int:
    missing = generate_secrets()
    if missing:
        print(f"  secrets   generated {', '.join(missing)} into {DOTENV_PATH} (mode 0600, "
              "git-ignored): random for this checkout; keep the file private")
    return 0


def check() -> int:
    from infra import health  # imported late: it connects lazily; keep `migrate` independent

    failed = 0
    for name, probe in health.PREFLIGHT.items():
        try:
            probe()
            print(f"  {name:<9} ok")
        except Exception as exc:  # noqa: BLE001 - report every way a service can be down
            failed += 1
            print(f"  {name:<9} DOWN ({type(exc).__name__}: {str(exc)[:120]})\n"
                  f"            start it with: {health.HOW_TO_START[name]}", file=sys.stderr)
    return 1 if failed else 0


def create_database() -> None:
    import pymysql

    import settings
    from models import database_params

    name, params = database_params(settings.DATABASE_URL)
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` "
                        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()


def migrate() -> int:
    from peewee_migrate import Router

    import settings
    from models import database_params, db

    create_database()
    router = Router(db, migrate_dir=MIGRATIONS_DIR, ignore=["basemodel"])
    done = router.run()
    print(f"  database  {database_params(settings.DATABASE_URL)[0]}: "
          f"{len(done)} migration(s) applied, {len(router.done)} in all")
    return 0


def reset_test_db() -> int:
    """Drop and re-create the test database, so every test run starts from the migrations."""
    import pymysql

    import settings
    from models import database_params

    name, params = database_params(settings.DATABASE_URL)
    if settings.ENV != "test" or not name.endswith("_test"):
        print("reset-test-db only runs with WALLET_ENV=test on a database named *_test",
              file=sys.stderr)
        return 2
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()
    # Cached wallets of the dropped database would shadow the new rows with the same ids.
    from infra import cache
    cache.client.flushdb()
    return migrate()


def vhost(name: str, *, fresh: bool = False, check_types: bool = True) -> int:
    """Create a RabbitMQ virtual host for guest (tests and the chaos run keep to their own).

    `fresh` deletes it first, with everything in it (a test vhost, whose database is reset
    too). Otherwise (unless `check_types` is false: a name never used before) its queues of
    the other type than BROKER_QUORUM_QUEUES asks for (RabbitMQ refuses to redeclare them)
    are dealt with: empty ones are deleted, to be declared again as configured; one that
    still holds messages is named, and the command fails.
    """
    import subprocess

    def ctl(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(["rabbitmqctl", "-q", *argv], capture_output=True, text=True,
                              timeout=60)

    if fresh:
        ctl("delete_vhost", name)
    added = ctl("add_vhost", name)  # (nothing to say when it exists already)
    for done, argv in ((added, "add_vhost"),
                       (ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*"),
                        "set_permissions")):
        if done.returncode and "already_exists" not in done.stderr + done.stdout:
            print(f"manage.py vhost: rabbitmqctl {argv} {name} failed: {done.stderr.strip()}",
                  file=sys.stderr)
            return 1
    return _retype_queues(name, ctl) if check_types and not fresh else 0


def _retype_queues(name: str, ctl) -> int:
    """Delete the empty queues of `name` whose type is not the configured one; fail naming
    those that hold messages (drain them first)."""
    import settings

    want = "quorum" if settings.BROKER_QUORUM_QUEUES else "classic"
    listed = ctl("list_queues", "-p", name, "--no-table-headers", "name", "type", "messages")
    stuck = []
    for line in listed.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or parts[1] == want or parts[1] not in ("classic", "quorum"):
            continue
        if parts[2] == "0":
            ctl("delete_queue", "-p", name, "--if-empty", parts[0])
        else:
            stuck.append(f"{parts[0]} ({parts[2]} messages)")
    if stuck:
        other = "classic" if want == "quorum" else "quorum"
        print(f"manage.py vhost: {name} holds {other} queues with messages, which RabbitMQ "
              f"cannot redeclare as {want}: {', '.join(stuck)}; let the workers drain them "
              f"(or use a new vhost), then run this again", file=sys.stderr)
        return 1
    return 0


def broker_plugins(*, wait_s: int = 60) -> int:
    """Enable rabbitmq_management (bundled with RabbitMQ; enabling it again changes nothing)
    and wait until its API answers at RABBITMQ_MANAGEMENT_URL."""
    import shutil
    import subprocess
    import time

    import settings

    if not settings.BROKER_URL.startswith("amqp"):
        return 0
    from infra import broker
    from payments.queues import QUEUES

    management = broker.for_ops(QUEUES)
    if not management.management_answers():
        if shutil.which("rabbitmq-plugins") is None:
            print("manage.py broker-plugins: rabbitmq-plugins is not on PATH; on the RabbitMQ "
                  "host run: rabbitmq-plugins enable rabbitmq_management", file=sys.stderr)
        else:
            done = subprocess.run(["rabbitmq-plugins", "enable", "rabbitmq_management"],
                                  capture_output=True, text=True, timeout=120)
            if done.returncode:
                print(f"manage.py broker-plugins: rabbitmq-plugins failed: "
                      f"{done.stderr.strip()[:500]}", file=sys.stderr)
    deadline = time.monotonic() + wait_s
    while not management.management_answers():
        if time.monotonic() > deadline:
            print(f"manage.py broker-plugins: RabbitMQ's management API did not answer within "
                  f"{wait_s} s at RABBITMQ_MANAGEMENT_URL", file=sys.stderr)
            return 1
        time.sleep(0.5)
    print("  rabbitmq  management API ok")
    return 0


def reseal() -> int:
    """Seal every webhook secret again with the first of WEBHOOK_SECRET_KEYS, so that the
    keys after it can be dropped. A row changed meanwhile is left for the next run."""
    from models import db
    from models import reseal as sealed_again

    rows = db.execute_sql("SELECT id, secret FROM webhooks").fetchall()
    for webhook_id, secret in rows:
        db.execute_sql("UPDATE webhooks SET secret = %s WHERE id = %s AND secret = %s",
                       (sealed_again(secret), webhook_id, secret))
    print(f"  webhooks  {len(rows)} secret(s) sealed with the first of WEBHOOK_SECRET_KEYS")
    return 0


def audit() -> int:
    from ledger import audit as ledger_audit

    return ledger_audit.main()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["secrets", "check", "migrate", "reset-test-db",
                                            "vhost", "broker-plugins", "audit", "reseal"])
    parser.add_argument("name", nargs="?", help="the virtual host, for `vhost`")
    parser.add_argument("--fresh", action="store_true",
                        help="`vhost`: delete it, with its queues and messages, first")
    args = parser.parse_intermixed_args(argv)
    if args.command == "vhost":
        return vhost(args.name or "wallet_test", fresh=args.fresh)
    return {"secrets": secrets, "check": check, "migrate": migrate, "reset-test-db": reset_test_db,
            "broker-plugins": broker_plugins, "audit": audit, "reseal": reseal}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
