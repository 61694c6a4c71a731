from __future__ import annotations

from fastapi import Depends

from datatrust.bootstrap import Services
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import contributions
from datatrust.services.ports import UnitOfWork
from datatrust.services.trust import sign_checkpoint, verify_audit_log
from datatrust.web.api.schemas import AuditCheckpointOut, AuditVerifyOut, Out
from datatrust.web.deps import api_router, requires, services, unit_of_work

router = api_router(prefix="/api/audit", tags=["audit"])


@router.get("/verify")
def verify(
    actor: Actor = requires(Permission.AUDIT_VERIFY), unit: UnitOfWork = unit_of_work()
) -> AuditVerifyOut:
    report = verify_audit_log(unit, actor)
    return AuditVerifyOut(
        ok=report.ok,
        checked=report.checked,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
    )


@router.get("/checkpoint")
def checkpoint(
    _actor: Actor = requires(Permission.PUBLIC_READ),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> AuditCheckpointOut:
    """The log's head now, signed: keep it, and later `datatrust audit verify --checkpoint`
    (or anyone with the public key) proves nothing up to it was removed or rewritten."""
    return AuditCheckpointOut(**sign_checkpoint(unit, svc.signer).document())


class MissedCountOut(Out):
    item_kind: str
    mark_kind: str
    category: str
    count: int


@router.get("/missed")
def missed_counts(
    actor: Actor = requires(Permission.AUDIT_READ), unit: UnitOfWork = unit_of_work()
) -> list[MissedCountOut]:
    """What contributors marked as missed by de-identification, counted by item kind, mark
    kind and category (no item, person or position)."""
    return [MissedCountOut.model_validate(c) for c in contributions.count_missed(unit, actor)]
