"""Payouts: a contributor's request to be paid what the ledger says they earned. The
ledger entries that move the money are ``domain.ledger``'s; this is the request's own
record and state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from datatrust.domain.clock import utcnow
from datatrust.domain.money import Money


class PayoutState(StrEnum):
    REQUESTED = "requested"  # earnings set aside (payable → in transit), not sent yet
    SENDING = "sending"  # handed (or about to be handed) to the provider
    SETTLED = "settled"  # the provider paid (in transit → external cash)
    FAILED = "failed"  # the provider refused; earnings returned (in transit → payable)


@dataclass
class Payout:
    """A contributor's payout request. ``(user_id, idempotency_key)`` is unique."""

    user_id: int
    idempotency_key: str
    amount_minor: int
    currency: str
    state: PayoutState = PayoutState.REQUESTED
    batch_id: str | None = None
    provider: str | None = None
    provider_ref: str | None = None
    failure_reason: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    claimed_by: str | None = None  # the process whose batch holds the claim (``sending``)
    lease_until: datetime | None = None  # the claim holds until then; None: no live claim
    # Where it is paid (``domain.payout_methods.PayoutMethod``); None: the person's
    # current method for its currency when the batch runs (``services.payouts``).
    method_id: int | None = None
    id: int | None = None

    @property
    def owner_id(self) -> int:
        return self.user_id

    @property
    def amount(self) -> Money:
        return Money(int(self.amount_minor), self.currency)

    @property
    def key(self) -> str:
        """What the provider receives as its idempotency key."""
        return f"payout:{self.id}"
