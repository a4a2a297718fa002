"""Secrets fail closed: no key that appears in the repository signs a token or opens /ops.

Each test imports `settings.py` in a child process from a scratch folder that holds a copy
of it and, where the test says so, a `.env` of its own, so the checkout's `.env` (with its
generated secrets) never fills in what the test leaves out.
"""
import base64
import hashlib
import os
import stat
import subprocess
import sys

import pytest

import manage
from tests.helpers import ROOT

# What the test run's environment sets that these tests set for themselves or leave out.
CLEARED = ("JWT_SECRET", "WALLET_ENV", "OPS_TOKEN", "PASSWORD_HASH_PROFILE")
GOOD_SECRET = "k" * 40


@pytest.fixture
def scratch(tmp_path):
    """A folder with a copy of settings.py and no .env."""
    with open(os.path.join(ROOT, "settings.py")) as src:
        (tmp_path / "settings.py").write_text(src.read())
    return tmp_path


def run_settings(folder, code: str = "import settings", **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in CLEARED}
    return subprocess.run([sys.executable, "-c", code], cwd=folder, timeout=60,
                          env={**clean, **env}, capture_output=True, text=True)


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_without_a_secret_no_environment_starts_and_it_says_how_to_get_one(scratch, env):
    done = run_settings(scratch, WALLET_ENV=env)
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr and "missing" in done.stderr
    assert "manage.py secrets" in done.stderr


def test_a_short_secret_is_refused(scratch):
    done = run_settings(scratch, WALLET_ENV="production", JWT_SECRET="x" * 31)
    assert done.returncode != 0 and "too short" in done.stderr


@pytest.mark.parametrize("published", [
    "development-only-secret-never-use-in-production!!",
    "test-only-secret-0123456789abcdef0123456789",
    "bench-only-secret-not-for-use-0123456789",
])
def test_a_secret_that_once_stood_in_the_repository_is_refused(scratch, published):
    done = run_settings(scratch, WALLET_ENV="development", JWT_SECRET=published)
    assert done.returncode != 0 and "published" in done.stderr
    assert published not in done.stderr


def test_a_32_byte_secret_starts_quietly(scratch):
    done = run_settings(scratch, WALLET_ENV="production", JWT_SECRET="s" * 32)
    assert done.returncode == 0 and done.stderr == ""


def test_an_unset_ops_token_opens_the_ops_page_to_no_one_in_development_too(scratch):
    done = run_settings(scratch, "import settings; print(repr(settings.OPS_KEY))",
                        WALLET_ENV="development", JWT_SECRET=GOOD_SECRET)
    assert done.returncode == 0 and done.stdout.strip() == "''"


@pytest.mark.parametrize("token", ["x" * 11, "development-only-ops-token", "test-ops-token"])
def test_a_short_or_published_ops_token_is_refused(scratch, token):
    done = run_settings(scratch, WALLET_ENV="production", JWT_SECRET=GOOD_SECRET, OPS_TOKEN=token)
    assert done.returncode != 0 and "OPS_TOKEN" in done.stderr


def test_the_dotenv_beside_settings_fills_in_what_the_environment_leaves_unset(scratch):
    (scratch / ".env").write_text(f"JWT_SECRET={'d' * 40}\nOPS_TOKEN={'o' * 20}\n")
    done = run_settings(scratch, "import settings; print(settings.JWT_KEY, settings.OPS_KEY)",
                        WALLET_ENV="development")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["d" * 40, "o" * 20]


def test_an_explicitly_configured_secret_wins_over_the_dotenv(scratch):
    (scratch / ".env").write_text(f"JWT_SECRET={'d' * 40}\n")
    done = run_settings(scratch, "import settings; print(settings.JWT_KEY)",
                        WALLET_ENV="production", JWT_SECRET="e" * 40)
    assert done.returncode == 0 and done.stdout.strip() == "e" * 40


def test_the_web_process_refuses_to_start_without_a_secret(scratch):
    # api.py imports the checkout's settings, so its .env is hidden by an explicit empty value
    clean = {k: v for k, v in os.environ.items() if k not in CLEARED}
    done = subprocess.run([sys.executable, "api.py"], cwd=ROOT, timeout=60, capture_output=True,
                          text=True, env={**clean, "JWT_SECRET": "", "PORT": "1"})
    assert done.returncode != 0 and "JWT_SECRET" in done.stderr


