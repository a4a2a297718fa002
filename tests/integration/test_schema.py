"""The schema the migrations create, and the rules MariaDB itself enforces.

Migration tests run against a scratch database on the same server (dropped afterwards);
the rule tests use the real wallet_test database through the models, inside transactions
that are rolled back where the rows would otherwise linger.
"""
import contextlib
import subprocess
import sys
import uuid

import peewee
import pymysql
import pytest
from peewee_migrate import Router

import manage
import settings
from models import (
    IdempotencyKey,
    Notification,
    SealedField,
    TransactionRequest,
    User,
    Wallet,
    database_params,
    db,
    utcnow,
)
from tests.helpers import ROOT, free_port, process_env, unique

TABLES = {"users", "wallets", "transaction_requests", "transactions", "idempotency_keys",
          "notifications", "login_logs", "audit_runs", "ops_sessions", "holds", "events",
          "webhooks", "webhook_jobs", "webhook_deliveries"}
SERVER_PARAMS = database_params(settings.DATABASE_URL)[1]


# -- helpers ------------------------------------------------------------------------------
def server_sql(sql: str, args=None) -> list[tuple]:
    """Run one statement on the server, outside any database and outside the pool."""
    conn = pymysql.connect(autocommit=True, **SERVER_PARAMS)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


def tables_of(schema: str) -> set[str]:
    return {row[0] for row in server_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (schema,))}


@contextlib.contextmanager
def scratch_database(suffix: str = ""):
    """A new, empty database on the same server, dropped on the way out."""
    name = f"wallet_migrations_test_{uuid.uuid4().hex[:10]}{suffix}"
    server_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield name
    finally:
        server_sql(f"DROP DATABASE IF EXISTS `{name}`")


@contextlib.contextmanager
def rolled_back():
    """A transaction on the models' database that is always rolled back."""
    with db.atomic() as txn:
        yield
        txn.rollback()


def new_user(*, email: str | None = None, username: str | None = None) -> User:
    name = unique("user_")
    return User.create(email=email or f"{name}@example.com", username=username or name,
                       password_hash="not-a-real-hash")


def new_request(user: User, wallet: Wallet, key: str) -> TransactionRequest:
    """A request and the reservation of its key, as accepting one writes them."""
    request = TransactionRequest.create(user=user, type="deposit", currency=wallet.currency,
                                        amount=100, wallet=wallet)
    IdempotencyKey.insert(user=user, idempotency_key=key, fingerprint="0" * 64,
                          request=request, created_at=utcnow()).execute()
    return request


def reserve_for_wallet(user: User, wallet: Wallet, key: str) -> None:
    IdempotencyKey.insert(user=user, idempotency_key=key, fingerprint="1" * 64,
                          wallet=wallet, created_at=utcnow()).execute()


def manage_py(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env=process_env(**env), capture_output=True, text=True, timeout=120)


# -- migrations ---------------------------------------------------------------------------
def test_the_migrations_create_every_table_and_record_themselves_in_an_empty_database():
    with scratch_database() as name:
        scratch = peewee.MySQLDatabase(name, **SERVER_PARAMS)
        try:
            # Given an empty database
            assert tables_of(name) == set()
            router = Router(scratch, migrate_dir=manage.MIGRATIONS_DIR)

            # When the migrations run
            applied = router.run()

            # Then every table exists, and every migration on disk is recorded as done
            assert TABLES <= tables_of(name)
            assert tables_of(name) - TABLES == {"migratehistory"}
            assert applied == list(router.todo) and "001_initial" in applied
            assert router.done == list(router.todo)
            engines = server_sql("SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES "
                                 "WHERE TABLE_SCHEMA = %s", (name,))
            assert {table: engine for table, engine in engines if table in TABLES} == \
                dict.fromkeys(TABLES, "InnoDB")
        finally:
            scratch.close()


def test_running_the_migrations_a_second_time_applies_nothing():
    with scratch_database() as name:
        scratch = peewee.MySQLDatabase(name, **SERVER_PARAMS)
        try:
            # Given a database the migrations already ran on
            first = Router(scratch, migrate_dir=manage.MIGRATIONS_DIR).run()
            assert first

            # When a fresh router runs them again
            again = Router(scratch, migrate_dir=manage.MIGRATIONS_DIR)
            second = again.run()

            # Then nothing is applied and the history is unchanged
            assert second == []
            assert again.diff == []
            assert again.done == first
            assert TABLES <= tables_of(name)
        finally:
            scratch.close()


