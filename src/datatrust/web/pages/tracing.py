"""The misuse-tracing page (issue 17 §3), for contributors, buyers and operators alike:
upload a file found outside, see the items it matches and, where the reader may know it,
which buyer received which copy; a contributor opens a misuse report from a match.

The search and who sees what are ``services.tracing``'s; this page only words them.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Form, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from datatrust.bootstrap import Services
from datatrust.domain.errors import InvalidInput
from datatrust.domain.permissions import Permission
from datatrust.services import contributions, trust
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import RowId, services, unit_of_work
from datatrust.web.forms import FileTooLarge
from datatrust.web.pages.common import (
    FormPage,
    Page,
    field_errors,
    form_page_requires,
    page_requires,
    page_router,
    render,
)

router = page_router()

# How a match was found (``pipeline.trace.Score.how``), in words to translate.
HOW_WORDS = {
    "phash": "The whole picture matches",
    "keypoints": "Details of the picture match (a crop or a part of it)",
    "audio": "The sound matches",
    "frames": "Frames of the video match",
}
# What the uploaded file was read as (``pipeline.trace.Query.kind``).
QUERY_KINDS = {"photo": "a photo", "video": "a video", "audio": "a sound recording"}


@router.get("/trace")
def trace_form(page: Page = page_requires(Permission.MISUSE_TRACE)) -> HTMLResponse:
    return render(page, "trace.html", result=None, errors={})


@router.post("/trace", max_body_size=trust.MAX_TRACE_BODY_BYTES)
async def trace_file(
    page: FormPage = form_page_requires(Permission.MISUSE_TRACE),
    svc: Services = Depends(services),
) -> HTMLResponse:
    """Trace the uploaded file; the matches as the caller may see them."""
    try:
        form = await page.form(max_files=1, max_fields=4, max_file_bytes=trust.MAX_TRACE_BYTES)
    except FileTooLarge:
        limit = contributions.human(trust.MAX_TRACE_BYTES)
        errors = {"file": [page._("The file is too large: at most %(size)s.") % {"size": limit}]}
        return render(page, "trace.html", 413, result=None, errors=errors)
    try:
        return await run_in_threadpool(_trace, svc, page, form)
    finally:
        await form.close()


def _trace(svc: Services, page: Page, form: FormData) -> HTMLResponse:
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        errors = {"file": [page._("Choose a file to trace.")]}
        return render(page, "trace.html", 422, result=None, errors=errors)
    try:
        query = trust.query_of(file.file.read())
    except InvalidInput:
        errors = {"file": [page._("This file cannot be read as a photo, a video or a sound.")]}
        return render(page, "trace.html", 422, result=None, errors=errors)
    with svc.uow() as unit:
        found = trust.trace(unit, svc.storage, page.actor, query)
    return render(page, "trace.html", result=_in_words(page, found), errors={})


def _in_words(page: Page, found: dict[str, Any]) -> dict[str, Any]:
    kind = QUERY_KINDS[found["kind"]]
    matches = []
    for match in found["matches"]:
        how = HOW_WORDS.get(match["how"], HOW_WORDS["phash"])
        matches.append({**match, "how_words": page._(how)})
    return {"kind": page._(kind), "searched": found["searched"], "matches": matches}


@router.post("/my/items/{item_id}/misuse-reports")
def report_misuse(
    item_id: RowId,
    page: Page = page_requires(Permission.MISUSE_REPORT),
    unit: UnitOfWork = unit_of_work(),
    org_id: RowId = Form(...),
    note: str = Form(""),
) -> Response:
    """The contributor reports a buyer that received the item; the passport shows it."""
    try:
        trust.open_misuse_report(unit, page.actor, item_id, org_id, note)
    except InvalidInput as exc:
        return render(page, "trace.html", 422, result=None, errors=field_errors(page, exc))
    return RedirectResponse(f"/my/items/{item_id}/passport", status_code=303)
