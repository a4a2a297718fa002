"""TLS to the database: off on loopback, and when asked for, really encrypted or refused.

The machine's MariaDB has TLS off; the tests that need a server with TLS start one of their
own (its own datadir, port and certificates, signed by a CA made for the test).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pymysql
import pytest

from models import database_params, db
from tests.helpers import ROOT, free_port, install_mariadb, mariadbd_argv, process_env

# What a child process prints of its first connection: the cipher, or the error it got.
PROBE = ("from models import db\n"
         "try:\n"
         "    print(db.execute_sql(\"SHOW SESSION STATUS LIKE 'Ssl_cipher'\").fetchone()[1]"
         " or 'plaintext')\n"
         "except Exception as exc:\n"
         "    print('refused', exc)\n")


def probe(database_url: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, timeout=60,
                          capture_output=True, text=True,
                          env=process_env(DATABASE_URL=database_url, **env))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def openssl(*args: str, cwd: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def certificates(folder: str) -> None:
    """ca.pem, and server.pem/server-key.pem for 127.0.0.1 signed by it; other-ca.pem
    signed nothing of ours."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-subj", f"/CN=wallet test {ca}", "-keyout", f"{ca}-key.pem",
                "-out", f"{ca}.pem", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server-key.pem", "-out", "server.csr", cwd=folder)
    with open(os.path.join(folder, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", "server.pem",
            cwd=folder)


@pytest.fixture(scope="module")
def tls_server():
    """A MariaDB of the test's own with TLS on: (its URL, the folder of its certificates)."""
    folder = tempfile.mkdtemp(prefix="wallet-tls-")
    datadir, port = os.path.join(folder, "data"), free_port()
    certificates(folder)
    install_mariadb(datadir)
    proc = subprocess.Popen(
        [*mariadbd_argv(datadir, port), "--innodb-buffer-pool-size=16M",
         f"--ssl-ca={folder}/ca.pem",
         f"--ssl-cert={folder}/server.pem", f"--ssl-key={folder}/server-key.pem"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=port, user="root", ssl_disabled=True,
                                connect_timeout=2).close()
                break
            except pymysql.err.OperationalError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    open(f"{datadir}/err.log").read()[-3000:]
                time.sleep(0.2)
        yield f"mysql://root@127.0.0.1:{port}/mysql", folder
    finally:
        proc.kill()
        proc.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def test_on_loopback_the_service_asks_for_no_tls_at_all():
    # pymysql's own default would "prefer" TLS, loading the system's CA store per connection
    assert database_params("mysql://root@127.0.0.1:3306/x")[1]["ssl_disabled"] is True
    assert db.execute_sql("SHOW SESSION STATUS LIKE 'Ssl_cipher'").fetchone()[1] == ""


def test_required_tls_refuses_a_server_without_it_rather_than_fall_back_to_plaintext():
    assert probe(os.environ["DATABASE_URL"], DATABASE_TLS="required").startswith(
        "refused (2026")


def test_required_tls_encrypts_the_connection_to_a_server_with_tls(tls_server):
    url, _ = tls_server
    assert probe(url) == "plaintext"  # loopback: off by default
    assert probe(url, DATABASE_TLS="required").startswith("TLS_")


def test_verify_connects_only_to_a_server_whose_certificate_the_given_ca_signed(tls_server):
    url, folder = tls_server
    assert probe(url, DATABASE_TLS="verify",
                 DATABASE_TLS_CA=f"{folder}/ca.pem").startswith("TLS_")
    refused = probe(url, DATABASE_TLS="verify", DATABASE_TLS_CA=f"{folder}/other-ca.pem")
    assert refused.startswith("refused") and "CERTIFICATE_VERIFY_FAILED" in refused
