"""What the server accepts, said in JSON Schema: the input schemas whose limits come from
the code that enforces them (money.py, settings, web/cursor.py, accounts/users.py), so
that a value the document calls valid is one the server takes, and the document moves
when the code does.

What no schema can say is left to the descriptions: an amount's decimals depend on the
wallet's currency, a cursor must be one the list issued, an Idempotency-Key must not have
been used with another body.
"""
from typing import Any

import settings
from money import FREE_TEXT_PATTERN, MAX_AMOUNT_CHARS, MINOR_UNITS
from payments import details
from web.cursor import MAC_BYTES

Schema = dict[str, Any]
# The most decimals any currency takes (CLF and UYW take 4).
MAX_DECIMALS = max(MINOR_UNITS.values())


def digits(low: int | str, high: int | str) -> str:
    """A regex for one digit from `low` to `high`."""
    return str(low) if str(low) == str(high) else f"[{low}-{high}]"


def repeat(atom: str, low: int, high: int) -> str:
    """`atom` repeated `low` to `high` times, spelled as simply as it can be."""
    if high == 0:
        return ""
    return atom + ("" if (low, high) == (1, 1) else
                   f"{{{low}}}" if low == high else f"{{{low},{high}}}")


def below(limit: int) -> str:
    """A regex (no anchors) for the integers 1 to `limit` - 1 written without leading zeros;
    "" when there are none."""
    text, alternatives = str(limit), []
    if len(text) > 1:  # every shorter number
        alternatives.append(digits(1, 9) + repeat("[0-9]", 0, len(text) - 2))
    for i, digit in enumerate(text):  # as long, and smaller first at digit i
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = len(text) - i - 1
            alternatives.append(text[:i] + digits(low, int(digit) - 1)
                                + repeat("[0-9]", rest, rest))
    return "|".join(alternatives)


def amount_pattern(maximum: int, decimals: int) -> str:
    """A regex for the decimal strings greater than zero and at most `maximum`, with 1 to
    `decimals` decimals or none, in plain notation (leading zeros allowed: the parser takes
    them)."""
    fraction = f"(?:\\.{repeat('[0-9]', 1, decimals)})?"
    nonzero_fraction = "|".join("0" * zeros + "[1-9]" + repeat("[0-9]", 0, decimals - zeros - 1)
                                for zeros in range(decimals))
    whole = [f"(?:{below(maximum)}){fraction}"] if below(maximum) else []
    whole.append(f"{maximum}(?:\\.{repeat('0', 1, decimals)})?")
    return f"^(?:0*(?:{'|'.join(whole)})|0+\\.(?:{nonzero_fraction}))$"


AMOUNT_IN: Schema = {
    "type": ["string", "number"],
    "pattern": amount_pattern(settings.MAX_AMOUNT, MAX_DECIMALS), "maxLength": MAX_AMOUNT_CHARS,
    "exclusiveMinimum": 0, "maximum": settings.MAX_AMOUNT, "multipleOf": 10 ** -MAX_DECIMALS,
    "description": "A decimal string in major units (\"12.50\"), or a JSON number in plain "
                   "notation (never an exponent), parsed exactly. Greater than zero, at most "
                   f"MAX_AMOUNT ({settings.MAX_AMOUNT}), and with no more decimals than the "
                   "wallet's currency has minor units (USD 2, JPY 0, KWD 3): more is 422 "
                   "`invalid_amount`."}
CURRENCY_IN: Schema = {
    "type": "string", "enum": sorted(MINOR_UNITS),
    "description": "An active ISO 4217 alphabetic code with minor units, upper case."}
# accounts/users.py refuses a password with a NUL in it.
PASSWORD: Schema = {"type": "string", "minLength": 8, "maxLength": 128,
                    "pattern": "^[^\\u0000]{8,128}$",
                    "description": "8 to 128 characters, any but NUL."}
# A cursor is the page's last id (8 bytes) and its MAC, in unpadded URL-safe base64.
CURSOR_CHARS = -(-(8 + MAC_BYTES) * 4 // 3)
PAGE_CURSOR: Schema = {"type": "string", "pattern": f"^[A-Za-z0-9_-]{{{CURSOR_CHARS}}}$",
                     "description": "The `next_cursor` of the previous page of the same "
                                    "list; any other (forged, truncated, another list's) is "
                                    "400 `invalid_cursor`."}
WAIT: Schema = {"type": "integer", "minimum": 0, "maximum": settings.MAX_WAIT_S, "default": 0}
DESCRIPTION_IN: Schema = {
    "type": ["string", "null"], "maxLength": details.MAX_DESCRIPTION_CHARS,
    "pattern": FREE_TEXT_PATTERN,
    "description": f"At most {details.MAX_DESCRIPTION_CHARS} characters, no control character "
                   "but tab, line feed and carriage return; null or omitted: none."}
METADATA_IN: Schema = {
    "type": ["object", "null"], "maxProperties": details.MAX_METADATA_KEYS,
    "propertyNames": {"pattern": f"^{details.METADATA_KEY.pattern}$"},
    "additionalProperties": {"type": "string", "maxLength": details.MAX_METADATA_VALUE_CHARS,
                             "pattern": FREE_TEXT_PATTERN},
    "description": f"At most {details.MAX_METADATA_KEYS} keys of 1-40 of [A-Za-z0-9_.-], each "
                   f"a string of at most {details.MAX_METADATA_VALUE_CHARS} characters "
                   "(no control character but tab, line feed and carriage return); "
                   "omitted, null and {} all mean none (and fingerprint alike)."}
DETAILS_IN: dict[str, Schema] = {"description": DESCRIPTION_IN, "metadata": METADATA_IN}
EXPIRES_IN: Schema = {
    "type": "integer", "minimum": settings.HOLD_MIN_EXPIRY_S,
    "maximum": settings.HOLD_MAX_EXPIRY_S, "default": settings.HOLD_DEFAULT_EXPIRY_S,
    "description": "Seconds from the request's created_at until the service releases the hold "
                   f"(default HOLD_DEFAULT_EXPIRY_S = {settings.HOLD_DEFAULT_EXPIRY_S})."}
