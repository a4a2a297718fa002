"""System accounts: per currency, "external" (money entering or leaving the service) and
"fees". They are wallet rows without an owner whose balance column is never updated: they
are hot, so their balance is the sum of their entries and nothing ever locks them.
"""
from ledger.posting import SystemAccounts
from models import Wallet

EXTERNAL, FEES = "external", "fees"
_ids: dict[tuple[str, str], int] = {}


def system_wallet_id(kind: str, currency: str) -> int:
    """The id of the system account `kind` in `currency`, created on first use."""
    key = (kind, currency)
    if key not in _ids:
        system_key = f"{kind}:{currency}"
        Wallet.insert(user=None, currency=currency, system_key=system_key) \
            .on_conflict_ignore().execute()
        _ids[key] = Wallet.get(Wallet.system_key == system_key).id
    return _ids[key]


def accounts_for(currencies: set[str] | list[str]) -> dict[str, SystemAccounts]:
    """The system accounts of each currency, as the posting rules take them."""
    return {c: SystemAccounts(system_wallet_id(EXTERNAL, c), system_wallet_id(FEES, c))
            for c in currencies}
