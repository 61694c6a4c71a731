from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatrust.domain.errors import InvalidInput
from datatrust.domain.fx import Rate, RateNotFound, approximate
from datatrust.domain.money import Money

JAN_1 = date(2025, 1, 1)
JAN_6 = date(2025, 1, 6)


def test_a_rate_reads_a_decimal_string_exactly():
    assert Rate("USD", "ZAR", "18.25", JAN_6).ratio == (73, 4)
    assert Rate("USD", "JPY", 157, JAN_6).ratio == (157, 1)
    assert Rate("USD", "JPY", (15734, 100), JAN_6).ratio == (15734, 100)


@pytest.mark.parametrize("rate", [18.25, "0", "-1", "abc", "inf", (1, 0), (-1, 2), (1.5, 2), None])
def test_a_rate_refuses_floats_and_non_positive_values(rate):
    with pytest.raises(InvalidInput):
        Rate("USD", "ZAR", rate, JAN_6)


@pytest.mark.parametrize("rate", ["1e999999999", "1e-13", "1." + "1" * 40, Decimal("1e13")])
def test_a_rate_of_absurd_size_or_precision_is_refused_before_any_arithmetic(rate):
    with pytest.raises(InvalidInput, match="at most 30 digits"):
        Rate("USD", "ZAR", rate, JAN_6)


def test_a_rate_needs_two_known_currencies_and_a_date():
    with pytest.raises(InvalidInput):
        Rate("USD", "USD", "1", JAN_6)
    with pytest.raises(InvalidInput):
        Rate("USD", "XYZ", "1", JAN_6)
    with pytest.raises(InvalidInput):
        Rate("USD", "ZAR", "18", "2025-01-06")


def test_approximate_converts_with_the_rate_and_says_its_date():
    rates = [Rate("USD", "ZAR", "18.25", JAN_6)]
    # 12.50 * 18.25 = 228.125 -> ZAR 228.13 (halves away from zero).
    assert approximate(Money(1250, "USD"), "ZAR", rates) == (Money(22813, "ZAR"), JAN_6)
    assert approximate(Money(-1250, "USD"), "ZAR", rates).money == Money(-22813, "ZAR")


def test_approximate_uses_a_rate_backwards_when_only_the_inverse_is_known():
    rates = [Rate("USD", "ZAR", "18.25", JAN_6)]
    # ZAR 1000 / 18.25 = 54.794… -> USD 54.79.
    assert approximate(Money(100_000, "ZAR"), "USD", rates) == (Money(5479, "USD"), JAN_6)


def test_approximate_handles_currencies_with_different_minor_units():
    rates = [Rate("USD", "JPY", "157.34", JAN_1), Rate("KWD", "USD", "3.25", JAN_1)]
    assert approximate(Money(1000, "JPY"), "USD", rates).money == Money(636, "USD")
    assert approximate(Money(100, "USD"), "JPY", rates).money == Money(157, "JPY")
    assert approximate(Money(1_000, "KWD"), "USD", rates).money == Money(325, "USD")


def test_approximate_uses_the_newest_rate_on_or_before_the_given_day():
    rates = [Rate("USD", "ZAR", "18", JAN_1), Rate("ZAR", "USD", "0.05", JAN_6)]
    assert approximate(Money(100, "USD"), "ZAR", rates) == (Money(2000, "ZAR"), JAN_6)
    on_jan_2 = approximate(Money(100, "USD"), "ZAR", rates, on=date(2025, 1, 2))
    assert on_jan_2 == (Money(1800, "ZAR"), JAN_1)


def test_approximate_returns_the_same_currency_unchanged():
    assert approximate(Money(100, "USD"), "USD", []) == (Money(100, "USD"), None)


def test_approximate_says_when_no_rate_fits():
    with pytest.raises(RateNotFound):
        approximate(Money(100, "USD"), "EUR", [Rate("USD", "ZAR", "18", JAN_1)])
    with pytest.raises(RateNotFound):
        approximate(Money(100, "USD"), "ZAR", [Rate("USD", "ZAR", "18", JAN_6)], on=JAN_1)
    with pytest.raises(InvalidInput):
        approximate(Money(100, "USD"), "usd", [])


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.decimals(min_value="0.0001", max_value="100000", places=4),
)
def test_approximate_is_within_half_a_minor_unit_of_the_exact_value(amount, rate):
    result = approximate(Money(amount, "USD"), "EUR", [Rate("USD", "EUR", rate, JAN_1)])
    exact = amount * rate
    assert abs(result.money.amount_minor - exact) <= Decimal("0.5")