def test_the_sealing_migration_seals_plain_secrets_in_place_and_its_rollback_opens_them():
    with scratch_database() as name:
        scratch = peewee.MySQLDatabase(name, **SERVER_PARAMS)
        try:
            # Given a database before the sealing migration, with a secret stored plain
            router = Router(scratch, migrate_dir=manage.MIGRATIONS_DIR)
            router.run("010_history_indexes")
            plain = "whsec_" + "A" * 43 + "="
            scratch.execute_sql(
                "INSERT INTO webhooks (user_id, url, events, secret, created_at) "
                "VALUES (1, 'https://example.com/x', '[]', %s, NOW(6))", (plain,))

            # When the migration runs, Then the row holds it sealed, and it opens as it was
            assert router.run() == ["011_sealed_webhook_secrets"]
            stored = scratch.execute_sql("SELECT secret FROM webhooks").fetchone()[0]
            assert plain not in stored and SealedField().python_value(stored) == plain

            # And rolling it back gives the plain secret back
            router.rollback()
            assert scratch.execute_sql("SELECT secret FROM webhooks").fetchone()[0] == plain
        finally:
            scratch.close()


# -- unique rules with soft delete ----------------------------------------------------------
def test_two_live_users_cannot_share_an_email():
    with rolled_back():
        # Given a live user
        first = new_user()

        # When another user signs up with the same email, Then the database refuses it
        with pytest.raises(peewee.IntegrityError, match="users_live_email"):
            with db.atomic():
                new_user(email=first.email)


def test_two_live_users_cannot_share_a_username():
    with rolled_back():
        # Given a live user
        first = new_user()

        # When another user takes the same username, Then the database refuses it
        with pytest.raises(peewee.IntegrityError, match="users_live_username"):
            with db.atomic():
                new_user(username=first.username)


def test_a_soft_deleted_users_email_and_username_can_be_taken_again_even_twice():
    with rolled_back():
        # Given a user who was soft-deleted
        first = new_user()
        User.update(deleted_at=utcnow()).where(User.id == first.id).execute()

        # When a new user takes the same email and username
        second = new_user(email=first.email, username=first.username)
        # ... and is soft-deleted too, and a third one takes them again
        User.update(deleted_at=utcnow()).where(User.id == second.id).execute()
        third = new_user(email=first.email, username=first.username)

        # Then all three rows exist, and only the last one is live
        rows = list(User.select().where(User.email == first.email).order_by(User.id))
        assert [u.id for u in rows] == [first.id, second.id, third.id]
        assert [u.deleted_at is None for u in rows] == [False, False, True]


def test_a_user_has_at_most_one_live_wallet_per_currency():
    with rolled_back():
        # Given a user with a live USD wallet
        user = new_user()
        Wallet.create(user=user, currency="USD")

        # When a second live USD wallet is created, Then the database refuses it
        with pytest.raises(peewee.IntegrityError, match="wallets_live_currency"):
            with db.atomic():
                Wallet.create(user=user, currency="USD")
        # ... while another currency is fine
        Wallet.create(user=user, currency="EUR")


def test_a_closed_wallets_currency_can_be_opened_again_and_two_closed_ones_coexist():
    with rolled_back():
        # Given a user whose USD wallet was closed
        user = new_user()
        first = Wallet.create(user=user, currency="USD")
        Wallet.update(deleted_at=utcnow()).where(Wallet.id == first.id).execute()

        # When a new USD wallet is opened, closed, and a third one opened
        second = Wallet.create(user=user, currency="USD")
        Wallet.update(deleted_at=utcnow()).where(Wallet.id == second.id).execute()
        third = Wallet.create(user=user, currency="USD")

        # Then two closed and one live USD wallet coexist, and a second live one is refused
        rows = list(Wallet.select().where((Wallet.user == user) & (Wallet.currency == "USD"))
                    .order_by(Wallet.id))
        assert [w.id for w in rows] == [first.id, second.id, third.id]
        assert [w.deleted_at is None for w in rows] == [False, False, True]
        with pytest.raises(peewee.IntegrityError):
            with db.atomic():
                Wallet.create(user=user, currency="USD")


# -- CHECK constraints ------------------------------------------------------------------------
def test_the_database_refuses_a_negative_balance_on_a_user_wallet_with_an_operational_error():
    # Given a user wallet holding nothing
    user = new_user()
    wallet = Wallet.create(user=user, currency="USD")

    # When its balance is set to -1 behind the application's back
    with pytest.raises(peewee.OperationalError) as refused:
        with db.atomic():
            Wallet.update(balance=-1).where(Wallet.id == wallet.id).execute()

    # Then MariaDB refuses it with ER_CONSTRAINT_FAILED (4025), which PyMySQL (and so
    # peewee) reports as an OperationalError, not an IntegrityError; nothing changed
    assert not isinstance(refused.value, peewee.IntegrityError)
    assert refused.value.args[0] == 4025
    assert "wallets_user_balance_not_negative" in str(refused.value)
    assert Wallet.get_by_id(wallet.id).balance == 0


