"""Reading and verifying the audit log."""

from __future__ import annotations

from datatrust.domain.audit import ChainReport, verify_chain
from datatrust.domain.permissions import Actor, Permission, authorize
from datatrust.services.ports import UnitOfWork


def verify_audit_log(uow: UnitOfWork, actor: Actor) -> ChainReport:
    """Recompute the whole chain; the report names the first event that does not match."""
    authorize(actor, Permission.AUDIT_VERIFY)
    return verify_chain(uow.queries.audit_events())
