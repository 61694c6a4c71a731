from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatrust.domain.currencies import MINOR_UNITS, currency
from datatrust.domain.errors import InvalidInput
from datatrust.domain.money import CurrencyMismatch, Money, total

amounts = st.integers(min_value=-(10**15), max_value=10**15)
non_negative_amounts = st.integers(min_value=0, max_value=10**15)
weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(
    lambda ws: sum(ws) > 0
)
percents = st.integers(min_value=0, max_value=100)


# -- currencies -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "places"),
    [
        ("USD", 2), ("EUR", 2), ("GBP", 2), ("ZAR", 2), ("INR", 2), ("KES", 2), ("NGN", 2),
        ("BRL", 2), ("JPY", 0), ("KRW", 0), ("CLP", 0), ("BHD", 3), ("KWD", 3), ("TND", 3),
        ("IQD", 3), ("CLF", 4),
    ],
)  # fmt: skip
def test_common_currencies_have_their_iso_minor_units(code, places):
    assert currency(code).minor_units == places


def test_the_currency_table_holds_only_three_letter_upper_case_codes():
    assert len(MINOR_UNITS) > 150
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in MINOR_UNITS)
    assert all(places in (0, 2, 3, 4) for places in MINOR_UNITS.values())


def test_codes_without_minor_units_are_not_currencies_for_money():
    for code in ("XAU", "XDR", "XXX", "XTS"):
        with pytest.raises(InvalidInput):
            Money(1, code)


# -- construction ---------------------------------------------------------------------------


def test_money_holds_an_integer_number_of_minor_units():
    money = Money(1250, "USD")
    assert money.amount_minor == 1250
    assert money.currency == "USD"


@pytest.mark.parametrize("amount", [1.5, 1.0, True, False, Decimal("1"), "100", None])
def test_money_refuses_anything_but_an_int_amount(amount):
    with pytest.raises(InvalidInput) as error:
        Money(amount, "USD")
    assert "minor units" in error.value.message


@pytest.mark.parametrize("code", ["usd", "XYZ", "", "US", "USDX", None, 840])
def test_money_refuses_unknown_currencies(code):
    with pytest.raises(InvalidInput) as error:
        Money(100, code)
    assert "currency" in error.value.message


def test_money_is_immutable_and_hashable():
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.amount_minor = 5  # type: ignore[misc]
    assert {money, Money(100, "USD")} == {money}


def test_equal_amounts_in_different_currencies_are_not_equal():
    assert Money(100, "USD") != Money(100, "EUR")
    assert Money(0, "USD") != Money(0, "EUR")


# -- parse and format -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("12.50", "USD", 1250),
        ("12.5", "USD", 1250),
        ("12", "USD", 1200),
        ("0.01", "USD", 1),
        ("-3.07", "EUR", -307),
        (" 7.00 ", "GBP", 700),
        ("1200", "JPY", 1200),
        ("1.005", "KWD", 1005),
        ("99999999999999999999.99", "USD", 9999999999999999999999),
    ],
)
def test_parse_reads_decimal_strings_exactly(text, code, minor):
    assert Money.parse(text, code) == Money(minor, code)


@pytest.mark.parametrize(
    ("text", "code"),
    [("12.505", "USD"), ("1200.0", "JPY"), ("1.0001", "KWD")],
)
def test_parse_refuses_more_decimal_places_than_the_currency_has(text, code):
    with pytest.raises(InvalidInput) as error:
        Money.parse(text, code)
    assert "decimal places" in error.value.message


@pytest.mark.parametrize("text", ["", "abc", "1,000.00", "1e3", "12.", ".5", "+5", "--1", "NaN"])
def test_parse_refuses_text_that_is_not_a_plain_decimal(text):
    with pytest.raises(InvalidInput):
        Money.parse(text, "USD")


def test_parse_refuses_a_float_argument():
    with pytest.raises(InvalidInput):
        Money.parse(12.5, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1250, "USD"), "USD 12.50"),
        (Money(5, "USD"), "USD 0.05"),
        (Money(-5, "USD"), "USD -0.05"),
        (Money(1200, "JPY"), "JPY 1200"),
        (Money(-1200, "JPY"), "JPY -1200"),
        (Money(1005, "KWD"), "KWD 1.005"),
        (Money(0, "EUR"), "EUR 0.00"),
    ],
)
def test_format_writes_the_code_and_a_plain_decimal(money, text):
    assert money.format() == text
    assert str(money) == text


@given(amounts, st.sampled_from(["USD", "JPY", "KWD", "CLF"]))
def test_format_and_parse_round_trip(amount, code):
    money = Money(amount, code)
    assert Money.parse(money.format().split(" ")[1], code) == money


def test_to_decimal_is_exact_major_units():
    assert Money(1250, "USD").to_decimal() == Decimal("12.50")
    assert Money(7, "KWD").to_decimal() == Decimal("0.007")


# -- arithmetic -----------------------------------------------------------------------------


def test_adding_and_subtracting_the_same_currency():
    assert Money(100, "USD") + Money(50, "USD") == Money(150, "USD")
    assert Money(100, "USD") - Money(150, "USD") == Money(-50, "USD")
    assert -Money(100, "USD") == Money(-100, "USD")
    assert abs(Money(-3, "USD")) == Money(3, "USD")


def test_mixing_currencies_raises_a_clear_error():
    with pytest.raises(CurrencyMismatch) as error:
        Money(100, "USD") + Money(100, "EUR")
    assert "USD" in error.value.message and "EUR" in error.value.message
    assert isinstance(error.value, InvalidInput)
    with pytest.raises(CurrencyMismatch):
        Money(100, "USD") - Money(100, "EUR")
    with pytest.raises(CurrencyMismatch):
        assert Money(100, "USD") < Money(100, "EUR")


