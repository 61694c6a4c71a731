from __future__ import annotations

import anyio
import anyio.to_thread
from fastapi import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from datatrust.bootstrap import MEDIA_TOOLS, Services
from datatrust.domain.permissions import Actor, Permission
from datatrust.web.deps import api_router, requires, services

router = api_router(tags=["health"])

# Checks run in threads of their own: a load balancer asking whether this instance is
# alive must not wait behind every queued request for a thread (it would take a busy
# instance out of service just when it is needed).
_checker: anyio.CapacityLimiter | None = None


class HealthOut(BaseModel):
    status: str = Field(description="ok, limited (a media tool is missing) or degraded.")
    checks: dict[str, str] = Field(description="Each part: ok, or what is wrong with it.")


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A part does not answer."}},
)
async def health(
    _actor: Actor = requires(Permission.PUBLIC_READ), svc: Services = Depends(services)
) -> JSONResponse:
    """Database, storage and queue: 200 when all answer, 503 (``degraded``) naming the one
    that does not. A missing media tool (``media_tools``) is named too, with what the
    pipeline does instead, but the instance still serves and processes: status ``limited``,
    200, so a load balancer keeps it."""
    global _checker
    if _checker is None:
        _checker = anyio.CapacityLimiter(2)
    checks = await anyio.to_thread.run_sync(svc.check_health, limiter=_checker)
    if any(v != "ok" for k, v in checks.items() if k != MEDIA_TOOLS):
        status, code = "degraded", 503
    else:
        status, code = ("ok" if checks[MEDIA_TOOLS] == "ok" else "limited"), 200
    return JSONResponse({"status": status, "checks": checks}, status_code=code)
