"""Money: integer minor units with a currency, read from and written as decimal strings."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airline_core import InvalidRequest, Money
from airline_core.money import minor_unit_exponent
from tests.core.samples import broken_fields


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("CLF", 4),
    ],
)
def test_minor_unit_exponent_follows_iso_4217(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "currency", "minor_units"),
    [
        ("123.45", "EUR", 12345),
        ("123.4", "EUR", 12340),
        ("123", "EUR", 12300),
        ("0.05", "EUR", 5),
        ("-7.50", "EUR", -750),
        ("1500", "JPY", 1500),
        ("0", "JPY", 0),
        ("1.234", "KWD", 1234),
        ("1.2", "KWD", 1200),
        ("0.001", "KWD", 1),
        ("1.2345", "CLF", 12345),
        ("999999999999999.99", "EUR", 99999999999999999),
    ],
)
def test_parse_reads_the_amount_in_minor_units(
    amount: str, currency: str, minor_units: int
) -> None:
    assert Money.parse(amount, currency) == Money(minor_units, currency)


@pytest.mark.parametrize(
    ("minor_units", "currency", "amount"),
    [
        (12340, "EUR", "123.40"),
        (5, "EUR", "0.05"),
        (0, "EUR", "0.00"),
        (-750, "EUR", "-7.50"),
        (1500, "JPY", "1500"),
        (-1500, "JPY", "-1500"),
        (1234, "KWD", "1.234"),
        (5, "KWD", "0.005"),
        (12345, "CLF", "1.2345"),
    ],
)
def test_amount_shows_exactly_the_currencys_decimals(
    minor_units: int, currency: str, amount: str
) -> None:
    assert Money(minor_units, currency).amount == amount


def test_str_shows_amount_and_currency() -> None:
    assert str(Money(12345, "EUR")) == "123.45 EUR"
    assert str(Money(1500, "JPY")) == "1500 JPY"
    assert str(Money(1234, "KWD")) == "1.234 KWD"


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("1.001", "EUR", "EUR has 2 decimal places, got 3"),
        ("1.5", "JPY", "JPY has 0 decimal places, got 1"),
        ("1.2345", "KWD", "KWD has 3 decimal places, got 4"),
    ],
)
def test_parse_rejects_more_decimals_than_the_currency_has(
    amount: str, currency: str, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message) as caught:
        Money.parse(amount, currency)
    assert broken_fields(caught.value) == ["amount"]


@pytest.mark.parametrize(
    "amount",
    [
        "",
        "abc",
        "1.",
        ".5",
        "1,50",
        "1e3",
        "+1",
        " 1",
        "1 ",
        "1.2.3",
        "--1",
        "1234567890123456",
        "1.23456",
        "NaN",
        "Infinity",
    ],
)
def test_parse_rejects_a_malformed_amount(amount: str) -> None:
    with pytest.raises(InvalidRequest, match="decimal string") as caught:
        Money.parse(amount, "EUR")
    assert broken_fields(caught.value) == ["amount"]


def test_parse_rejects_a_trailing_newline() -> None:
    with pytest.raises(InvalidRequest):
        Money.parse("1.00\n", "EUR")


def test_parse_accepts_only_ascii_digits() -> None:
    with pytest.raises(InvalidRequest):
        Money.parse("\u0661\u0662", "EUR")  # Arabic-Indic digits for 12


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "", "E1R", "€", " EUR"])
def test_parse_rejects_a_currency_that_is_not_an_iso_code(currency: str) -> None:
    with pytest.raises(InvalidRequest, match="ISO 4217") as caught:
        Money.parse("1.00", currency)
    assert broken_fields(caught.value) == ["currency"]


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", ""])
def test_money_rejects_a_currency_that_is_not_an_iso_code(currency: str) -> None:
    with pytest.raises(InvalidRequest, match="ISO 4217"):
        Money(100, currency)


def test_currency_with_a_trailing_newline_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="ISO 4217"):
        Money(100, "EUR\n")


def test_money_refuses_fractional_minor_units() -> None:
    # Money is "integer minor units, never a float": 1.5 cents is not an amount.
    with pytest.raises((InvalidRequest, TypeError)):
        Money(1.5, "EUR")  # type: ignore[arg-type]


def test_money_adds_and_subtracts_in_one_currency() -> None:
    assert Money(1050, "EUR") + Money(250, "EUR") == Money(1300, "EUR")
    assert Money(1050, "EUR") - Money(2000, "EUR") == Money(-950, "EUR")


def test_money_multiplies_by_a_count_from_either_side() -> None:
    assert Money(1999, "EUR") * 3 == Money(5997, "EUR")
    assert 3 * Money(1999, "EUR") == Money(5997, "EUR")
    assert Money(1500, "JPY") * 0 == Money(0, "JPY")


def test_money_compares_in_one_currency() -> None:
    small, large = Money(100, "EUR"), Money(200, "EUR")
    assert small < large
    assert small <= Money(100, "EUR")
    assert large > small
    assert large >= Money(200, "EUR")
    assert not large < small
    assert min([large, small]) == small


def test_money_equals_only_the_same_amount_in_the_same_currency() -> None:
    assert Money(100, "EUR") == Money(100, "EUR")
    assert Money(100, "EUR") != Money(100, "USD")
    assert Money(100, "EUR") != Money(101, "EUR")
    assert len({Money(100, "EUR"), Money(100, "EUR")}) == 1


def test_money_is_immutable() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Money(100, "EUR").minor_units = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["add", "subtract", "lt", "le", "gt", "ge"],
)
def test_money_refuses_to_combine_two_currencies(combine: object) -> None:
    with pytest.raises(InvalidRequest, match="cannot combine") as caught:
        combine(Money(100, "EUR"), Money(100, "USD"))  # type: ignore[operator]
    assert broken_fields(caught.value) == ["currency"]


@given(
    minor_units=st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    currency=st.sampled_from(["EUR", "JPY", "KWD", "CLF", "USD"]),
)
def test_amount_parses_back_to_the_same_money(minor_units: int, currency: str) -> None:
    money = Money(minor_units, currency)
    assert Money.parse(money.amount, currency) == money


@given(
    a=st.integers(min_value=-(10**12), max_value=10**12),
    b=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_sum_of_parsed_amounts_is_exact(a: int, b: int) -> None:
    left, right = Money(a, "KWD"), Money(b, "KWD")
    total = Money.parse(left.amount, "KWD") + Money.parse(right.amount, "KWD")
    assert total.minor_units == a + b