def test_money_does_not_add_to_plain_numbers():
    with pytest.raises(TypeError):
        Money(100, "USD") + 1  # type: ignore[operator]


def test_money_multiplies_by_whole_numbers_only():
    assert Money(125, "USD") * 3 == Money(375, "USD")
    assert 3 * Money(125, "USD") == Money(375, "USD")
    for factor in (1.5, True, Decimal("2")):
        with pytest.raises(TypeError):
            Money(125, "USD") * factor  # type: ignore[operator]


def test_comparison_within_one_currency():
    assert Money(1, "USD") < Money(2, "USD") <= Money(2, "USD")
    assert Money(3, "USD") > Money(2, "USD") >= Money(2, "USD")


def test_total_sums_a_list_and_an_empty_list_is_zero():
    assert total([Money(1, "USD"), Money(2, "USD")], "USD") == Money(3, "USD")
    assert total([], "JPY") == Money(0, "JPY")
    with pytest.raises(CurrencyMismatch):
        total([Money(1, "EUR")], "USD")


# -- split and percent ----------------------------------------------------------------------


def test_split_gives_leftover_units_to_the_largest_remainders():
    assert Money(100, "USD").split([1, 1, 1]) == [
        Money(34, "USD"),
        Money(33, "USD"),
        Money(33, "USD"),
    ]
    # 10 * [1, 2, 3] / 6 = 1.67, 3.33, 5 -> floors 1, 3, 5; one left over goes to 1.67.
    assert [m.amount_minor for m in Money(10, "USD").split([1, 2, 3])] == [2, 3, 5]


def test_split_ties_go_to_the_earliest_part():
    assert [m.amount_minor for m in Money(2, "USD").split([1, 1, 1])] == [1, 1, 0]
    assert [m.amount_minor for m in Money(1, "USD").split([1, 1])] == [1, 0]


def test_split_of_a_negative_amount_mirrors_the_positive_split():
    assert Money(-100, "USD").split([1, 1, 1]) == [-m for m in Money(100, "USD").split([1, 1, 1])]


def test_split_gives_nothing_to_a_zero_weight():
    assert [m.amount_minor for m in Money(7, "USD").split([0, 1, 0, 1])] == [0, 4, 0, 3]


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1], [1.5, 1], [True, 1], "12"])
def test_split_refuses_bad_weights(weights):
    with pytest.raises(InvalidInput):
        Money(100, "USD").split(weights)


@given(amounts, weight_lists)
def test_split_parts_always_sum_to_the_whole(amount, weights):
    parts = Money(amount, "USD").split(weights)
    assert len(parts) == len(weights)
    assert sum(p.amount_minor for p in parts) == amount
    assert all(p.currency == "USD" for p in parts)


@given(non_negative_amounts, weight_lists)
def test_split_of_a_non_negative_amount_is_never_negative(amount, weights):
    assert all(p.amount_minor >= 0 for p in Money(amount, "USD").split(weights))


@given(amounts, weight_lists)
def test_split_is_within_one_minor_unit_of_the_exact_share(amount, weights):
    parts = Money(amount, "USD").split(weights)
    total_weight = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        # |part - amount * weight / total| < 1, kept in integers.
        assert abs(part.amount_minor * total_weight - amount * weight) < total_weight


@given(amounts, weight_lists)
def test_split_is_deterministic(amount, weights):
    assert Money(amount, "USD").split(weights) == Money(amount, "USD").split(list(weights))


@given(non_negative_amounts, weight_lists)
def test_split_with_a_larger_weight_never_gives_a_smaller_part(amount, weights):
    parts = Money(amount, "USD").split(weights)
    for i in range(len(weights)):
        for j in range(len(weights)):
            if weights[i] > weights[j]:
                assert parts[i].amount_minor >= parts[j].amount_minor


def test_percent_rounds_to_the_nearest_unit_with_halves_away_from_zero():
    assert Money(1000, "USD").percent(15) == Money(150, "USD")
    assert Money(100, "USD").percent("12.5") == Money(13, "USD")
    assert Money(101, "USD").percent(50) == Money(51, "USD")
    assert Money(-101, "USD").percent(50) == Money(-51, "USD")
    assert Money(999, "USD").percent(Decimal("0.1")) == Money(1, "USD")
    assert Money(1234, "JPY").percent(0) == Money(0, "JPY")
    assert Money(1234, "JPY").percent(100) == Money(1234, "JPY")


@pytest.mark.parametrize("p", [-1, 101, "100.01", "abc", 12.5, True, None, "inf"])
def test_percent_refuses_values_outside_zero_to_a_hundred_and_floats(p):
    with pytest.raises(InvalidInput):
        Money(1000, "USD").percent(p)


@given(amounts, percents)
def test_percent_is_the_first_part_of_the_matching_split(amount, p):
    money = Money(amount, "USD")
    assert money.percent(p) == money.split([p, 100 - p])[0]
    assert money.percent(p) + money.split([p, 100 - p])[1] == money


@given(non_negative_amounts, st.decimals(min_value=0, max_value=100, places=3))
def test_percent_is_within_half_a_unit_of_the_exact_value(amount, p):
    share = Money(amount, "USD").percent(p)
    assert abs(Decimal(share.amount_minor) - Decimal(amount) * p / 100) <= Decimal("0.5")


def test_allocate_percent_splits_by_basis_points():
    parts = Money(1001, "USD").allocate_percent([7000, 2000, 1000])
    assert [p.amount_minor for p in parts] == [701, 200, 100]
    with pytest.raises(InvalidInput):
        Money(1001, "USD").allocate_percent([5000, 4000])
