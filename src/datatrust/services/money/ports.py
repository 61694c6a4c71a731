"""The two ports money moves through: a ``PaymentRail`` takes a buyer's money in, a
``PayoutProvider`` pays contributors out (``bootstrap`` chooses both from settings;
``adapters.payments`` holds the implementations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from datatrust.domain.errors import Conflict
from datatrust.domain.money import Money
from datatrust.domain.payout_methods import PayoutDestination


class PaymentFailed(Conflict):
    code = "payment_failed"


class PaymentRail(Protocol):
    """Takes money from a buyer (card, bank transfer). ``name`` is the rail's ledger name
    (``external_cash:<name>:CUR``), lower-case letters, digits, ``_`` or ``-``."""

    name: str

    def charge(self, *, payer: str, amount: Money, idempotency_key: str, description: str) -> str:
        """Charge ``amount`` once per ``idempotency_key`` and return the rail's reference
        (the same reference for a repeated key). Raises ``PaymentFailed`` when refused."""
        ...


@dataclass(frozen=True)
class PayoutInstruction:
    key: str  # the idempotency key: the provider must pay each key at most once
    payout_id: int
    user_id: int
    amount: Money
    destination: PayoutDestination | None = None  # None: no method known (a plain export)


@dataclass(frozen=True)
class PayoutOutcome:
    settled: bool
    reference: str = ""
    reason: str = ""


class PayoutProvider(Protocol):
    """Pays contributors (bank, mobile money, Stripe Connect …). ``name`` as for a rail."""

    name: str

    def send(self, instruction: PayoutInstruction) -> PayoutOutcome:
        """Pay ``instruction.amount`` once per ``instruction.key``; a repeated key returns
        the first outcome without paying again."""
        ...
