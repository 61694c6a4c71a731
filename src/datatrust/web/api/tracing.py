"""Misuse tracing: upload a file found outside, get the matching items and who received
them (``services.tracing``); a contributor opens a misuse report from a match."""

from __future__ import annotations

from datetime import datetime

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from datatrust.bootstrap import Services
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import contributions, trust
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import Out, Strict
from datatrust.web.deps import RowId, api_router, requires, services, unit_of_work
from datatrust.web.forms import FileTooLarge, read_form

router = api_router(prefix="/api", tags=["tracing"])

MAX_TRACE_BYTES = trust.MAX_TRACE_BYTES


class MisuseReportIn(Strict):
    org_id: RowId
    note: str = Field(default="", max_length=2000)


class ReceiptOut(Out):
    """One delivery of a matched item, as far as the caller may know of it."""

    org_id: int
    buyer: str
    snapshot_id: int
    version: str
    delivered_at: datetime | None
    content_sha256: str
    agreement_id: int
    licence_id: str | None


class MatchOut(Out):
    item_id: int
    kind: str
    how: str = Field(description="What matched: phash, frames, or an audio fingerprint.")
    score: int | float
    strength: int | float = Field(description="Higher is a closer match; matches sort by it.")
    yours: bool
    received_by: list[ReceiptOut]


class TraceOut(Out):
    kind: str
    searched: int
    matches: list[MatchOut] = Field(description="Best first.")


class MisuseReportOut(Out):
    item_id: int
    buyer: str
    received_in: list[ReceiptOut]


@router.post("/trace", max_body_size=trust.MAX_TRACE_BODY_BYTES)
async def trace(
    request: Request,
    actor: Actor = requires(Permission.MISUSE_TRACE),
    svc: Services = Depends(services),
) -> TraceOut:
    """Upload a file (multipart, part ``file``): the items it matches among those the
    caller may search, and who received each copy (as far as the caller may know)."""
    try:
        form = await read_form(request, max_file_bytes=lambda _f: MAX_TRACE_BYTES, max_files=1)
    except FileTooLarge:
        raise contributions.UploadTooLarge(
            f"a file to trace may be at most {contributions.human(MAX_TRACE_BYTES)}"
        ) from None
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise RequestValidationError([{"type": "missing", "loc": ("file",), "msg": ""}])
        return await run_in_threadpool(_trace, svc, actor, file)
    finally:
        await form.close()


def _trace(svc: Services, actor: Actor, file: UploadFile) -> TraceOut:
    query = trust.query_of(file.file.read())  # before any transaction
    with svc.uow() as unit:
        return TraceOut.model_validate(trust.trace(unit, svc.storage, actor, query))


@router.post("/items/{item_id}/misuse-reports", status_code=201)
def report_misuse(
    item_id: RowId,
    body: MisuseReportIn,
    actor: Actor = requires(Permission.MISUSE_REPORT),
    unit: UnitOfWork = unit_of_work(),
) -> MisuseReportOut:
    """Report that a buyer which received the item may have misused it: reaches the
    operators and the buyer, and shows in the item's passport."""
    reported = trust.open_misuse_report(unit, actor, item_id, body.org_id, body.note)
    return MisuseReportOut.model_validate(reported)
