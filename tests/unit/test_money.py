"""Money rules: exact parsing and formatting of amounts, fees, ISO 4217 currencies."""
from decimal import Decimal

import iso4217
import pytest
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import money
import settings
from errors import InvalidAmount, UnsupportedCurrency, ValidationError
from money import JsonNumber, canonical_amount, fee_for, format_amount, parse_amount, parse_currency
from payments.details import parse_details
from webhooks.endpoints import description_of

CURRENCIES = sorted(money.MINOR_UNITS)


@st.composite
def currency_and_minor(draw) -> tuple[str, int]:
    """Any supported currency and any valid amount of it, in minor units."""
    currency = draw(st.sampled_from(CURRENCIES))
    top = settings.MAX_AMOUNT * 10**money.MINOR_UNITS[currency]
    # Bias towards the edges (1 minor unit, MAX_AMOUNT) where off-by-ones live.
    minor = draw(st.one_of(st.integers(1, top), st.sampled_from([1, 9, 10, top - 1, top])))
    return currency, minor


# -- parsing ----------------------------------------------------------------------------
@pytest.mark.parametrize("value, currency, minor", [
    ("12.50", "USD", 1250),
    ("12.5", "USD", 1250),
    ("12", "USD", 1200),
    ("0.01", "USD", 1),
    (12, "USD", 1200),
    (JsonNumber("12.5"), "USD", 1250),
    ("5", "JPY", 5),
    (5, "JPY", 5),
    ("1.234", "KWD", 1234),
    ("0.001", "KWD", 1),
    ("007.10", "EUR", 710),
])
def test_a_plain_decimal_is_parsed_into_exact_minor_units(value, currency, minor):
    # Given an amount in major units / When it is parsed / Then it is the exact minor units
    assert parse_amount(value, currency) == minor


def test_exactly_max_amount_is_accepted():
    # Given the largest amount the settings allow, in each shape a client may send it
    top = str(settings.MAX_AMOUNT)
    # When / Then it parses to exactly MAX_AMOUNT major units
    assert parse_amount(top, "USD") == settings.MAX_AMOUNT * 100
    assert parse_amount(top + ".00", "USD") == settings.MAX_AMOUNT * 100
    assert parse_amount(settings.MAX_AMOUNT, "JPY") == settings.MAX_AMOUNT
    assert parse_amount(top + ".000", "KWD") == settings.MAX_AMOUNT * 1000


@pytest.mark.parametrize("value, currency", [
    (True, "USD"),
    (False, "USD"),
    (JsonNumber("1e3"), "USD"),
    (JsonNumber("1E3"), "USD"),
    (JsonNumber("1.5e2"), "USD"),
    ("1e3", "USD"),
    ("-0", "USD"),
    ("-5", "USD"),
    (-5, "USD"),
    ("0", "USD"),
    (0, "USD"),
    ("0.00", "USD"),
    ("0.001", "USD"),
    ("5.0", "JPY"),
    ("1.2345", "KWD"),
    ("NaN", "USD"),
    ("nan", "USD"),
    ("Infinity", "USD"),
    ("-Infinity", "USD"),
    ("+5", "USD"),
    (" 5", "USD"),
    ("5 ", "USD"),
    ("5\n", "USD"),
    ("\uff15", "USD"),           # fullwidth 5
    ("\uff11\uff10", "USD"),     # fullwidth 10
    ("\u0665", "USD"),           # Arabic-Indic 5
    ("\u0967\u0966", "USD"),     # Devanagari 10
    ("1,000", "USD"),
    ("1_000", "USD"),
    ("1 000", "USD"),
    ("1.", "USD"),
    (".5", "USD"),
    ("1.2.3", "USD"),
    ("0x10", "USD"),
    ("", "USD"),
    (str(settings.MAX_AMOUNT + 1), "USD"),
    (f"{settings.MAX_AMOUNT}.01", "USD"),
    (settings.MAX_AMOUNT + 1, "JPY"),
    (f"{settings.MAX_AMOUNT}.001", "KWD"),
    ("1" * 1_000_000, "USD"),
    (1.5, "USD"),
    (10.0, "USD"),
    (None, "USD"),
    ([], "USD"),
    (["1.00"], "USD"),
    ({}, "USD"),
    ({"amount": "1.00"}, "USD"),
    (b"1.00", "USD"),
    (Decimal("1.00"), "USD"),
])
def test_anything_but_a_positive_plain_decimal_within_bounds_is_an_invalid_amount(value, currency):
    # Given a value that is not an acceptable amount / When it is parsed / Then it is refused
    with pytest.raises(InvalidAmount) as raised:
        parse_amount(value, currency)
    # And the refusal names the field, as the 422 body will
    assert raised.value.errors and raised.value.errors[0]["field"] == "amount"


