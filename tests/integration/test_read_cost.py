"""The settlement's and the expiry's reads find their wallets by primary key, so what they
touch does not grow with the wallets table.

Joined on `w.id = r.wallet_id OR w.id = r.to_wallet_id`, MariaDB read every wallet for
every request of a batch ("Range checked for each record" that fell back to a scan): 575 ms
a batch at 100,000 wallets, and `make bench`'s settlement at 10,000 wallets stuck near
150/s. Counted with MariaDB's own handler counters: rows read by a scan
(`Handler_read_rnd_next`) and by an index (`Handler_read_key`, `Handler_read_next`).
"""
import pytest

from models import Wallet, db, utcnow
from payments import holds, requests
from tests.integration.factories import (
    accept,
    accept_transfer,
    funded,
    new_user,
    new_wallet,
    place_hold,
    session_count,
)

CLOSED_WALLETS = 3000


def rows_read(call) -> int:
    """The rows this connection's statements read while `call` ran, scans and lookups."""
    return session_count("Handler_read%", call)


@pytest.fixture(scope="module")
def crowded():
    """A wallets table with CLOSED_WALLETS more rows: one user's closed wallets (closed, so
    the one-live-wallet-per-currency rule lets them be), removed afterwards."""
    owner = new_user()
    now = utcnow()
    db.execute_sql(
        "INSERT INTO wallets (user_id, currency, created_at, updated_at, deleted_at) "
        f"SELECT %s, 'USD', %s, %s, %s FROM seq_1_to_{CLOSED_WALLETS}", (owner.id, now, now, now))
    yield
    Wallet.delete().where(Wallet.user == owner.id).execute()


def test_a_batchs_settlement_read_touches_its_own_rows_not_the_wallets_table(crowded):
    # Given a batch of transfers and deposits among a few wallets of a crowded table
    a, b = funded("50.00"), funded("50.00")
    batch = [accept_transfer(a, b, "1.00").id, accept_transfer(b, a, "2.00").id,
             accept(new_wallet(), "deposit", "3.00").id]
    # When the settlement reads them
    found: list = []
    read = rows_read(lambda: found.append(requests.for_settlement(batch)))
    # Then it found every request and wallet, reading a few rows per request, not thousands
    assert {f.id for f in found[0].facts} == set(batch)
    assert len(found[0].wallets) == 3
    assert read < 50, read


def test_the_expirys_read_touches_its_holds_and_wallets_not_the_wallets_table(crowded):
    # Given holds, one of them for another wallet
    payer, payee = funded("50.00"), funded("50.00")
    ids = [place_hold(payer, "1.00").hold_id, place_hold(payer, "2.00", to=payee).hold_id]
    # When the expiry reads them
    found: list = []
    read = rows_read(lambda: found.append(holds.for_expiry(ids)))
    # Then it found both holds and both wallets, reading a handful of rows
    rows, wallets = found[0]
    assert {row[0] for row in rows} == set(ids) and len(wallets) == 2
    assert read < 50, read
