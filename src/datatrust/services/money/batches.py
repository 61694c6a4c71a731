"""Payout batches: sending the payouts set aside through the payout provider and booking
each outcome, and the two payout jobs.

Payouts are at-least-once towards the provider and exactly-once in effect: a batch
claims a payout (``sending``, with its batch id and a time-limited claim, by a conditional
update) and commits *before* the provider is called, and the provider is given the
payout's key, which it must treat as an idempotency key. Two batches running at once
never hold the same payout. A batch that dies anywhere (even SIGKILL) leaves payouts
``requested`` or ``sending``; the next batch takes over the ``sending`` ones once their
claim has lapsed (at once if the batch failed or its process is gone), sends them again
under the same key (the provider pays once) and posts the settle or fail entry under its
fixed key (the ledger books once).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from datatrust.domain import ledger as dl
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import utcnow
from datatrust.domain.ids import id_of
from datatrust.domain.notifications import NoticeKind
from datatrust.domain.payout_methods import (
    PayoutDestination,
)
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.permissions import Actor, Permission, authorize
from datatrust.services.accounts import actor_label, money_params, notify
from datatrust.services.jobs import JobContext, job
from datatrust.services.money.common import one_transaction, post
from datatrust.services.money.payouts import destination_for, request_weekly_payouts
from datatrust.services.money.ports import PayoutInstruction, PayoutOutcome, PayoutProvider
from datatrust.services.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


def schedule_payout_batch(uow: UnitOfWork, actor: Actor) -> int:
    """Queue a ``payouts.run_batch`` job (operator); returns how many payouts wait."""
    authorize(actor, Permission.PAYOUT_RUN)
    waiting = uow.count(Payout, state=PayoutState.REQUESTED) + uow.count(
        Payout, state=PayoutState.SENDING
    )
    uow.enqueue("payouts.run_batch", {"requested_by": actor_label(actor)})
    uow.commit()
    return waiting


@dataclass
class BatchReport:
    batch_id: str
    claimed: int = 0  # requested payouts this batch claimed
    taken_over: int = 0  # sending payouts it took over from a batch that was gone
    settled: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


PAYOUT_CLAIM_SECONDS = 300  # as long as a job's lease (Settings.job_lease_seconds' default)


def run_payout_batch(
    uow_factory: UnitOfWorkFactory,
    provider: PayoutProvider,
    *,
    limit: int = 500,
    claim_seconds: int = PAYOUT_CLAIM_SECONDS,
    destinations: Callable[[UnitOfWork, Payout], PayoutDestination | None] | None = None,
) -> BatchReport:
    """Send the payouts this batch claims through ``provider`` and book the outcome.

    1. Claim, with conditional updates committed before any money moves: up to ``limit``
       ``requested`` payouts become ``sending`` with this batch's id, this process's name
       (``this_process``) and a claim lasting ``claim_seconds``; and ``sending`` payouts
       whose claim no longer holds are taken over (a batch that failed gave its claims
       up; one that was killed left a claim that ran out or names a process on this host
       that no longer exists). Of two batches running at once, each payout goes to one:
       a batch never sends a payout another live batch holds.
    2. For each payout it holds, in id order: confirm the claim and renew it (every
       payout's claim at least every third of ``claim_seconds``), call the provider with
       the payout's key, then in its own transaction (the payout row locked, still
       ``sending`` and still this batch's) post settle (in transit → external cash) or
       fail (in transit → payable, the clean reversal of the request).

    If anything raises, the batch gives up the claims it has not booked, so the next
    batch sends them again at once, under the same key (the provider pays once); a batch
    that cannot even do that leaves them to the next batch once their claim runs out.
    ``destinations`` says where each payout goes (``services.payouts.destination_for``);
    without it instructions carry none.
    A provider call slower than ``claim_seconds`` can lose its claim to another batch,
    which then sends the same key again: that is why providers must pay each key once.
    """
    report = BatchReport(batch_id=uuid.uuid4().hex[:16])
    me = this_process()

    def lease() -> datetime:
        return utcnow() + timedelta(seconds=claim_seconds)

    with uow_factory() as uow, one_transaction(uow):
        gone = [c for c in uow.payouts.claimers() if process_gone(c)]
    with uow_factory() as uow, one_transaction(uow):
        claims, batch = uow.payouts, report.batch_id
        report.taken_over = len(claims.take_over(batch, me, provider.name, utcnow(), lease(), gone))
        report.claimed = len(claims.claim(batch, me, provider.name, lease(), limit))
    with uow_factory() as uow, one_transaction(uow):
        held = [
            PayoutInstruction(f"payout:{p.id}", id_of(p), p.user_id, p.amount, destinations(uow, p))
            if destinations is not None
            else PayoutInstruction(f"payout:{p.id}", id_of(p), p.user_id, p.amount)
            for p in uow.all(
                Payout, order_by="id", state=PayoutState.SENDING, batch_id=report.batch_id
            )
        ]
    try:
        _send_held(uow_factory, provider, report, held, lease, claim_seconds)
    except BaseException:
        _give_up_claims(uow_factory, report.batch_id)
        raise
    return report


def _send_held(
    uow_factory: UnitOfWorkFactory,
    provider: PayoutProvider,
    report: BatchReport,
    held: list[PayoutInstruction],
    lease: Callable[[], datetime],
    claim_seconds: int,
) -> None:
    renew_all_at = 0  # monotonic nanoseconds: no floats in the money modules
    for instruction in held:
        payout_id = instruction.payout_id
        renew_all = time.monotonic_ns() >= renew_all_at
        with uow_factory() as uow, one_transaction(uow):
            still = uow.payouts.renew(report.batch_id, lease(), None if renew_all else [payout_id])
        if renew_all:
            renew_all_at = time.monotonic_ns() + claim_seconds * 1_000_000_000 // 3
        if payout_id not in still:
            continue  # our claim ran out and another batch took it over: it sends it
        outcome = provider.send(instruction)
        with uow_factory() as uow, one_transaction(uow):
            payout = uow.get_for_update(Payout, payout_id)
            if (
                payout is None
                or payout.state is not PayoutState.SENDING
                or payout.batch_id != report.batch_id
            ):
                continue  # another batch took it over meanwhile and books it
            _book_outcome(uow, payout, provider.name, outcome)
        (report.settled if outcome.settled else report.failed).append(payout_id)


def _give_up_claims(uow_factory: UnitOfWorkFactory, batch_id: str) -> None:
    try:
        with uow_factory() as uow, one_transaction(uow):
            uow.payouts.release(batch_id)
    except Exception:  # the original error matters more; the claims run out on their own
        log.warning("could not give up the payout claims of batch %s", batch_id, exc_info=True)


_PROCESS: tuple[int, str] = (0, "")


def this_process() -> str:
    """This process's name in payout claims: ``host|machine scope|pid|token``. The scope
    (this boot and PID namespace, empty where unknown) lets ``process_gone`` judge only
    processes it can see; the token tells this process from a later one given its pid."""
    global _PROCESS
    pid = os.getpid()
    if _PROCESS[0] != pid:  # first call, or a forked child
        host = socket.gethostname()[:64].replace("|", "-")
        _PROCESS = (pid, f"{host}|{_machine_scope()}|{pid}|{uuid.uuid4().hex[:8]}")
    return _PROCESS[1]


def process_gone(name: str) -> bool:
    """True only when the process ``name`` (``this_process``) ran in this boot and PID
    namespace and no process has its pid now: it died (a SIGKILL gives it no chance to
    give its claims up). Anything else, a process on another machine, in another
    container, or of unknown scope, is presumed alive until its claim runs out; a pid
    reused since also reads as alive, which only makes the takeover wait for that."""
    parts = name.split("|")
    scope = _machine_scope()
    if len(parts) != 4 or not scope or parts[1] != scope or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, but belongs to another user
        return False
    return False


def _machine_scope() -> str:
    """``<boot id>/<pid namespace>`` on Linux (a pid names one process only within both),
    else ``""``."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return f"{boot}/{namespace}"


def _book_outcome(uow: UnitOfWork, payout: Payout, rail: str, outcome: PayoutOutcome) -> None:
    source = {"type": "payout", "payout_id": payout.id, "reference": outcome.reference}
    payout.updated_at = utcnow()
    payout.provider_ref = outcome.reference or None
    payout.lease_until = None  # booked: the claim ends
    if outcome.settled:
        post(
            uow,
            dl.payout_settle(
                payout.user_id, payout.amount, key=f"{payout.key}:settle", rail=rail, source=source
            ),
            "system",
        )
        payout.state = PayoutState.SETTLED
        notify(uow, payout.user_id, NoticeKind.PAYOUT_PAID, **money_params(payout.amount))
        uow.record(
            AuditTag.PAYOUT_SETTLE,
            "system",
            "payout",
            payout.id,
            reference=outcome.reference,
            provider=rail,
        )
    else:
        post(
            uow,
            dl.payout_fail(
                payout.user_id,
                payout.amount,
                key=f"{payout.key}:fail",
                source={**source, "reason": outcome.reason},
            ),
            "system",
            reverses_key=f"{payout.key}:request",
        )
        payout.state = PayoutState.FAILED
        payout.failure_reason = outcome.reason or "refused by the provider"
        notify(uow, payout.user_id, NoticeKind.PAYOUT_FAILED, **money_params(payout.amount))
        uow.record(
            AuditTag.PAYOUT_FAIL,
            "system",
            "payout",
            payout.id,
            reason=payout.failure_reason,
            provider=rail,
        )


# --- the payout jobs ----------------------------------------------------------------------

RUN_BATCH_JOB = "payouts.run_batch"
WEEKLY_JOB = "payouts.weekly"


@job(RUN_BATCH_JOB)
def run_batch_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Outbox job: run one payout batch through the instance's payout provider (the port
    ``bootstrap`` chose from settings), each payout to its destination. Safe to run twice
    (see ``run_payout_batch``).

    The batch commits per payout through its own units of work; ``uow`` (the job's) only
    marks the job done afterwards."""
    run_payout_batch(
        ctx.services.uow,
        ctx.services.payouts,
        limit=int(payload.get("limit", 500)),
        destinations=destination_for(ctx.services.storage, ctx.services.policy.payout_method_hold),
    )


@job(WEEKLY_JOB)
def weekly_payouts_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Scheduled job (``adapters.queue.SCHEDULE``, Mondays): pay every contributor whose
    available balance reaches the instance's minimum, through the usual payout path (a
    request keyed per contributor and week, then a batch). Safe to run twice."""
    # The week is the scheduled slot's, so a retry days later still pays that week once.
    slot = payload.get("scheduled")
    day = datetime.fromisoformat(slot).date() if slot else None
    request_weekly_payouts(uow, ctx.services.policy.minimum_payout, today=day)
    run_payout_batch(
        ctx.services.uow,
        ctx.services.payouts,
        destinations=destination_for(ctx.services.storage, ctx.services.policy.payout_method_hold),
    )
