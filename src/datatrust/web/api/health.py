from __future__ import annotations

from fastapi import Depends
from fastapi.responses import JSONResponse

from datatrust.bootstrap import Services
from datatrust.domain.permissions import Actor, Permission
from datatrust.web.deps import api_router, requires, services

router = api_router(tags=["health"])


@router.get("/health")
def health(
    _actor: Actor = requires(Permission.PUBLIC_READ), svc: Services = Depends(services)
) -> JSONResponse:
    """Database, storage and queue: 200 when all answer, 503 naming the one that does not."""
    checks = svc.check_health()
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503
    )
