"""The document's input schemas say what the server accepts (web/openapi/accepted.py): each
is checked against the very code that enforces it, so a fuzzer's schema-valid request is
one the server takes, and a schema-invalid one is one it refuses."""
import re
from decimal import Decimal

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import money
import settings
from accounts.users import check_fields
from errors import InvalidAmount, InvalidCursor, ValidationError
from web import cursor
from web.openapi import accepted
from web.openapi.public import document

# A currency with the most decimals any has: it accepts every amount some currency accepts.
MOST_DECIMALS = next(c for c, d in money.MINOR_UNITS.items() if d == accepted.MAX_DECIMALS)
TOP = str(settings.MAX_AMOUNT)
EDGES = ["0", "00", "0.0", "0.0000", "0.0001", "0.00001", "00.5", ".5", "5.", "1e3", "+1", "-1",
         " 1", "1 ", "1\n", "1,5", "1.2.3", TOP, TOP + ".0000", TOP + ".0001", TOP + "0",
         "0" + TOP, str(settings.MAX_AMOUNT - 1) + ".9999", "9" * 40, "0" * 39 + "1",
         "0" * 40 + "1"]
AMOUNT_TEXT = st.one_of(st.sampled_from(EDGES), st.from_regex(r"[0-9]{1,11}(\.[0-9]{0,5})?",
                                                             fullmatch=True),
                        st.text(alphabet="0123456789.", max_size=14), st.text(max_size=6))


def accepts(amount, currency: str = MOST_DECIMALS) -> bool:
    try:
        money.parse_amount(amount, currency)
    except InvalidAmount:
        return False
    return True


def valid(schema: dict, value) -> bool:
    # jsonschema_rs, as schemathesis uses: `pattern` with ECMA-262 semantics (`$` never
    # matches before a final newline) and `multipleOf` exact on decimals (0.0101 is a
    # multiple of 0.0001), where the pure-Python jsonschema gets both wrong.
    return jsonschema_rs.validator_for(schema).is_valid(value)


@hypothesis_settings(max_examples=2000)
@given(AMOUNT_TEXT)
def test_an_amount_string_is_schema_valid_exactly_when_some_currency_accepts_it(text):
    # Given any text, When the schema and the parser judge it, Then they agree
    assert valid(accepted.AMOUNT_IN, text) == accepts(text)


@given(st.one_of(st.integers(-10, 10), st.integers(settings.MAX_AMOUNT - 10,
                                                   settings.MAX_AMOUNT + 10),
                 st.integers(-10**45, 10**45)))
def test_an_amount_integer_is_schema_valid_exactly_when_it_is_accepted(number):
    assert valid(accepted.AMOUNT_IN, number) == accepts(number)


@given(st.decimals(min_value=Decimal("0.0001"), max_value=settings.MAX_AMOUNT, places=4))
def test_a_schema_valid_amount_number_in_plain_notation_is_accepted(number):
    # Given a JSON number of at most 4 decimals within the bounds, as a client writes it
    text = format(number, "f")
    # Then the schema takes it, and so does the currency with the most decimals
    assert valid(accepted.AMOUNT_IN, float(text)) and accepts(money.JsonNumber(text))


@pytest.mark.parametrize("limit", [1, 2, 9, 10, 11, 99, 100, 101, 250, 1000, 1234, 2000])
def test_below_matches_exactly_the_integers_from_one_to_the_limit(limit):
    pattern = re.compile(accepted.below(limit)) if accepted.below(limit) else None
    for n in range(0, limit * 10 + 10):
        matched = bool(pattern and pattern.fullmatch(str(n)))
        assert matched == (1 <= n < limit), n


@given(st.integers(1, 10**12), st.integers(1, 4), AMOUNT_TEXT)
def test_the_amount_pattern_follows_its_maximum_and_decimals(maximum, decimals, text):
    # Then it matches exactly the plain decimals in (0, maximum] with at most `decimals`
    plain = money.PLAIN_DECIMAL.fullmatch(text)
    expected = bool(plain) and len(text.partition(".")[2]) <= decimals and \
        0 < Decimal(text) <= maximum
    assert bool(re.fullmatch(accepted.amount_pattern(maximum, decimals), text)) == expected


def test_the_documented_currencies_are_exactly_the_accepted_ones():
    schema = document()["components"]["schemas"]["WalletCreate"]["properties"]["currency"]
    assert schema["enum"] == sorted(money.MINOR_UNITS)
    for code in schema["enum"]:
        assert money.parse_currency(code) == code


@given(st.text(max_size=140))
def test_a_password_is_schema_valid_exactly_when_sign_up_accepts_it(password):
    try:
        check_fields(password=password)
        taken = True
    except ValidationError:
        taken = False
    assert valid(accepted.PASSWORD, password) == taken


@given(st.text(max_size=6), st.integers(0, 2**63 - 1))
def test_every_cursor_the_server_issues_has_the_documented_form(scope, last_id):
    issued = cursor.encode(scope, last_id)
    assert valid(accepted.PAGE_CURSOR, issued)
    assert cursor.decode(scope, issued) == last_id


@pytest.mark.parametrize("text", ["", "a", "abc", "A" * 26, "A" * 28, "A" * 27 + "="])
def test_a_cursor_of_another_form_is_refused_by_both(text):
    assert not valid(accepted.PAGE_CURSOR, text)
    with pytest.raises(InvalidCursor):
        cursor.decode("requests:1", text)


def test_the_wait_of_a_poll_is_bounded_by_the_setting():
    assert (accepted.WAIT["minimum"], accepted.WAIT["maximum"]) == (0, settings.MAX_WAIT_S)
