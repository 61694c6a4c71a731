"""The ledger check: every balance recomputed from its postings and compared with the
stored one, with reconciliation totals per currency and account kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datatrust.domain import ledger as dl
from datatrust.domain.permissions import Actor, Permission, authorize
from datatrust.services.ports import UnitOfWork


@dataclass(frozen=True)
class LedgerCheck:
    report: dl.LedgerReport
    accounts: int
    totals: dict[str, dict[str, int]]  # currency -> account kind -> balance minor

    @property
    def ok(self) -> bool:
        return self.report.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.report.entries_checked,
            "accounts": self.accounts,
            "totals": self.totals,
            "problems": self.report.problems(),
        }


def check_ledger(uow: UnitOfWork, actor: Actor) -> LedgerCheck:
    """Recompute every balance from the postings and compare it with the cached one; check
    every entry balances per currency and every key is unique. Reconciliation totals per
    currency and account kind sum to zero when the books balance."""
    authorize(actor, Permission.LEDGER_READ)
    ledger = uow.ledger
    stored = ledger.stored_balances()
    report = dl.check(ledger.all_entries(), stored)
    totals: dict[str, dict[str, int]] = {}
    for account, balance in stored.items():
        per_kind = totals.setdefault(account.currency, {})
        per_kind[account.kind.value] = per_kind.get(account.kind.value, 0) + balance.amount_minor
    for per_kind in totals.values():
        per_kind["sum"] = sum(per_kind.values())
    return LedgerCheck(report, len(stored), totals)