def test_a_system_account_may_go_negative_but_a_wallet_cannot_be_both_owned_and_system():
    with rolled_back():
        # Given a system account (no owner)
        system = Wallet.create(user=None, currency="USD", system_key=unique("t:")[:16])

        # When its balance column goes negative, Then the database allows it
        Wallet.update(balance=-1).where(Wallet.id == system.id).execute()
        assert Wallet.get_by_id(system.id).balance == -1

        # When a wallet has both an owner and a system key, Then it is refused
        with pytest.raises(peewee.OperationalError, match="wallets_owner_or_system"):
            with db.atomic():
                Wallet.create(user=new_user(), currency="USD", system_key=unique("t:")[:16])


# -- idempotency keys and dedupe keys -------------------------------------------------------
def test_a_user_cannot_record_two_money_requests_with_one_idempotency_key():
    with rolled_back():
        # Given a user with a request under key "k-1"
        user = new_user()
        wallet = Wallet.create(user=user, currency="USD")
        new_request(user, wallet, "k-1")

        # When a second request uses the same key, Then the database refuses it
        with pytest.raises(peewee.IntegrityError, match="PRIMARY"):
            with db.atomic():
                new_request(user, wallet, "k-1")
        # ... while another user may use the same key
        other = new_user()
        new_request(other, Wallet.create(user=other, currency="USD"), "k-1")


def test_a_key_that_made_a_request_cannot_also_make_a_wallet_or_the_reverse():
    with rolled_back():
        # Given a user whose request used "k-1" and whose wallet creation used "w-1"
        user = new_user()
        wallet = Wallet.create(user=user, currency="USD")
        new_request(user, wallet, "k-1")
        reserve_for_wallet(user, wallet, "w-1")

        # When each key is reserved again for the other kind, Then the one index refuses it
        with pytest.raises(peewee.IntegrityError, match="PRIMARY"):
            with db.atomic():
                reserve_for_wallet(user, wallet, "k-1")
        with pytest.raises(peewee.IntegrityError, match="PRIMARY"):
            with db.atomic():
                new_request(user, wallet, "w-1")


def test_a_key_names_exactly_one_request_or_one_wallet():
    with rolled_back():
        user = new_user()
        wallet = Wallet.create(user=user, currency="USD")
        for request_id, wallet_id in ((None, None), (new_request(user, wallet, "k").id,
                                                     wallet.id)):
            with pytest.raises(peewee.OperationalError, match="idempotency_keys_one_target"):
                with db.atomic():
                    IdempotencyKey.insert(user=user, idempotency_key=unique("k"),
                                          fingerprint="0" * 64, request=request_id,
                                          wallet=wallet_id, created_at=utcnow()).execute()


def test_idempotency_keys_are_case_sensitive():
    with rolled_back():
        # Given a user and a wallet
        user = new_user()
        wallet = Wallet.create(user=user, currency="USD")

        # When keys differing only in case are recorded
        new_request(user, wallet, "Key")
        new_request(user, wallet, "key")
        reserve_for_wallet(user, wallet, "KEY")

        # Then all are kept (ascii_bin), and a lookup by one finds only its own row
        assert IdempotencyKey.select().where(
            (IdempotencyKey.user == user) & (IdempotencyKey.idempotency_key == "key")
        ).count() == 1
        assert IdempotencyKey.select().where(IdempotencyKey.user == user).count() == 3
        collations = db.execute_sql(
            "SELECT TABLE_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = 'idempotency_key'").fetchall()
        assert dict(collations) == {"idempotency_keys": "ascii_bin"}


def test_a_notification_dedupe_key_is_written_only_once():
    with rolled_back():
        # Given a notification with a dedupe key
        user = new_user()
        key = unique("note:")
        Notification.create(user=user, type="t", title="t", body="b", dedupe_key=key)

        # When another notification has the same key, Then the database refuses it
        with pytest.raises(peewee.IntegrityError, match="notifications_once"):
            with db.atomic():
                Notification.create(user=user, type="t", title="t", body="b", dedupe_key=key)


# -- indexes --------------------------------------------------------------------------------
EXPECTED_FOREIGN_KEYS = {
    ("wallets", "user_id"), ("transaction_requests", "user_id"),
    ("transactions", "request_id"),
    ("notifications", "user_id"), ("notifications", "request_id"),
    ("login_logs", "user_id"),
}
# Hot columns that point at wallets without a foreign key (002 dropped them: an FK check
# share-locks the parent wallet and deadlocked accepts against settlements); indexed all
# the same.
UNCONSTRAINED_WALLET_COLUMNS = {("transaction_requests", "wallet_id"),
                                ("transaction_requests", "to_wallet_id"),
                                ("transactions", "wallet_id")}
