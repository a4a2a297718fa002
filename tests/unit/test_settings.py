"""The service refuses to run outside development without a real JWT secret."""
import os
import subprocess
import sys

from tests.helpers import ROOT


def import_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "WALLET_ENV")}
    return subprocess.run([sys.executable, "-c", "import settings"], cwd=ROOT, timeout=60,
                          env={**clean, **env}, capture_output=True, text=True)


def test_production_without_a_secret_refuses_to_start_and_says_why():
    done = import_settings(WALLET_ENV="production")
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr and "missing" in done.stderr


def test_production_with_a_short_secret_refuses_to_start():
    done = import_settings(WALLET_ENV="production", JWT_SECRET="x" * 31)
    assert done.returncode != 0 and "too short" in done.stderr


def test_production_with_a_32_byte_secret_starts_quietly():
    done = import_settings(WALLET_ENV="production", JWT_SECRET="s" * 32)
    assert done.returncode == 0 and done.stderr == ""


def test_development_without_a_secret_warns_loudly():
    done = import_settings(WALLET_ENV="development")
    assert done.returncode == 0 and "WARNING" in done.stderr and "forgeable" in done.stderr


def test_the_web_process_refuses_to_start_in_production_without_a_secret():
    clean = {k: v for k, v in os.environ.items() if k != "JWT_SECRET"}
    done = subprocess.run([sys.executable, "serve.py"], cwd=ROOT, timeout=60, capture_output=True,
                          text=True, env={**clean, "WALLET_ENV": "production", "PORT": "1"})
    assert done.returncode != 0 and "JWT_SECRET" in done.stderr


def ops_key(**env: str) -> subprocess.CompletedProcess:
    """What OPS_KEY a process gets, with OPS_TOKEN only if given here."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("JWT_SECRET", "WALLET_ENV", "OPS_TOKEN")}
    return subprocess.run([sys.executable, "-c", "import settings; print(settings.OPS_KEY)"],
                          cwd=ROOT, timeout=60, env={**clean, **env}, capture_output=True,
                          text=True)


def test_development_without_an_ops_token_warns_and_takes_a_public_one():
    done = ops_key(WALLET_ENV="development")
    assert done.returncode == 0 and done.stdout.strip() == "development-only-ops-token"
    assert "WARNING" in done.stderr and "OPS_TOKEN" in done.stderr


def test_production_without_an_ops_token_starts_with_the_ops_page_admitting_no_one():
    done = ops_key(WALLET_ENV="production", JWT_SECRET="s" * 32)
    assert done.returncode == 0 and done.stdout.strip() == "" and done.stderr == ""


def test_an_ops_token_shorter_than_twelve_characters_is_refused():
    done = ops_key(WALLET_ENV="production", JWT_SECRET="s" * 32, OPS_TOKEN="x" * 11)
    assert done.returncode != 0 and "OPS_TOKEN" in done.stderr
    done = ops_key(WALLET_ENV="production", JWT_SECRET="s" * 32, OPS_TOKEN="x" * 12)
    assert done.returncode == 0 and done.stdout.strip() == "x" * 12
