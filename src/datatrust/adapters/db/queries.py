"""Read and claim queries that the generic unit-of-work methods cannot express."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from datatrust.adapters.db.tables import outbox
from datatrust.domain.audit import AuditEvent
from datatrust.domain.jobs import JobState, OutboxJob

if TYPE_CHECKING:
    from datatrust.adapters.db.ledger_store import SqlLedger


class SqlQueries:
    def __init__(self, session: Session) -> None:
        self.session = session

    def audit_events(self, batch: int = 1000) -> Iterator[AuditEvent]:
        """Every audit event in chain order, read in batches."""
        after = 0
        while True:
            rows = self.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            after = rows[-1].seq

    def audit_events_about(self, subject_type: str, subject_ids: list[str]) -> list[AuditEvent]:
        return list(
            self.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject_type == subject_type)
                .where(AuditEvent.subject_id.in_(subject_ids))
                .order_by(AuditEvent.seq)
            )
        )

    def claim_job(self, job_id: int, worker: str, now: datetime, lease_until: datetime) -> bool:
        """Pending and due → running, for exactly one claimant (a conditional update)."""
        result = self.session.execute(
            update(outbox)
            .where(outbox.c.id == job_id)
            .where(outbox.c.state == JobState.PENDING.value)
            .where(outbox.c.run_after <= now)
            .values(
                state=JobState.RUNNING.value,
                claimed_by=worker,
                lease_until=lease_until,
                attempts=outbox.c.attempts + 1,
            )
        )
        return result.rowcount == 1

    def expired_leases(self, now: datetime) -> list[int]:
        return list(
            self.session.scalars(
                select(outbox.c.id).where(
                    and_(outbox.c.state == JobState.RUNNING.value, outbox.c.lease_until < now)
                )
            )
        )

    def release_expired(self, job_ids: list[int], now: datetime) -> int:
        """Running with an expired lease → pending again; the conditional update means a
        worker that finishes meanwhile wins and its job is not released."""
        if not job_ids:
            return 0
        result = self.session.execute(
            update(outbox)
            .where(outbox.c.id.in_(job_ids))
            .where(outbox.c.state == JobState.RUNNING.value)
            .where(outbox.c.lease_until < now)
            .values(state=JobState.PENDING.value, claimed_by=None, lease_until=None, run_after=now)
        )
        return result.rowcount

    def due_pending(self, older_than: datetime, limit: int = 500) -> list[int]:
        """Pending jobs that should have run by now: their dispatch was lost or delayed."""
        return list(
            self.session.scalars(
                select(outbox.c.id)
                .where(outbox.c.state == JobState.PENDING.value)
                .where(or_(outbox.c.run_after <= older_than))
                .order_by(outbox.c.id)
                .limit(limit)
            )
        )

    def job(self, job_id: int) -> OutboxJob | None:
        return self.session.get(OutboxJob, job_id)

    @property
    def ledger(self) -> SqlLedger:
        """Ledger postings, balances and entries (see ``adapters.db.ledger_store``)."""
        from datatrust.adapters.db.ledger_store import SqlLedger  # its tables map lazily

        return SqlLedger(self.session)
