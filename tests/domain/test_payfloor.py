import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatrust.domain.errors import InvalidInput
from datatrust.domain.money import CurrencyMismatch, Money
from datatrust.domain.payfloor import (
    DEFAULT_RECHECK_AFTER,
    contributor_efforts,
    escrow_to_reopen,
    hourly_rate,
    hourly_rate_for_seconds,
    meets_floor,
    minimum_pay_per_unit,
    recheck_floor,
    upper_median,
)


def usd(cents: int) -> Money:
    return Money(cents, "USD")


def test_hourly_rate_scales_pay_per_item_to_an_hour_of_effort():
    # $5 for a 10-minute walk video is $30 an hour.
    assert hourly_rate(usd(500), 10) == usd(3000)


def test_hourly_rate_for_recordings_paid_per_minute():
    # $0.50 per recorded minute, 1 minute of effort per minute: $30 an hour.
    assert hourly_rate(usd(50), 1) == usd(3000)
    # A 20-second photo task paying $0.10 is $18 an hour.
    assert hourly_rate_for_seconds(usd(10), 20) == usd(1800)


def test_hourly_rate_rounds_down_in_the_contributors_favour():
    # $1 for 7 minutes is $8.5714… an hour: the rate counts as $8.57, not $8.58.
    assert hourly_rate(usd(100), 7) == usd(857)
    assert not meets_floor(hourly_rate(usd(100), 7), usd(858))


@pytest.mark.parametrize("minutes", [0, -5, 1.5, True, "10"])
def test_hourly_rate_refuses_effort_that_is_not_a_positive_whole_number(minutes):
    with pytest.raises(InvalidInput):
        hourly_rate(usd(500), minutes)


def test_meets_floor_accepts_a_rate_equal_to_the_floor():
    assert meets_floor(usd(1500), usd(1500))
    assert meets_floor(usd(1501), usd(1500))
    assert not meets_floor(usd(1499), usd(1500))


def test_meets_floor_refuses_to_compare_currencies():
    with pytest.raises(CurrencyMismatch):
        meets_floor(usd(1500), Money(15000, "ZAR"))


def test_minimum_pay_per_unit_rounds_up():
    # $15/h for 7 minutes is $1.75 exactly; for 100 seconds it is 41.67 cents -> 42.
    assert minimum_pay_per_unit(usd(1500), 7 * 60) == usd(175)
    assert minimum_pay_per_unit(usd(1500), 100) == usd(42)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=10**6))
def test_the_minimum_pay_always_meets_the_floor_and_a_unit_less_does_not(floor, seconds):
    pay = minimum_pay_per_unit(usd(floor), seconds)
    assert meets_floor(hourly_rate_for_seconds(pay, seconds), usd(floor))
    if pay.amount_minor > 0:
        assert not meets_floor(hourly_rate_for_seconds(pay - usd(1), seconds), usd(floor))


def test_upper_median_takes_the_larger_middle_value():
    assert upper_median([3, 1, 2]) == 2
    assert upper_median([4, 1, 3, 2]) == 3
    with pytest.raises(InvalidInput):
        upper_median([])


def test_recheck_waits_for_twenty_submissions_by_default():
    assert DEFAULT_RECHECK_AFTER == 20
    assert recheck_floor(usd(500), usd(1500), [600] * 19) is None
    assert recheck_floor(usd(500), usd(1500), [600] * 20) is not None
    assert recheck_floor(usd(500), usd(1500), [600] * 5, after=5) is not None


def test_recheck_owes_nothing_when_the_measured_effort_is_as_promised():
    result = recheck_floor(usd(500), usd(1500), [600] * 20)
    assert result.top_up_per_unit == usd(0)
    assert result.meets_floor
    assert result.measured_rate == usd(3000)


def test_recheck_tops_up_each_paid_item_when_work_took_longer_than_promised():
    # Promised 10 minutes at $5 ($30/h); it took a median 25 minutes: $12/h, under $15.
    efforts = [1500] * 15 + [60] * 5
    result = recheck_floor(usd(500), usd(1500), efforts)
    assert result.median_effort_seconds == 1500
    assert result.measured_rate == usd(1200)
    assert result.required_pay_per_unit == usd(625)
    assert result.top_up_per_unit == usd(125)
    assert not result.meets_floor


def test_recheck_uses_the_median_so_a_few_slow_submissions_do_not_trigger_a_top_up():
    efforts = [600] * 17 + [36_000] * 3
    assert recheck_floor(usd(500), usd(1500), efforts).top_up_per_unit == usd(0)


def test_each_contributor_counts_once_at_their_median_each_measurement_capped():
    efforts = {"slow": [36_000] * 18, "a": [480, 900, 500], "b": [540]}
    assert contributor_efforts(efforts, cap_seconds=2400) == [2400, 500, 540]
    assert contributor_efforts({"none": []}, cap_seconds=2400) == []
    with pytest.raises(InvalidInput):
        contributor_efforts({"a": [0]}, cap_seconds=2400)


def test_recheck_counts_submissions_apart_from_per_contributor_measurements():
    assert recheck_floor(usd(500), usd(1500), [600, 900], submissions=19) is None
    result = recheck_floor(usd(500), usd(1500), [600, 900], submissions=20)
    assert result.submissions == 20 and result.median_effort_seconds == 900
    assert recheck_floor(usd(500), usd(1500), [], submissions=20) is None


def test_recheck_refuses_bad_measurements_and_mixed_currencies():
    with pytest.raises(InvalidInput):
        recheck_floor(usd(500), usd(1500), [600] * 19 + [0])
    with pytest.raises(InvalidInput):
        recheck_floor(usd(500), usd(1500), [600] * 19 + [60.5])
    with pytest.raises(CurrencyMismatch):
        recheck_floor(usd(500), Money(1500, "EUR"), [600] * 20)


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
    st.lists(st.integers(min_value=1, max_value=10**5), min_size=20, max_size=60),
)
def test_after_the_top_up_the_measured_rate_meets_the_floor(pay, floor, efforts):
    result = recheck_floor(usd(pay), usd(floor), efforts)
    topped_up = usd(pay) + result.top_up_per_unit
    assert result.top_up_per_unit.amount_minor >= 0
    assert meets_floor(hourly_rate_for_seconds(topped_up, result.median_effort_seconds), usd(floor))


def test_a_paused_campaign_needs_the_rest_of_its_quota_at_the_new_pay_plus_what_is_owed():
    need = escrow_to_reopen(usd(534), usd(50), quota=30, paid_items=3, owed=usd(852))
    assert need == usd(27 * 584 + 852)
    assert escrow_to_reopen(usd(534), usd(0), quota=3, paid_items=5, owed=usd(10)) == usd(10)
    with pytest.raises(InvalidInput):
        escrow_to_reopen(usd(534), usd(0), quota=3, paid_items=-1, owed=usd(0))
