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
