"""Money rules: ISO 4217 currencies, exact amount parsing and formatting, fees.

Amounts live as integer minor units everywhere inside the service; strings in major
units exist only at the edge. No float ever touches an amount.
"""
import re
from typing import TypeGuard

from iso4217 import Currency

import settings
from errors import InvalidAmount, UnsupportedCurrency

#: Active ISO 4217 alphabetic codes and their minor units, from the maintained table
#: (codes without minor units, such as metals and XXX, are not money we hold).
MINOR_UNITS: dict[str, int] = {c.code: c.exponent for c in Currency if c.exponent is not None}

# Digits, at most one point with digits on both sides: no sign, exponent or spaces.
PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
# Longer than this cannot be a valid amount; refusing early keeps int() cheap.
MAX_AMOUNT_CHARS = 40

BP_PER_UNIT = 10_000


class JsonNumber(str):
    """The literal text of a non-integer JSON number, kept so it is never a float."""


# Control characters free text may not hold: C0 but tab, line feed and carriage return, and
# DEL. A NUL cuts the text short for C readers of an export; the others rewrite a terminal
# or a log line that shows it. One character class, spelt for Python's re and for the
# OpenAPI document's JSON Schema pattern alike.
_CONTROLS = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f"
CONTROL_CHARS = re.compile(f"[{_CONTROLS}]")
#: The same rule as a JSON Schema pattern (the OpenAPI document's).
FREE_TEXT_PATTERN = f"^[^{_CONTROLS}]*$"
#: What a refusal says of text that is not free text.
NOT_FREE_TEXT = "must hold no control character (tab, line feed and carriage return are fine)"


def is_free_text(text: str) -> bool:
    """Whether a string (checked to be one: see is_text) is fit to keep as free text (a
    description, a metadata value): no control character but tab, line feed and carriage
    return."""
    return CONTROL_CHARS.search(text) is None


def is_text(value: object) -> TypeGuard[str]:
    """Whether a parsed JSON value is a string: a `JsonNumber` is text, but a number's.

    Parameters:
      value: a value of a body parsed by web.inputs.read_json.

    Returns:
      True for a JSON string only (so `1.5` never passes for `"1.5"`).
    """
    return isinstance(value, str) and not isinstance(value, JsonNumber)


def parse_currency(code: object) -> str:
    """Check a currency code.

    Parameters:
      code: what the client sent.

    Returns:
      The code, when it is an active ISO 4217 code with minor units.

    Raises:
      UnsupportedCurrency: for anything else, including lower case.
    """
    if isinstance(code, str) and code in MINOR_UNITS:
        return code
    raise UnsupportedCurrency(
        "currency must be an active ISO 4217 code such as USD, EUR or JPY.",
        errors=[{"field": "currency", "message": "unsupported currency"}],
    )


def not_an_amount(field: str = "amount") -> InvalidAmount:
    """The refusal of a value of no amount's type: a JSON null, boolean, list or object."""
    message = "amount must be a decimal string such as \"12.50\""
    return InvalidAmount(message, errors=[{"field": field, "message": message}])


def parse_amount(value: object, currency: str, *, field: str = "amount") -> int:
    """Turn a client amount into integer minor units of `currency`.

    Parameters:
      value: a decimal string in major units, a JSON integer, or a `JsonNumber`.
      currency: the ISO code whose minor units bound the decimals.

    Returns:
      The amount in minor units, > 0 and at most MAX_AMOUNT major units.

    Raises:
      InvalidAmount: for any other value (booleans, floats, signs, exponents...).
    """
    def refuse(message: str) -> InvalidAmount:
        return InvalidAmount(message, errors=[{"field": field, "message": message}])

    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise not_an_amount(field)
    if isinstance(value, int) and abs(value) >= 10**MAX_AMOUNT_CHARS:
        # Too long to be an amount, and str() raises ValueError past 4300 digits.
        raise refuse("amount must be plain decimal digits with at most one point")
    text = str(value) if isinstance(value, int) else value
    if len(text) > MAX_AMOUNT_CHARS or not PLAIN_DECIMAL.fullmatch(text):
        raise refuse("amount must be plain decimal digits with at most one point")
    whole, _, frac = text.partition(".")
    exponent = MINOR_UNITS[currency]
    if len(frac) > exponent:
        raise refuse(f"{currency} allows at most {exponent} decimal places")
    minor = int(whole) * 10**exponent + int(frac.ljust(exponent, "0") or "0")
    if minor <= 0:
        raise refuse("amount must be greater than zero")
    if minor > settings.MAX_AMOUNT * 10**exponent:
        raise refuse(f"amount must be at most {settings.MAX_AMOUNT}")
    return minor


def format_amount(minor: int, currency: str) -> str:
    """Render minor units as a major-unit string with exactly the currency's decimals."""
    exponent = MINOR_UNITS[currency]
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}" if exponent else f"{sign}{whole}"


def canonical_amount(value: object) -> object:
    """Normalise an amount for idempotency fingerprints: "10.0", "10" and 10 are one amount."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return value
    text = str(value)
    if not PLAIN_DECIMAL.fullmatch(text) or len(text) > MAX_AMOUNT_CHARS:
        return value
    whole, _, frac = text.partition(".")
    return f"{int(whole)}.{frac.rstrip('0')}".rstrip(".")


def fee_for(amount: int, fee_bp: int) -> int:
    """The fee on `amount` minor units at `fee_bp` basis points, rounded half up."""
    return (amount * fee_bp + BP_PER_UNIT // 2) // BP_PER_UNIT