# The indexes the hot read paths need, by name: (table, index) -> leading columns.
HOT_PATH_INDEXES = {
    ("transactions", "entries_wallet_id"): ["wallet_id", "id"],
    ("transaction_requests", "requests_user_id"): ["user_id", "id"],
    ("transaction_requests", "requests_user_status"): ["user_id", "status", "id"],
    ("transaction_requests", "requests_wallet_status"): ["wallet_id", "status"],
    ("transaction_requests", "requests_to_wallet_status"): ["to_wallet_id", "status"],
    ("transaction_requests", "requests_status_created"): ["status", "created_at"],
    ("notifications", "notifications_user_id"): ["user_id", "id"],
    ("login_logs", "login_logs_user_id"): ["user_id", "id"],
    # What login throttling counts from when Redis cannot.
    ("login_logs", "login_logs_ip_time"): ["ip_address", "created_at"],
    ("login_logs", "login_logs_email_time"): ["email_digest", "created_at"],
    ("idempotency_keys", "PRIMARY"): ["user_id", "idempotency_key"],
}


def test_every_foreign_key_column_leads_an_index():
    # Given the foreign keys of the schema
    fks = set(db.execute_sql(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL").fetchall())
    assert fks == EXPECTED_FOREIGN_KEYS

    # When the indexes are listed
    leading = set(db.execute_sql(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() AND SEQ_IN_INDEX = 1 "
        "AND COLUMN_NAME IN ('user_id', 'wallet_id', 'to_wallet_id', 'request_id')").fetchall())

    # Then every foreign key column (and every unconstrained wallet column) leads an index
    assert (fks | UNCONSTRAINED_WALLET_COLUMNS) - leading == set()


def test_the_hot_read_paths_have_their_composite_indexes():
    # Given the indexes of the schema
    rows = db.execute_sql(
        "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
    ).fetchall()
    columns: dict[tuple[str, str], list[str]] = {}
    for table, index, column in rows:
        columns.setdefault((table, index), []).append(column)

    # When / Then each named index exists with the expected leading columns
    for (table, index), expected in HOT_PATH_INDEXES.items():
        assert columns.get((table, index)) == expected, (table, index)


# -- manage.py --------------------------------------------------------------------------------
@pytest.mark.parametrize("env, suffix", [("development", "_test"), ("production", "_test"),
                                         ("test", "")])
def test_reset_test_db_refuses_unless_the_environment_is_test_and_the_database_is_a_test_one(
        env, suffix):
    with scratch_database(suffix) as name:
        # Given a scratch database holding a marker table
        server_sql(f"CREATE TABLE `{name}`.marker (id INT PRIMARY KEY)")
        url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + name

        # When reset-test-db runs with WALLET_ENV=<env> against it
        done = manage_py("reset-test-db", WALLET_ENV=env, DATABASE_URL=url)

        # Then it refuses with exit code 2 and leaves the database alone
        assert done.returncode == 2, done.stdout + done.stderr
        assert "WALLET_ENV=test" in done.stderr
        assert tables_of(name) == {"marker"}


def test_reset_test_db_drops_and_re_migrates_a_test_database_when_the_environment_is_test():
    with scratch_database("_test") as name:
        # Given a scratch *_test database holding a marker table
        server_sql(f"CREATE TABLE `{name}`.marker (id INT PRIMARY KEY)")
        url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + name

        # When reset-test-db runs with WALLET_ENV=test
        done = manage_py("reset-test-db", WALLET_ENV="test", DATABASE_URL=url)

        # Then the marker is gone and the migrated tables are there
        assert done.returncode == 0, done.stdout + done.stderr
        assert tables_of(name) == TABLES | {"migratehistory"}


def test_manage_check_exits_zero_when_every_service_answers():
    # Given MariaDB, Redis and RabbitMQ running (the session pre-flight checked them)
    # When the operator's check runs
    done = manage_py("check")

    # Then it exits 0 and reports each service ok
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("database", "redis", "broker"):
        assert f"{name:<9} ok" in done.stdout


def test_manage_check_exits_non_zero_and_says_how_to_start_a_service_that_is_down():
    # Given a Redis URL where nothing listens
    # When the operator's check runs
    done = manage_py("check", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")

    # Then it exits 1 and says how to start Redis
    assert done.returncode == 1, done.stdout + done.stderr
    assert "redis     DOWN" in done.stdout + done.stderr
    assert "redis-server" in done.stderr
