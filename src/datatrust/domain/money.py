"""Money as an integer number of minor units in one ISO 4217 currency.

Rules (DESIGN.md §5 Money, §6.1):

- An amount is an ``int`` of minor units (cents for USD, yen for JPY, fils for KWD). Floats,
  bools and ``Decimal`` are refused at construction, so no binary rounding error can enter.
- Arithmetic only combines amounts of the same currency; mixing raises ``CurrencyMismatch``.
- Dividing money is done only by ``split`` (and ``percent``, which is a two-way split), which
  hands out every minor unit by the *largest-remainder rule*:

  1. each part first gets ``floor(amount * weight / total_weight)``;
  2. the minor units left over go, one each, to the parts with the largest remainders
     ``amount * weight mod total_weight``;
  3. ties go to the earliest part.

  So the parts always sum exactly to the whole, a part never differs from its exact
  proportional share by a whole minor unit or more, a zero weight always gets zero, and the
  result depends only on the inputs. A negative amount is split as its absolute value and
  every part negated, so splitting a refund mirrors splitting the charge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from datatrust.domain.currencies import currency as _currency
from datatrust.domain.errors import InvalidInput, Problem

_AMOUNT_TEXT = re.compile(r"-?\d+(?:\.\d+)?")


class CurrencyMismatch(InvalidInput):
    """Two amounts in different currencies were combined; convert explicitly first."""

    code = "currency_mismatch"


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``amount_minor`` minor units of ``currency`` (an active ISO 4217 code).

    ``Money(1250, "USD")`` is USD 12.50. Raises ``InvalidInput`` when ``amount_minor`` is not
    an ``int`` (floats, bools, Decimals and numeric strings are all refused) or when the
    currency is not an active upper-case ISO 4217 code. Amounts may be negative or zero;
    whether that is allowed is the caller's rule, not Money's.
    """

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is a subclass of int; True cents is always a bug.
        if type(self.amount_minor) is not int:
            given = f"{type(self.amount_minor).__name__} {self.amount_minor!r}"
            raise InvalidInput(Problem("amount_minor", "money.whole_minor_units", {"given": given}))
        _currency(self.currency)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Read a decimal string in major units: ``parse("12.50", "USD")`` is 1250 cents.

        Accepts an optional leading ``-``, digits, and an optional ``.`` followed by at most
        as many digits as the currency has minor units (``"12.5"`` is fine for USD,
        ``"12.505"`` and ``"1200.0"`` for JPY are refused rather than rounded). Surrounding
        whitespace is ignored; thousands separators, exponents, ``"12."`` and ``".5"`` are
        refused. Never goes through float.
        """
        cur = _currency(currency)
        if not isinstance(text, str) or not _AMOUNT_TEXT.fullmatch(text.strip()):
            raise InvalidInput(Problem("amount", "money.decimal_text", {"given": repr(text)}))
        whole, _, fraction = text.strip().partition(".")
        if len(fraction) > cur.minor_units:
            places = {"given": repr(text), "places": len(fraction), "currency": cur.code}
            raise InvalidInput(
                Problem("amount", "money.decimal_places", places | {"allowed": cur.minor_units})
            )
        negative = whole.startswith("-")
        digits = whole.lstrip("-") + fraction.ljust(cur.minor_units, "0")
        minor = int(digits)
        return cls(-minor if negative else minor, cur.code)

    # -- reading ------------------------------------------------------------------------

    @property
    def minor_units(self) -> int:
        """How many decimal places this currency has (2 for USD, 0 for JPY, 3 for KWD)."""
        return _currency(self.currency).minor_units

    def to_decimal(self) -> Decimal:
        """The amount in major units, exactly (``Decimal("12.50")`` for USD 12.50)."""
        return Decimal(self.amount_minor).scaleb(-self.minor_units)

    def format(self) -> str:
        """``"USD 12.50"``, ``"JPY 1200"``, ``"KWD -0.005"``: code, space, plain decimal.

        No thousands separators or symbols; localised display belongs to the web layer.
        """
        places = self.minor_units
        sign = "-" if self.amount_minor < 0 else ""
        whole, fraction = divmod(abs(self.amount_minor), 10**places)
        if places == 0:
            return f"{self.currency} {sign}{whole}"
        return f"{self.currency} {sign}{whole}.{fraction:0{places}d}"

    def __str__(self) -> str:
        return self.format()

    @property
    def is_zero(self) -> bool:
        return self.amount_minor == 0

    @property
    def is_positive(self) -> bool:
        return self.amount_minor > 0

    @property
    def is_negative(self) -> bool:
        return self.amount_minor < 0

    # -- arithmetic ---------------------------------------------------------------------

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(
                Problem(
                    "currency", "money.currency_mismatch", {"a": self.currency, "b": other.currency}
                ),
                currencies=[self.currency, other.currency],
            )

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount_minor), self.currency)

    def __mul__(self, factor: object) -> Money:
        """Multiply by a whole number only; fractions of money go through ``split``/``percent``."""
        if type(factor) is not int:
            return NotImplemented
        return Money(self.amount_minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor <= other.amount_minor

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor > other.amount_minor

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor >= other.amount_minor

    # -- division -----------------------------------------------------------------------

    def split(self, weights: list[int]) -> list[Money]:
        """Divide into ``len(weights)`` parts proportional to ``weights``, summing exactly.

        Uses the largest-remainder rule in the module docstring. ``weights`` must be a
        non-empty list of non-negative ints with a positive sum, else ``InvalidInput``.

        >>> [m.amount_minor for m in Money(100, "USD").split([1, 1, 1])]
        [34, 33, 33]
        """
        problems: list[Problem] = []
        if not isinstance(weights, list | tuple) or not weights:
            problems.append(Problem("weights", "split.empty"))
        else:
            if any(type(w) is not int for w in weights):
                problems.append(Problem("weights", "split.not_ints"))
            elif any(w < 0 for w in weights):
                problems.append(Problem("weights", "split.negative"))
            elif sum(weights) == 0:
                problems.append(Problem("weights", "split.all_zero"))
        if problems:
            raise InvalidInput(problems)

        total_weight = sum(weights)
        whole = abs(self.amount_minor)
        floors = []
        remainders = []
        for weight in weights:
            quotient, remainder = divmod(whole * weight, total_weight)
            floors.append(quotient)
            remainders.append(remainder)
        leftover = whole - sum(floors)
        # Largest remainder first; equal remainders keep their order (earliest wins).
        by_remainder = sorted(range(len(weights)), key=lambda i: -remainders[i])
        for index in by_remainder[:leftover]:
            floors[index] += 1
        sign = -1 if self.amount_minor < 0 else 1
        return [Money(sign * part, self.currency) for part in floors]

    def percent(self, p: int | str | Decimal) -> Money:
        """``p`` percent of this amount, rounded to the nearest minor unit, halves away from zero.

        This is exactly the first part of ``split([p, 100 - p])``, so ``x.percent(p)`` and
        ``x - x.percent(p)`` are the two parts of a largest-remainder split. ``p`` is an int
        or an exact decimal (``"12.5"`` or ``Decimal("12.5")``) from 0 to 100 inclusive;
        floats and anything outside 0..100 raise ``InvalidInput``.
        """
        share, rest = _percent_weights(p)
        return self.split([share, rest])[0]

    def allocate_percent(self, basis_points: list[int]) -> list[Money]:
        """Split by shares given in basis points (1/100 of a percent) that add up to 10,000.

        ``allocate_percent([7000, 2000, 1000])`` gives 70 %, 20 % and 10 %; the rounding is
        the largest-remainder rule, so the parts sum exactly to this amount. Raises
        ``InvalidInput`` when the shares do not add up to exactly 10,000.
        """
        if (
            not isinstance(basis_points, list | tuple)
            or any(type(b) is not int for b in basis_points)
            or sum(basis_points) != 10_000
        ):
            raise InvalidInput(Problem("basis_points", "split.basis_points"))
        return self.split(list(basis_points))


def _percent_weights(p: int | str | Decimal) -> tuple[int, int]:
    """Turn a percentage into integer weights ``(share, rest)`` for ``split``."""
    if type(p) is int:
        value = Decimal(p)
    elif isinstance(p, Decimal):
        value = p
    elif isinstance(p, str):
        try:
            value = Decimal(p.strip())
        except InvalidOperation:
            value = Decimal("NaN")
    else:
        given = f"{type(p).__name__} {p!r}"
        raise InvalidInput(Problem("percent", "percent.type", {"given": given}))
    if not value.is_finite() or value < 0 or value > 100:
        raise InvalidInput(Problem("percent", "percent.range", {"given": repr(p)}))
    # Exact ratio of the Decimal: "12.5" -> 25/2, so weights (25, 200 - 25).
    numerator, denominator = value.as_integer_ratio()
    hundred = 100 * denominator
    return numerator, hundred - numerator


def total(amounts: list[Money] | tuple[Money, ...], currency: str) -> Money:
    """Sum amounts that must all be in ``currency``; an empty list is zero of ``currency``.

    The currency is explicit so that an empty list still has one, and so that a stray
    amount in another currency raises ``CurrencyMismatch`` instead of being summed.
    """
    result = Money.zero(currency)
    for amount in amounts:
        result = result + amount
    return result
