"""FX display rates: operator-supplied rates, used only to show an approximate value in
another currency (and to convert the payout minimum); money never changes currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.fx import FxRateRow, Rate, RateNotFound, approximate
from datatrust.domain.money import Money
from datatrust.domain.permissions import Actor, Permission, authorize
from datatrust.services.accounts import actor_label
from datatrust.services.money.common import money_out
from datatrust.services.ports import UnitOfWork


def set_fx_rate(
    uow: UnitOfWork, actor: Actor, base: str, quote: str, rate: str, as_of: date
) -> FxRateRow:
    """Record an operator-supplied display rate (``1 base = rate quote`` on ``as_of``);
    setting the same pair and date again replaces the rate. ``rate`` is a decimal string
    (``"18.25"``), stored exactly as written (normalised: no exponent, no trailing zeros);
    a float, a zero or negative rate, an unknown currency or the same currency twice is
    ``InvalidInput`` naming the problem."""
    authorize(actor, Permission.INSTANCE_MANAGE)
    if not isinstance(rate, str):
        raise InvalidInput(Problem("rate", "fx.rate_as_text", {"given": type(rate).__name__}))
    base, quote = base.strip().upper(), quote.strip().upper()
    checked = Rate(base, quote, rate, as_of)  # validates currencies, date and rate
    exact = _plain_decimal(rate)
    row = uow.one(FxRateRow, base=checked.base, quote=checked.quote, as_of=as_of)
    if row is None:
        row = FxRateRow(checked.base, checked.quote, exact, as_of)
        uow.add(row)
    else:
        row.rate = exact
    uow.record(
        AuditTag.FX_RATE_SET,
        actor_label(actor),
        "fx_rate",
        f"{base}/{quote}",
        rate=row.rate,
        as_of=as_of.isoformat(),
    )
    uow.commit()
    return row


def _plain_decimal(rate: str) -> str:
    """``"18.2500"`` → ``"18.25"``, ``"1E+2"`` → ``"100"``: one spelling per value."""
    text = format(Decimal(rate.strip()), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def list_fx_rates(uow: UnitOfWork, actor: Actor) -> list[FxRateRow]:
    """Every operator-supplied rate, newest date first (operators)."""
    authorize(actor, Permission.INSTANCE_MANAGE)
    return sorted(
        uow.all(FxRateRow, order_by="id"), key=lambda r: (r.as_of, r.id or 0), reverse=True
    )


def fx_rate_out(row: FxRateRow) -> dict[str, Any]:
    return {"base": row.base, "quote": row.quote, "rate": row.rate, "as_of": row.as_of.isoformat()}


def fx_rates(uow: UnitOfWork) -> list[Rate]:
    return [Rate(r.base, r.quote, r.rate, r.as_of) for r in uow.all(FxRateRow, order_by="id")]


def approx_out(amount: Money, to: str | None, rates: list[Rate]) -> dict[str, Any] | None:
    """``amount`` shown in ``to`` at the newest rate, marked approximate with the rate's
    date; None for the same currency, no currency or no rate."""
    if not to or to == amount.currency:
        return None
    try:
        found = approximate(amount, to, rates)
    except RateNotFound:
        return None
    return {
        **money_out(found.money),
        "rate_date": found.as_of.isoformat() if found.as_of else None,
        "approximate": True,
    }