@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_refused_as_not_a_decimal_string_never_read_as_1_or_0(flag):
    # Given a JSON true or false (Python's bool is an int) / When it is parsed
    with pytest.raises(InvalidAmount) as raised:
        parse_amount(flag, "USD")
    # Then it is refused for its type, as null or a float is, not for its digits
    with pytest.raises(InvalidAmount) as like_null:
        parse_amount(None, "USD")
    assert raised.value.errors == like_null.value.errors


def test_an_integer_of_thousands_of_digits_is_an_invalid_amount_not_a_crash():
    # Given an integer far beyond any amount (and beyond Python's int-to-str digit limit)
    huge = 10**5000
    # When it is parsed / Then it is refused like any other amount too large
    with pytest.raises(InvalidAmount):
        parse_amount(huge, "USD")


def test_the_refusal_names_the_field_it_was_asked_about():
    # Given a bad amount parsed for a field with another name
    with pytest.raises(InvalidAmount) as raised:
        parse_amount("abc", "USD", field="price")
    # Then the field error carries that name
    assert raised.value.errors == [{"field": "price", "message": raised.value.errors[0]["message"]}]


def test_an_invalid_amount_is_a_validation_error():
    # The problem table maps it on its own, but callers catching validation errors see it too
    assert issubclass(InvalidAmount, ValidationError)


# -- formatting -------------------------------------------------------------------------
@pytest.mark.parametrize("minor, currency, text", [
    (1250, "USD", "12.50"),
    (1, "USD", "0.01"),
    (0, "USD", "0.00"),
    (-50, "USD", "-0.50"),
    (-12345, "USD", "-123.45"),
    (5, "JPY", "5"),
    (0, "JPY", "0"),
    (-7, "JPY", "-7"),
    (1234, "KWD", "1.234"),
    (1, "KWD", "0.001"),
    (100_000_000_000, "USD", "1000000000.00"),
])
def test_minor_units_are_formatted_with_exactly_the_currency_decimals(minor, currency, text):
    assert format_amount(minor, currency) == text


@hypothesis_settings(max_examples=300)
@given(currency_and_minor())
def test_any_formatted_amount_parses_back_to_the_same_minor_units(pair):
    # Given any valid amount of any supported currency
    currency, minor = pair
    # When it is formatted and parsed back / Then nothing is lost
    assert parse_amount(format_amount(minor, currency), currency) == minor


@hypothesis_settings(max_examples=300)
@given(currency_and_minor())
def test_a_formatted_amount_is_plain_notation_with_exactly_the_currency_decimals(pair):
    # Given any valid amount of any supported currency
    currency, minor = pair
    exponent = money.MINOR_UNITS[currency]
    # When it is formatted
    text = format_amount(minor, currency)
    # Then it has no exponent, sign or separator, and exactly `exponent` decimals
    assert "e" not in text and "E" not in text
    assert money.PLAIN_DECIMAL.fullmatch(text)
    whole, point, frac = text.partition(".")
    assert len(frac) == exponent and bool(point) == bool(exponent)
    assert not (len(whole) > 1 and whole.startswith("0"))


@hypothesis_settings(max_examples=300)
@given(currency_and_minor())
def test_a_json_number_is_parsed_like_the_same_string(pair):
    # Given any valid amount, as the literal of a non-integer JSON number
    currency, minor = pair
    text = format_amount(minor, currency)
    # When it is parsed as a JsonNumber (or an int, for whole amounts)
    # Then it is exactly the minor units the string gives
    assert parse_amount(JsonNumber(text), currency) == minor
    if money.MINOR_UNITS[currency] == 0:
        assert parse_amount(int(text), currency) == minor


