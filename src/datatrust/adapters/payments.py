"""Payment rails (money in) and payout providers (money out), and the payout batch job.

- ``FakeCardRail``: "charges" a card and returns a reference; the same idempotency key
  returns the same reference. Stands in for a card or bank rail until one is configured.
- ``CsvPayoutProvider``: the self-hosted default. Appends each payout to a batch CSV that
  the operator uses to make the bank or mobile-money transfers by hand; a payout already
  exported (by key) is never written again, so re-running a crashed batch cannot put a
  payout in front of the operator twice.
- ``FakePayoutProvider``: for tests; records what it paid and can refuse chosen users.

The README section "Payout adapters" explains how a Stripe Connect or mobile-money
adapter plugs in: implement ``send`` with the payout key as the API's idempotency key.
"""

from __future__ import annotations

import csv
import hashlib
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from datatrust.domain.money import Money
from datatrust.services.jobs import JobContext, job
from datatrust.services.money import (
    PaymentFailed,
    PayoutInstruction,
    PayoutOutcome,
    PayoutProvider,
    payout_minimum,
    request_weekly_payouts,
    run_payout_batch,
)
from datatrust.services.ports import UnitOfWork


class FakeCardRail:
    name = "card"

    def __init__(self, *, decline_over: Money | None = None) -> None:
        self.decline_over = decline_over
        self.charges: dict[str, tuple[str, Money]] = {}
        self._lock = threading.Lock()

    def charge(self, *, payer: str, amount: Money, idempotency_key: str, description: str) -> str:
        with self._lock:
            if idempotency_key in self.charges:
                return self.charges[idempotency_key][0]
            if self.decline_over is not None and amount > self.decline_over:
                raise PaymentFailed(f"the card was declined for {amount}")
            reference = "ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
            self.charges[idempotency_key] = (reference, amount)
            return reference


class FakePayoutProvider:
    name = "fake"

    def __init__(self, *, refuse_users: set[int] | None = None) -> None:
        self.refuse_users = refuse_users or set()
        self.paid: dict[str, Money] = {}
        self.sent: list[str] = []  # every call, repeats included
        self._outcomes: dict[str, PayoutOutcome] = {}
        self._lock = threading.Lock()

    def send(self, instruction: PayoutInstruction) -> PayoutOutcome:
        with self._lock:
            self.sent.append(instruction.key)
            if instruction.key in self._outcomes:
                return self._outcomes[instruction.key]
            if instruction.user_id in self.refuse_users:
                outcome = PayoutOutcome(False, reason="the account number was rejected")
            else:
                self.paid[instruction.key] = instruction.amount
                outcome = PayoutOutcome(True, reference=f"fake-{instruction.key}")
            self._outcomes[instruction.key] = outcome
            return outcome


class CsvPayoutProvider:
    """Writes ``payouts-<YYYYMMDD>.csv`` rows under ``folder``; ``exported.keys`` lists every
    key already written (fsynced before the CSV row counts as exported)."""

    name = "csv"
    COLUMNS = ("payout_key", "payout_id", "user_id", "currency", "amount", "amount_minor")

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def _exported(self) -> set[str]:
        keys = self.folder / "exported.keys"
        return set(keys.read_text().split()) if keys.exists() else set()

    def send(self, instruction: PayoutInstruction) -> PayoutOutcome:
        from datetime import UTC

        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            batch = self.folder / f"payouts-{datetime.now(UTC):%Y%m%d}.csv"
            reference = f"{batch.name}:{instruction.key}"
            if instruction.key in self._exported():
                return PayoutOutcome(True, reference=reference)
            new = not batch.exists()
            with batch.open("a", newline="") as handle:
                writer = csv.writer(handle)
                if new:
                    writer.writerow(self.COLUMNS)
                amount = instruction.amount
                writer.writerow(
                    [
                        instruction.key,
                        instruction.payout_id,
                        instruction.user_id,
                        amount.currency,
                        amount.to_decimal(),
                        amount.amount_minor,
                    ]
                )
                handle.flush()
                os.fsync(handle.fileno())
            with (self.folder / "exported.keys").open("a") as keys:
                keys.write(instruction.key + "\n")
                keys.flush()
                os.fsync(keys.fileno())
            return PayoutOutcome(True, reference=reference)


def payout_provider_for(services: Any) -> PayoutProvider:
    """The provider chosen for this instance: ``services.extras["payout_provider"]`` when
    set (tests, or an operator's own adapter), else the CSV export under the data dir."""
    chosen = services.extras.get("payout_provider") if services is not None else None
    if chosen is not None:
        return chosen
    return CsvPayoutProvider(Path(services.settings.data_dir) / "payouts")


def payment_rail_for(services: Any) -> Any:
    """The rail for buyer charges: ``services.extras["payment_rail"]``, else the fake card
    rail (no real card rail ships with Datatrust yet)."""
    return services.extras.setdefault("payment_rail", FakeCardRail())


@job("payouts.run_batch")
def run_batch_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Outbox job: run one payout batch. Safe to run twice (see ``run_payout_batch``).

    The batch commits per payout through its own units of work; ``uow`` (the job's) only
    marks the job done afterwards."""
    run_payout_batch(
        ctx.services.uow, payout_provider_for(ctx.services), limit=int(payload.get("limit", 500))
    )


@job("payouts.weekly")
def weekly_payouts_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Scheduled job (``adapters.queue.SCHEDULE``, Mondays): pay every contributor whose
    available balance reaches the instance's minimum, through the usual payout path (a
    request keyed per contributor and week, then a batch). Safe to run twice."""
    # The week is the scheduled slot's, so a retry days later still pays that week once.
    slot = payload.get("scheduled")
    day = datetime.fromisoformat(slot).date() if slot else None
    request_weekly_payouts(uow, payout_minimum(ctx.services.settings), today=day)
    run_payout_batch(ctx.services.uow, payout_provider_for(ctx.services))
