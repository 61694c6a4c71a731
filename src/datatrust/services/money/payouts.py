"""Payout methods and the contributor's payout page: where they are paid, the smallest
payout before they ask, and every payout with its state.

The money itself moves in ``services.money`` (``request_payout``, ``run_payout_batch``);
this module checks that a payout can go where it is asked to go, and tells the batch
where each one goes (``destination_for``), details opened from the contributor's sealed
copy only then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput, NotFound, Problem
from datatrust.domain.money import Money
from datatrust.domain.payout_methods import (
    PayoutDestination,
    PayoutMethod,
    PayoutRail,
    check_details,
    mask,
    rail_problems,
)
from datatrust.domain.payouts import Payout
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.accounts import actor_label
from datatrust.services.jobs import JobContext, job
from datatrust.services.money import money
from datatrust.services.ports import UnitOfWork
from datatrust.services.storage import EncryptedStorage


def add_payout_method(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    rail: str,
    typed: dict[str, str],
) -> PayoutMethod:
    """Add a place to be paid. ``InvalidInput`` lists every problem by field (``rail``,
    or the rail's own fields, see ``domain.payout_methods``)."""
    authorize(actor, Permission.PAYOUT_REQUEST)
    assert actor.user_id is not None
    try:
        chosen = PayoutRail(rail)
    except ValueError:
        raise InvalidInput(Problem("rail", "payout_method.rail_required")) from None
    details, problems = check_details(chosen, typed)
    if problems:
        raise InvalidInput(problems)
    method = PayoutMethod(
        user_id=actor.user_id,
        rail=chosen,
        details_sealed=storage.seal_text(uow, actor.user_id, json.dumps(details)),
        label=mask(chosen, details),
    )
    uow.add(method)
    uow.flush()
    uow.record(
        AuditTag.PAYOUT_METHOD_ADD, actor_label(actor), "payout_method", method.id, rail=rail
    )
    uow.commit()
    return method


def payout_methods(uow: UnitOfWork, actor: Actor) -> list[PayoutMethod]:
    """The caller's methods in use, newest first."""
    authorize(actor, Permission.STATEMENT_READ)
    methods = uow.all(PayoutMethod, order_by="-id", user_id=actor.user_id)
    return [m for m in methods if m.removed_at is None]


def remove_payout_method(uow: UnitOfWork, actor: Actor, method_id: int) -> None:
    """Stop using a method. Payouts already asked for still go there."""
    method = uow.get(PayoutMethod, method_id)
    authorize(actor, Permission.PAYOUT_REQUEST, method or MISSING)
    assert method is not None
    if method.removed_at is None:
        method.removed_at = utcnow()
        uow.record(AuditTag.PAYOUT_METHOD_REMOVE, actor_label(actor), "payout_method", method.id)
    uow.commit()


def request_payout_to(
    uow: UnitOfWork,
    actor: Actor,
    amount: Money,
    idempotency_key: str,
    *,
    method_id: int,
    minimum: Money,
) -> money.PayoutRequested:
    """``money.request_payout`` to one of the caller's methods, once the method can pay
    ``amount`` (its currency; whole shillings for M-Pesa). ``InvalidInput`` names the
    field; someone else's or a removed method is ``NotFound``."""
    method = uow.get(PayoutMethod, method_id)
    authorize(actor, Permission.PAYOUT_REQUEST, method or MISSING)
    assert method is not None
    if method.removed_at is not None:
        raise NotFound(Problem("method", "payout_method.removed"))
    problems = rail_problems(method.rail, amount)
    if problems:
        raise InvalidInput(problems)
    return money.request_payout(
        uow, actor, amount, idempotency_key, minimum=minimum, method_id=method.id
    )


def destination_for(
    storage: EncryptedStorage,
) -> Callable[[UnitOfWork, Payout], PayoutDestination | None]:
    """For ``money.run_payout_batch``: where a payout goes. Its own method, or for one
    asked without (the weekly payouts, the API) the person's newest method able to pay
    it; None when they have none (the plain export, for the operator to ask them)."""

    def destination(uow: UnitOfWork, payout: Payout) -> PayoutDestination | None:
        method = uow.get(PayoutMethod, payout.method_id) if payout.method_id else None
        if method is None:
            usable = [
                m
                for m in uow.all(PayoutMethod, order_by="-id", user_id=payout.user_id)
                if m.removed_at is None and not rail_problems(m.rail, payout.amount)
            ]
            method = usable[0] if usable else None
        if method is None:
            return None
        opened = storage.open_text(uow, payout.user_id, method.details_sealed)
        if not opened:  # the person was erased: nothing to pay to
            return None
        return PayoutDestination(method.rail, json.loads(opened))

    return destination


@dataclass(frozen=True)
class PayoutLine:
    """One payout as its owner sees it."""

    id: int
    amount: Money
    state: str  # money.PayoutState's value
    method_label: str | None
    rail: str | None
    asked_at: str
    updated_at: str


def payout_page(uow: UnitOfWork, actor: Actor, minimum: Money) -> dict[str, Any]:
    """What the payout part of the earnings page shows: the smallest payout in each
    currency the caller holds (``money.minimum_payout``, the figure ``request_payout``
    refuses below), their methods, and every payout, newest first."""
    authorize(actor, Permission.STATEMENT_READ)
    methods = {m.id: m for m in uow.all(PayoutMethod, user_id=actor.user_id)}
    history = []
    for payout in money.list_payouts(uow, actor):
        method = methods.get(payout.method_id) if payout.method_id else None
        history.append(
            PayoutLine(
                id=payout.id or 0,
                amount=payout.amount,
                state=payout.state.value,
                method_label=method.label if method else None,
                rail=method.rail.value if method else None,
                asked_at=payout.created_at.isoformat(),
                updated_at=payout.updated_at.isoformat(),
            )
        )
    balances = money.contributor_statement(uow, actor)["balances"]
    currencies = sorted({b["currency"] for b in balances} | {minimum.currency})
    return {
        "minimums": {c: money.minimum_payout(uow, c, minimum) for c in currencies},
        "methods": [m for m in methods.values() if m.removed_at is None][::-1],
        "history": history,
    }


# --- the payout jobs ----------------------------------------------------------------------

RUN_BATCH_JOB = "payouts.run_batch"
WEEKLY_JOB = "payouts.weekly"


@job(RUN_BATCH_JOB)
def run_batch_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Outbox job: run one payout batch through the instance's payout provider (the port
    ``bootstrap`` chose from settings), each payout to its destination. Safe to run twice
    (see ``money.run_payout_batch``).

    The batch commits per payout through its own units of work; ``uow`` (the job's) only
    marks the job done afterwards."""
    money.run_payout_batch(
        ctx.services.uow,
        ctx.services.payouts,
        limit=int(payload.get("limit", 500)),
        destinations=destination_for(ctx.services.storage),
    )


@job(WEEKLY_JOB)
def weekly_payouts_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Scheduled job (``adapters.queue.SCHEDULE``, Mondays): pay every contributor whose
    available balance reaches the instance's minimum, through the usual payout path (a
    request keyed per contributor and week, then a batch). Safe to run twice."""
    # The week is the scheduled slot's, so a retry days later still pays that week once.
    slot = payload.get("scheduled")
    day = datetime.fromisoformat(slot).date() if slot else None
    money.request_weekly_payouts(uow, ctx.services.policy.minimum_payout, today=day)
    money.run_payout_batch(
        ctx.services.uow, ctx.services.payouts, destinations=destination_for(ctx.services.storage)
    )
