"""Approximate currency conversion from rates the operator supplies.

This is for *showing* an amount in another currency ("about INR 1,234"), never for moving
money: the ledger never converts, and every result carries the date of the rate it used so
the interface can say how old it is. Rates are exact decimals or integer ratios, held as an
integer fraction, so the conversion itself is integer arithmetic with one rounding at the
end (to the nearest minor unit, halves away from zero). Floats are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from datatrust.domain.clock import utcnow
from datatrust.domain.currencies import currency as _currency
from datatrust.domain.errors import InvalidInput, NotFound, Problem
from datatrust.domain.money import Money

MAX_RATE_EXPONENT = 12
MAX_RATE_DIGITS = 30


class RateNotFound(NotFound):
    code = "rate_not_found"


def _exact_ratio(rate: object) -> tuple[int, int]:
    """Read ``"18.25"``, ``Decimal("18.25")``, ``18`` or ``(73, 4)`` as (numerator, denominator)."""
    if type(rate) is int:
        value = Decimal(rate)
    elif isinstance(rate, Decimal):
        value = rate
    elif isinstance(rate, str):
        try:
            value = Decimal(rate.strip())
        except InvalidOperation:
            value = Decimal("NaN")
    elif (
        isinstance(rate, tuple)
        and len(rate) == 2
        and all(type(part) is int for part in rate)
        and rate[1] != 0
    ):
        numerator, denominator = rate
        if denominator < 0:
            numerator, denominator = -numerator, -denominator
        if numerator <= 0:
            raise InvalidInput(Problem("rate", "fx.rate_positive", {"given": repr(rate)}))
        return numerator, denominator
    else:
        given = f"{type(rate).__name__} {rate!r}"
        raise InvalidInput(Problem("rate", "fx.rate_type", {"given": given}))
    if not value.is_finite() or value <= 0:
        raise InvalidInput(Problem("rate", "fx.rate_positive", {"given": repr(rate)}))
    # Bounded before converting: "1e999999999" would otherwise build a billion-digit int.
    if not -MAX_RATE_EXPONENT <= value.adjusted() <= MAX_RATE_EXPONENT or (
        len(value.as_tuple().digits) > MAX_RATE_DIGITS
    ):
        bounds = {"exponent": MAX_RATE_EXPONENT, "digits": MAX_RATE_DIGITS, "given": repr(rate)}
        raise InvalidInput(Problem("rate", "fx.rate_bounds", bounds))
    return value.as_integer_ratio()


@dataclass(frozen=True)
class Rate:
    """``1 base = rate quote`` in major units, as published on ``as_of``.

    ``Rate("USD", "ZAR", "18.25", date(2025, 1, 6))``: one dollar is 18.25 rand. ``rate``
    is a decimal string, int, ``Decimal`` or ``(numerator, denominator)`` ints, and must be
    above zero; base and quote must be different active ISO 4217 codes. Raises
    ``InvalidInput`` otherwise. The rate is kept as an exact integer fraction.
    """

    base: str
    quote: str
    rate: str | int | Decimal | tuple[int, int]
    as_of: date
    # The rate as (numerator, denominator), exactly; derived from ``rate``.
    ratio: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _currency(self.base)
        _currency(self.quote)
        if self.base == self.quote:
            raise InvalidInput(Problem("quote", "fx.same_currency", {"currency": self.base}))
        if not isinstance(self.as_of, date):
            raise InvalidInput(Problem("as_of", "fx.as_of_required"))
        object.__setattr__(self, "ratio", _exact_ratio(self.rate))


class Approximation(NamedTuple):
    """A converted amount and the date of the rate behind it (``None`` if none was needed)."""

    money: Money
    as_of: date | None


def _round_half_away(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest int, halves away from zero (denominator > 0)."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def approximate(
    money: Money, to_currency: str, rates: Iterable[Rate], *, on: date | None = None
) -> Approximation:
    """Roughly what ``money`` is worth in ``to_currency``, and the date of the rate used.

    Uses the newest rate for the pair published on or before ``on`` (any date when ``on``
    is None), either direct (base → quote) or inverted (quote → base); it does not chain
    through a third currency. The same currency comes back unchanged with ``as_of`` None.
    Raises ``RateNotFound`` when no rate fits and ``InvalidInput`` for an unknown currency.
    """
    target = _currency(to_currency)
    if money.currency == target.code:
        return Approximation(money, None)
    best: tuple[date, int, int] | None = None
    for rate in rates:
        if on is not None and rate.as_of > on:
            continue
        numerator, denominator = rate.ratio
        if (rate.base, rate.quote) == (money.currency, target.code):
            candidate = (rate.as_of, numerator, denominator)
        elif (rate.base, rate.quote) == (target.code, money.currency):
            candidate = (rate.as_of, denominator, numerator)
        else:
            continue
        # Newest wins; on the same date the first one given wins.
        if best is None or candidate[0] > best[0]:
            best = candidate
    if best is None:
        raise RateNotFound(
            Problem(None, "fx.no_rate", {"base": money.currency, "quote": target.code}),
            {"base": money.currency, "quote": target.code},
        )
    as_of, numerator, denominator = best
    # target_minor = amount_minor / 10**src * rate * 10**dst, kept as one integer fraction.
    source_places = money.minor_units
    top = money.amount_minor * numerator * 10**target.minor_units
    bottom = denominator * 10**source_places
    return Approximation(Money(_round_half_away(top, bottom), target.code), as_of)


@dataclass
class FxRateRow:
    """An operator-supplied display rate: ``1 base = rate quote`` published on ``as_of``."""

    base: str
    quote: str
    rate: str
    as_of: date
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None