# -- manage.py secrets --------------------------------------------------------------------
def test_generating_secrets_writes_random_ones_into_a_private_dotenv_once(tmp_path):
    # Given no .env
    path = str(tmp_path / ".env")
    # When secrets are generated twice
    first = manage.generate_secrets(path)
    content = open(path).read()
    second = manage.generate_secrets(path)
    # Then the first run wrote all three, the second nothing, and the file is the owner's alone
    assert first == ["JWT_SECRET", "OPS_TOKEN", "WEBHOOK_SECRET_KEYS"] and second == []
    assert open(path).read() == content
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    values = dict(line.split("=", 1) for line in content.splitlines())
    assert len(values["JWT_SECRET"]) >= 48 and len(values["OPS_TOKEN"]) >= 32
    assert len(base64.urlsafe_b64decode(values["WEBHOOK_SECRET_KEYS"])) == 32


def test_two_checkouts_get_different_secrets(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    manage.generate_secrets(str(tmp_path / "a" / ".env"))
    manage.generate_secrets(str(tmp_path / "b" / ".env"))
    assert (tmp_path / "a" / ".env").read_text() != (tmp_path / "b" / ".env").read_text()


def test_generating_keeps_what_the_dotenv_has_and_adds_only_what_it_lacks(tmp_path):
    # Given a .env with the developer's own settings and a JWT secret, without a final newline
    path = tmp_path / ".env"
    path.write_text("LOG_LEVEL=DEBUG\nJWT_SECRET=" + "m" * 40)
    # When secrets are generated
    written = manage.generate_secrets(str(path))
    # Then only the ops token and the sealing key are added, each on a line of its own
    lines = path.read_text().splitlines()
    assert written == ["OPS_TOKEN", "WEBHOOK_SECRET_KEYS"]
    assert lines[:2] == ["LOG_LEVEL=DEBUG", "JWT_SECRET=" + "m" * 40]
    assert lines[2].startswith("OPS_TOKEN=") and lines[3].startswith("WEBHOOK_SECRET_KEYS=")
    assert len(lines) == 4


def test_sentinels_are_host_port_pairs_and_anything_else_is_refused(scratch):
    code = "import settings; print(settings.REDIS_SENTINEL_NODES)"
    done = run_settings(scratch, code, JWT_SECRET=GOOD_SECRET,
                        REDIS_SENTINELS="10.0.0.1:26379, sentinel-2:26380,[::1]:26381")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == \
        "(('10.0.0.1', 26379), ('sentinel-2', 26380), ('::1', 26381))"
    refused = run_settings(scratch, JWT_SECRET=GOOD_SECRET, REDIS_SENTINELS="10.0.0.1")
    assert refused.returncode != 0 and "REDIS_SENTINELS" in refused.stderr


@pytest.mark.parametrize("variables", ["wsrep_sync_wait=1; DROP TABLE users",
                                       "wsrep_sync_wait", "Bad-Name=1", "x='1'"])
def test_session_variables_are_plain_name_value_pairs(scratch, variables):
    done = run_settings(scratch, JWT_SECRET=GOOD_SECRET, DB_SESSION_VARIABLES=variables)
    assert done.returncode != 0 and "DB_SESSION_VARIABLES" in done.stderr


def test_session_variables_are_set_on_every_connection_after_read_committed(scratch):
    code = "import settings; print(settings.DB_SESSION)"
    done = run_settings(scratch, code, JWT_SECRET=GOOD_SECRET,
                        DB_SESSION_VARIABLES="wsrep_sync_wait=1, innodb_lock_wait_timeout=5")
    assert done.stdout.strip() == "{'wsrep_sync_wait': '1', 'innodb_lock_wait_timeout': '5'}"


@pytest.mark.parametrize(("host", "mode"), [("127.0.0.1", "off"), ("127.0.0.2", "off"),
                                            ("::1", "off"), ("localhost", "off"),
                                            ("10.0.0.5", "required"), ("db.internal", "required"),
                                            ("localhost.example", "required")])
def test_database_tls_is_off_only_on_loopback_unless_configured(scratch, host, mode):
    code = f"import settings; print(settings.database_tls({host!r}))"
    done = run_settings(scratch, code, JWT_SECRET=GOOD_SECRET)
    assert (done.returncode, done.stdout.strip()) == (0, mode), done.stderr


@pytest.mark.parametrize(("env", "refused"), [
    ({"DATABASE_TLS": "preferred"}, "off, required or verify"),
    ({"DATABASE_TLS": "verify"}, "DATABASE_TLS_CA"),
    ({"DATABASE_URL": "mysql://wallet@db.internal/wallet", "DATABASE_TLS": "on"}, "DATABASE_TLS")])
def test_a_database_tls_mode_that_is_not_one_of_ours_stops_the_process(scratch, env, refused):
    done = run_settings(scratch, JWT_SECRET=GOOD_SECRET, **env)
    assert done.returncode != 0 and refused in done.stderr


def test_a_configured_database_tls_mode_wins_over_the_hosts_default(scratch):
    code = "import settings; print(settings.database_tls('127.0.0.1'))"
    done = run_settings(scratch, code, JWT_SECRET=GOOD_SECRET, DATABASE_TLS="verify",
                        DATABASE_TLS_CA="/etc/ssl/certs/ca-certificates.crt")
    assert (done.returncode, done.stdout.strip()) == (0, "verify"), done.stderr


@pytest.mark.parametrize("keys", ["", " , ", "short", "!" * 44,
                                  base64.urlsafe_b64encode(b"k" * 31).decode()])
def test_without_a_well_formed_webhook_sealing_key_nothing_starts(scratch, keys):
    done = run_settings(scratch, JWT_SECRET=GOOD_SECRET, WEBHOOK_SECRET_KEYS=keys)
    assert done.returncode != 0 and "WEBHOOK_SECRET_KEYS" in done.stderr


def test_a_webhook_sealing_key_that_stood_in_the_repository_is_refused(scratch):
    # Given a well-formed key whose digest is among the published ones
    published = base64.urlsafe_b64encode(b"p" * 32).decode()
    digest = hashlib.sha256(published.encode()).hexdigest()
    opening = "PUBLISHED_SECRET_DIGESTS = frozenset({"
    text = (scratch / "settings.py").read_text().replace(opening, f"{opening}\n    {digest!r},")
    (scratch / "settings.py").write_text(text)
    fresh = base64.urlsafe_b64encode(b"f" * 32).decode()
    # Then it is refused, also as the second (opening-only) key, while a fresh one starts
    for keys in (published, f"{fresh},{published}"):
        done = run_settings(scratch, JWT_SECRET=GOOD_SECRET, WEBHOOK_SECRET_KEYS=keys)
        assert done.returncode != 0 and "WEBHOOK_SECRET_KEYS" in done.stderr
    code = "import settings; print(len(settings.WEBHOOK_SEALING_KEYS))"
    done = run_settings(scratch, code, JWT_SECRET=GOOD_SECRET, WEBHOOK_SECRET_KEYS=fresh)
    assert (done.returncode, done.stdout.strip()) == (0, "1"), done.stderr


@pytest.mark.parametrize("env", ["development", "production"])
def test_the_cheap_password_hash_of_the_tests_stops_any_other_environment(scratch, env):
    done = run_settings(scratch, JWT_SECRET=GOOD_SECRET, WALLET_ENV=env,
                        PASSWORD_HASH_PROFILE="cheapest")
    assert done.returncode != 0 and "PASSWORD_HASH_PROFILE" in done.stderr


@pytest.mark.parametrize(("env", "profile", "starts"), [
    ("production", "", True), ("production", "rfc9106-low-memory", True),
    ("test", "cheapest", True), ("test", "rfc9106-high-memory", False),
    ("test", "CHEAPEST", False)])
def test_a_password_hash_profile_is_one_of_ours(scratch, env, profile, starts):
    code = "import settings; print(settings.PASSWORD_HASH_PROFILE)"
    done = run_settings(scratch, code, JWT_SECRET=GOOD_SECRET, WALLET_ENV=env,
                        PASSWORD_HASH_PROFILE=profile)
    assert (done.returncode == 0) is starts, done.stderr
    if starts:
        assert done.stdout.strip() == (profile or "rfc9106-low-memory")


@pytest.mark.parametrize(("pool", "threads", "starts"), [
    ("", "", True), ("32", "32", True), ("48", "16", True), ("24", "", False),
    ("16", "17", False)])
def test_the_database_pool_has_a_connection_for_every_web_thread(scratch, pool, threads,
                                                                  starts):
    code = "import settings; print(settings.DB_POOL_SIZE, settings.WEB_THREADS)"
    env = {name: value for name, value in (("DB_POOL_SIZE", pool), ("WEB_THREADS", threads))
           if value}
    done = run_settings(scratch, code, JWT_SECRET=GOOD_SECRET, **env)
    assert (done.returncode == 0) is starts, done.stderr
    if not starts:
        assert "DB_POOL_SIZE" in done.stderr and "WEB_THREADS" in done.stderr
