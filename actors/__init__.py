"""Dramatiq actors, one module (and queue) per operation type.

`dramatiq actors` imports this package: the broker is set first, then every actor.
"""
from actors import broker  # noqa: F401  (sets the global broker before any actor exists)
from actors.deposits import settle_deposit
from actors.maintenance import fail_exhausted_request
from actors.transfers import settle_transfer
from actors.withdrawals import settle_withdrawal

SETTLERS = {"deposit": settle_deposit, "withdrawal": settle_withdrawal,
            "transfer": settle_transfer}

__all__ = ["SETTLERS", "fail_exhausted_request", "settle_deposit", "settle_transfer",
           "settle_withdrawal"]