@given(st.sampled_from(CURRENCIES), st.integers(0, 10**9), st.text("0123456789", max_size=4))
def test_parsing_agrees_with_exact_decimal_arithmetic(currency, whole, frac):
    # Given a plain decimal with no more decimals than the currency allows
    exponent = money.MINOR_UNITS[currency]
    frac = frac[:exponent]
    text = f"{whole}.{frac}" if frac else str(whole)
    expected = Decimal(text) * 10**exponent
    assume(0 < expected <= settings.MAX_AMOUNT * 10**exponent)
    # When it is parsed / Then it is exactly what decimal arithmetic says
    assert parse_amount(text, currency) == int(expected)


def test_no_float_is_involved_in_parsing_or_formatting(monkeypatch):
    # Given a money module in which calling float() would blow up
    def no_floats(*args):
        raise AssertionError("money must never use float()")
    monkeypatch.setattr(money, "float", no_floats, raising=False)
    # When amounts are parsed, formatted, charged and canonicalised
    assert parse_amount("0.10", "USD") + parse_amount("0.20", "USD") == parse_amount("0.30", "USD")
    assert parse_amount(JsonNumber("0.29"), "USD") == 29
    assert format_amount(29, "USD") == "0.29"
    assert fee_for(29, 50) == 0
    assert canonical_amount(JsonNumber("0.290")) == "0.29"
    # Then no float() was called (the monkeypatched one would have raised)


@pytest.mark.parametrize("text, currency, minor", [
    ("0.29", "USD", 29),        # 0.29 * 100 == 28.999999999999996 in floats
    ("4.35", "USD", 435),       # 4.35 * 100 == 434.99999999999994
    ("0.57", "USD", 57),
    ("1.005", "KWD", 1005),     # 1.005 * 1000 == 1004.9999999999999
])
def test_amounts_whose_float_value_is_inexact_are_parsed_exactly(text, currency, minor):
    # Given an amount that the float way (float, scale, truncate) gets wrong
    assert int(float(text) * 10**money.MINOR_UNITS[currency]) != minor
    # When it is parsed, as a string and as a JSON number literal
    # Then it is exactly right
    assert parse_amount(text, currency) == minor
    assert parse_amount(JsonNumber(text), currency) == minor


@pytest.mark.parametrize("text, currency, minor", [
    ("999999999.99", "USD", 99_999_999_999),
    ("999999999.999", "KWD", 999_999_999_999),
    ("999999999.9999", "CLF", 9_999_999_999_999),
    ("1000000000.0000", "CLF", 10_000_000_000_000),
    ("999999999", "JPY", 999_999_999),
])
def test_amounts_near_max_amount_are_parsed_to_the_last_minor_unit(text, currency, minor):
    assert parse_amount(text, currency) == minor
    assert parse_amount(JsonNumber(text), currency) == minor
    assert format_amount(minor, currency) == text


def test_point_one_plus_point_two_is_exactly_point_three_in_minor_units():
    # Given 0.10 and 0.20 (whose float sum is 0.30000000000000004)
    assert 0.1 + 0.2 != 0.3
    # When both are parsed / Then their sum formats as exactly 0.30
    total = parse_amount("0.10", "USD") + parse_amount("0.20", "USD")
    assert total == 30 and format_amount(total, "USD") == "0.30"


# -- canonical amounts (idempotency fingerprints) ---------------------------------------
@pytest.mark.parametrize("values", [
    ["10", "10.0", "10.00", 10, JsonNumber("10.0"), "010"],
    ["10.5", "10.50", JsonNumber("10.500")],
    ["0.01", "0.010", JsonNumber("0.01")],
])
def test_one_amount_written_several_ways_has_one_canonical_form(values):
    assert len({canonical_amount(v) for v in values}) == 1


def test_different_amounts_keep_different_canonical_forms():
    assert len({canonical_amount(v) for v in ["10", "10.5", "10.05", "1.05", "105"]}) == 5


