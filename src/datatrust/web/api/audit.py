from __future__ import annotations

from fastapi import APIRouter, Depends

from datatrust.domain.permissions import Actor, Permission
from datatrust.services.audit import verify_audit_log
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import AuditVerifyOut
from datatrust.web.deps import requires, uow

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("/verify")
def verify(
    actor: Actor = requires(Permission.AUDIT_VERIFY), unit: UnitOfWork = Depends(uow)
) -> AuditVerifyOut:
    report = verify_audit_log(unit, actor)
    return AuditVerifyOut(
        ok=report.ok,
        checked=report.checked,
        first_bad_seq=report.first_bad_seq,
        problem=report.problem,
    )
