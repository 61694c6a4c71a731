"""The pay floor: a campaign's pay per unit of work must meet a minimum hourly rate.

A *unit* is whatever the campaign pays for: one item, or one minute of recording. Effort is
the time a contributor is expected to spend per unit (filming, walking, re-takes, upload),
not the length of the result; for a recording paid per minute it is the effort minutes per
recorded minute.

All arithmetic is on integers. Wherever a division does not come out even, it rounds in the
contributor's favour:

- an effective hourly rate rounds *down* (a rate that only meets the floor after rounding
  up does not meet it);
- a minimum pay per unit and a top-up round *up* (to the next minor unit);
- the median of an even number of measurements is the *upper* middle value (more effort
  measured means more pay owed).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.money import Money

SECONDS_PER_HOUR = 3600
DEFAULT_RECHECK_AFTER = 20


def _positive_int(value: object, name: str) -> int:
    if type(value) is not int or value <= 0:
        raise InvalidInput(Problem(name, "positive_whole_number", {"given": repr(value)}))
    return value


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def hourly_rate(pay_per_unit: Money, effort_minutes_per_unit: int) -> Money:
    """What a contributor earns per hour: ``pay_per_unit * 60 / effort_minutes``, rounded down.

    ``effort_minutes_per_unit`` must be a positive int (``InvalidInput`` otherwise); use
    ``hourly_rate_for_seconds`` for tasks shorter than a minute.
    """
    minutes = _positive_int(effort_minutes_per_unit, "effort_minutes_per_unit")
    return hourly_rate_for_seconds(pay_per_unit, minutes * 60)


def hourly_rate_for_seconds(pay_per_unit: Money, effort_seconds_per_unit: int) -> Money:
    """Like ``hourly_rate`` with effort in seconds: ``pay * 3600 // effort_seconds``."""
    seconds = _positive_int(effort_seconds_per_unit, "effort_seconds_per_unit")
    return Money(pay_per_unit.amount_minor * SECONDS_PER_HOUR // seconds, pay_per_unit.currency)


def meets_floor(rate: Money, floor: Money) -> bool:
    """True when an hourly ``rate`` is at least the hourly ``floor``.

    Both must be in the same currency (``CurrencyMismatch`` otherwise): a floor in another
    currency has to be converted by the operator first, never silently.
    """
    return rate >= floor


def minimum_pay_per_unit(floor: Money, effort_seconds_per_unit: int) -> Money:
    """The least pay per unit whose hourly rate meets ``floor``, rounded up to a minor unit.

    ``meets_floor(hourly_rate_for_seconds(minimum_pay_per_unit(f, s), s), f)`` always holds.
    """
    seconds = _positive_int(effort_seconds_per_unit, "effort_seconds_per_unit")
    return Money(_ceil_div(floor.amount_minor * seconds, SECONDS_PER_HOUR), floor.currency)


@dataclass(frozen=True)
class PayFloors:
    """An instance's pay floors in minor units per hour of ``currency``: a default and
    optional per-country ones (``domain.policy.InstancePolicy.pay_floors``)."""

    minor_per_hour: int
    currency: str
    by_country: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        upper = {k.upper(): v for k, v in dict(self.by_country).items()}
        object.__setattr__(self, "by_country", upper)

    def floor_for(self, country: str | None) -> Money:
        return Money(
            self.by_country.get((country or "").upper(), self.minor_per_hour), self.currency
        )


@dataclass(frozen=True)
class PayFloorCheck:
    hourly_rate: Money
    floor: Money
    minimum_rate_per_item: Money
    meets_floor: bool


def check_pay_floor(
    rate_per_item: Money, expected_minutes: int, country: str | None, floors: PayFloors
) -> PayFloorCheck:
    """Does paying ``rate_per_item`` for ``expected_minutes`` of effort meet the floor for
    ``country`` (its own floor when the operator set one, else the default)? The one
    check behind opening a campaign and every hourly rate a page shows. A rate in another
    currency than the floor's raises ``CurrencyMismatch``: the operator must state the
    floor in the campaign's currency, it is never converted here."""
    if not rate_per_item.is_positive:
        raise InvalidInput(Problem("rate_per_item", "money.not_positive", {"given": rate_per_item}))
    floor = floors.floor_for(country)
    rate = hourly_rate(rate_per_item, expected_minutes)
    ok = meets_floor(rate, floor)
    return PayFloorCheck(rate, floor, minimum_pay_per_unit(floor, expected_minutes * 60), ok)


def upper_median(values: Sequence[int]) -> int:
    """The middle value; of an even count, the larger of the two middle ones."""
    if not values:
        raise InvalidInput(Problem("values", "payfloor.median_of_nothing"))
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


K = TypeVar("K", bound=Hashable)


def contributor_efforts(by_contributor: Mapping[K, Sequence[int]], cap_seconds: int) -> list[int]:
    """One measurement per contributor: the upper median of their submissions' efforts,
    each first capped at ``cap_seconds``; so no one contributor, however many uploads they
    make or however long they hold a task open, moves the campaign's median by more than
    one vote, or past the cap. Contributors without measurements are left out."""
    cap = _positive_int(cap_seconds, "cap_seconds")
    return [
        upper_median([min(_positive_int(s, "measured_effort_seconds"), cap) for s in efforts])
        for efforts in by_contributor.values()
        if efforts
    ]


@dataclass(frozen=True)
class FloorRecheck:
    """The outcome of re-measuring effort once enough work has come in.

    ``top_up_per_unit`` is what each already-paid unit is owed so that, at the measured
    median effort, the pay meets the floor; zero when it already does.
    """

    submissions: int
    median_effort_seconds: int
    measured_rate: Money
    required_pay_per_unit: Money
    top_up_per_unit: Money

    @property
    def meets_floor(self) -> bool:
        return self.top_up_per_unit.is_zero


def recheck_floor(
    pay_per_unit: Money,
    floor: Money,
    measured_effort_seconds: Sequence[int],
    *,
    after: int = DEFAULT_RECHECK_AFTER,
    submissions: int | None = None,
) -> FloorRecheck | None:
    """Check the promised rate against the effort contributors actually spent.

    ``measured_effort_seconds`` holds the measurements (each a positive int): one per
    submission, or one per contributor (``contributor_efforts``) with ``submissions`` the
    number of submissions behind them. Returns ``None`` while there are fewer than
    ``after`` submissions (too few to judge); otherwise a ``FloorRecheck`` using the upper
    median, so a few very fast or very slow measurements do not move the result. Raises
    ``InvalidInput`` for a non-positive measurement and ``CurrencyMismatch`` when pay and
    floor differ in currency.
    """
    _positive_int(after, "after")
    for seconds in measured_effort_seconds:
        _positive_int(seconds, "measured_effort_seconds")
    if pay_per_unit.currency != floor.currency:
        meets_floor(pay_per_unit, floor)  # raises CurrencyMismatch with the usual message
    count = len(measured_effort_seconds) if submissions is None else submissions
    if count < after or not measured_effort_seconds:
        return None
    median = upper_median(measured_effort_seconds)
    required = minimum_pay_per_unit(floor, median)
    top_up = required - pay_per_unit if required > pay_per_unit else Money.zero(floor.currency)
    return FloorRecheck(
        submissions=count,
        median_effort_seconds=median,
        measured_rate=hourly_rate_for_seconds(pay_per_unit, median),
        required_pay_per_unit=required,
        top_up_per_unit=top_up,
    )


def escrow_to_reopen(
    pay_per_item: Money, bonus_per_item: Money, quota: int, paid_items: int, owed: Money
) -> Money:
    """What a campaign paused by a recheck must hold in escrow to reopen: the items left
    in its quota at the new pay (plus a bonus each, the most they can earn) and the
    top-ups still ``owed`` to work already paid at the old rate. A quota already filled
    leaves only ``owed``."""
    _positive_int(quota, "quota")
    if type(paid_items) is not int or paid_items < 0:
        raise InvalidInput(Problem("paid_items", "not_negative"))
    remaining = max(quota - paid_items, 0)
    return (pay_per_item + bonus_per_item) * remaining + owed