@pytest.mark.parametrize("value", [True, None, 1.5, "abc", "1e3", "-1", ["1"], {"a": 1}])
def test_a_value_that_is_not_a_plain_amount_is_left_as_it_is(value):
    # So that two different bad bodies never share a fingerprint
    assert canonical_amount(value) == value


# -- fees -------------------------------------------------------------------------------
@pytest.mark.parametrize("amount, fee_bp, fee", [
    (100, 50, 1),        # 0.5 rounds up
    (99, 50, 0),         # 0.495 rounds down
    (101, 50, 1),        # 0.505
    (300, 50, 2),        # 1.5 rounds up
    (10_000, 50, 50),
    (19_999, 50, 100),   # 99.995 rounds up
    (1, 50, 0),
    (12345, 0, 0),
    (12345, 10_000, 12345),
    (settings.MAX_AMOUNT * 10_000, 50, settings.MAX_AMOUNT * 50),
])
def test_the_fee_is_computed_in_minor_units_rounded_half_up(amount, fee_bp, fee):
    assert fee_for(amount, fee_bp) == fee


@given(st.integers(1, settings.MAX_AMOUNT * 10**4), st.integers(0, 10_000))
def test_the_fee_is_the_exact_share_rounded_half_up_and_never_exceeds_the_amount(amount, fee_bp):
    # Given any amount and any rate from 0 to 100 %
    exact = Decimal(amount) * fee_bp / 10_000
    # When the fee is computed / Then it is the exact share rounded half up, within the amount
    fee = fee_for(amount, fee_bp)
    assert fee - Decimal("0.5") <= exact < fee + Decimal("0.5")
    assert 0 <= fee <= amount


# -- currencies -------------------------------------------------------------------------
@pytest.mark.parametrize("code, exponent", [
    ("USD", 2), ("EUR", 2), ("GBP", 2), ("CHF", 2), ("NGN", 2), ("JPY", 0), ("KWD", 3),
])
def test_active_iso_currencies_are_supported_with_their_minor_units(code, exponent):
    assert parse_currency(code) == code
    assert money.MINOR_UNITS[code] == exponent


@pytest.mark.parametrize("code", [
    "usd", "Usd", "XXX", "XAU", "XDR", "ABC", "US", "USDD", " USD", "", None, 840, ["USD"], True,
])
def test_anything_but_an_active_iso_code_is_an_unsupported_currency(code):
    with pytest.raises(UnsupportedCurrency) as raised:
        parse_currency(code)
    assert raised.value.errors[0]["field"] == "currency"


def test_minor_units_come_from_the_iso4217_package_not_a_hand_written_table():
    # Given the maintained ISO 4217 data package
    table = {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}
    # Then the service supports exactly its codes that have minor units, with its exponents
    assert money.MINOR_UNITS == table
    assert len(money.MINOR_UNITS) > 150
    assert iso4217.Currency("KWD").exponent == money.MINOR_UNITS["KWD"] == 3


# -- free text ---------------------------------------------------------------------------
CONTROLS = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)]


@pytest.mark.parametrize("char", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_free_text_refuses_every_control_character_but_tab_and_line_ends(char):
    assert not money.is_free_text(f"order{char}17")
    assert not money.is_free_text(char)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters=CONTROLS)))
def test_free_text_takes_any_other_text_and_the_schema_pattern_agrees(text):
    import re
    pattern = re.compile(money.FREE_TEXT_PATTERN)
    assert money.is_free_text(text)
    assert pattern.match(text)
    assert not pattern.match(text + CONTROLS[len(text) % len(CONTROLS)])


@pytest.mark.parametrize("text", ["line one\nline two", "a\tb", "crlf\r\n", "é€😀", ""])
def test_free_text_keeps_tabs_line_ends_and_any_script(text):
    assert money.is_free_text(text)


@pytest.mark.parametrize("value", [17, JsonNumber("1.5"), b"bytes", ["a"]])
def test_free_text_that_is_no_string_is_refused_as_such_before_its_characters(value):
    # is_free_text reads strings only: every caller asks is_text first, with its own answer
    for refuse in (lambda: parse_details(description=value),
                   lambda: parse_details(metadata={"k": value}),
                   lambda: description_of(value)):
        with pytest.raises(ValidationError, match="must be a string"):
            refuse()
