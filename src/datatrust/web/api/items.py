"""A contributor's items: upload (multipart; tus under /files/ resumes), list, read, own
download."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from datatrust.bootstrap import Services
from datatrust.domain.items import Item, ItemKind
from datatrust.domain.missed import MarkKind, MissedMark
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import contributions
from datatrust.services.contributions import MAX_TRANSCRIPT_BYTES
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import ItemOut, MissedIn, MissedOut, Out
from datatrust.web.deps import RowId, api_router, requires, services, stream, unit_of_work
from datatrust.web.forms import FileTooLarge, read_form
from datatrust.web.security import attachment

router = api_router(prefix="/api/items", tags=["items"])
CHUNK = 1024 * 1024
# A contributor's item list is paged: a long-time contributor's thousands of items are
# never read, opened and sent in one response (issue 12: it grew with every upload).
PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000  # keeps the row offset within what every database takes


def item_out(item: Item | contributions.ItemView) -> ItemOut:
    return ItemOut(
        id=item.id,
        kind=item.kind.value,
        status=item.status.value,
        title=item.title,
        filename=item.filename,
        content_type=item.content_type,
        size=item.size,
        original_sha256=item.original_sha256,
        h3_cell=item.h3_cell,
        report=item.report,
        created_at=item.created_at,
    )


class UploadFields(BaseModel):
    """The text fields of a multipart upload; the file is its ``file`` part."""

    kind: str
    title: str = ""
    campaign_id: RowId | None = None
    lat: float | None = None
    lng: float | None = None
    me: str | None = Field(None, max_length=200)
    transcript: str | None = None


UPLOAD_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    **UploadFields.model_json_schema(),
                    "properties": {
                        **UploadFields.model_json_schema()["properties"],
                        "file": {"type": "string", "format": "binary"},
                    },
                    "required": ["kind", "file"],
                }
            }
        },
    }
}


def _file_limit(fields: dict[str, str]) -> int:
    """What the file may hold: its kind's limit when the form names the kind before the
    file (browsers, ``curl -F`` and httpx send fields in order), else the largest of any
    kind (and its kind's limit is checked once the form is read)."""
    try:
        return contributions.max_bytes(ItemKind(fields.get("kind", "")))
    except ValueError:
        return contributions.max_size()


@router.post(
    "",
    status_code=201,
    max_body_size=contributions.multipart_body_limit(),
    openapi_extra=UPLOAD_FORM,
)
async def upload(
    request: Request,
    actor: Actor = requires(Permission.ITEM_CREATE),
    svc: Services = Depends(services),
) -> ItemOut:
    """Upload a file (multipart: the fields of ``UploadFields`` and a ``file`` part).

    The route parses its own form, after the caller is authenticated, so that a file is
    refused (413) as soon as it streams past its kind's limit and nothing past it is
    spooled; a body declared over the largest kind's limit is refused before any of it
    is read (the route's body limit)."""
    try:
        form = await read_form(
            request,
            max_file_bytes=_file_limit,
            max_files=1,
            max_fields=20,
            max_part_size=MAX_TRANSCRIPT_BYTES + 1,  # a call's transcript is a field
        )
    except FileTooLarge as exc:
        kind = exc.fields.get("kind", "")
        if kind in {k.value for k in ItemKind}:
            raise contributions.too_large(ItemKind(kind), None) from None
        raise contributions.UploadTooLarge(
            f"an upload may be at most {contributions.human(exc.max_file_bytes)}"
        ) from None
    try:
        file = form.get("file")
        try:
            fields = UploadFields.model_validate(
                {k: v for k, v in form.multi_items() if isinstance(v, str)}
            )
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        if not isinstance(file, UploadFile):
            raise RequestValidationError([{"type": "missing", "loc": ("file",), "msg": ""}])
        return await run_in_threadpool(_receive, svc, actor, fields, file)
    finally:
        await form.close()


def _receive(svc: Services, actor: Actor, fields: UploadFields, file: UploadFile) -> ItemOut:
    with svc.uow() as unit:
        item = contributions.receive_item(
            unit,
            svc.storage,
            actor,
            kind=fields.kind,
            filename=file.filename or "upload",
            content_type=file.content_type or "application/octet-stream",
            chunks=iter(lambda: file.file.read(CHUNK), b""),
            title=fields.title,
            campaign_id=fields.campaign_id,
            metadata={"lat": fields.lat, "lng": fields.lng, "me": fields.me},
            transcript=fields.transcript,
            size=file.size,
        )
        return item_out(contributions.readable(unit, svc.storage, item))


@router.get("")
def my_items(
    request: Request,
    response: Response,
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(PER_PAGE, ge=1, le=MAX_PER_PAGE),
    actor: Actor = requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> list[ItemOut]:
    """The caller's items, newest first, one page of ``per_page`` (50 unless asked; at
    most 200): ``page`` 1 unless asked. ``X-Total-Count`` says how many there are and
    ``Link`` gives the ``next``/``prev`` pages where there are some (RFC 8288); a page past
    the last is an empty list."""
    shown = contributions.show_my_items_page(unit, svc.storage, actor, page=page, size=per_page)
    response.headers["X-Total-Count"] = str(shown.total)
    links = [
        f'<{request.url.include_query_params(page=n, per_page=per_page)}>; rel="{rel}"'
        for rel, n, there in [
            ("prev", page - 1, 1 < page <= shown.pages + 1),
            ("next", page + 1, page < shown.pages),
        ]
        if there
    ]
    if links:
        response.headers["Link"] = ", ".join(links)
    return [item_out(i) for i in shown.rows]


@router.get("/{item_id}")
def get_item(
    item_id: RowId,
    actor: Actor = requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ItemOut:
    return item_out(contributions.show_item(unit, svc.storage, actor, item_id))


@router.get("/{item_id}/original")
def download_original(
    item_id: RowId,
    actor: Actor = requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> StreamingResponse:
    """The bytes as uploaded, always as a download (never shown inline, whatever type the
    uploader declared): a stored HTML or SVG file must not run on this origin."""
    item, chunks = contributions.open_original(unit, svc.storage, actor, item_id)
    response = stream(chunks, item.content_type)
    response.headers["content-disposition"] = attachment(f"item-{item_id}-original")
    return response


@router.get("/{item_id}/preview")
def preview(
    item_id: RowId,
    part: str = Query("media", pattern="^(media|transcript)$"),
    actor: Actor = requires(Permission.ITEM_PREVIEW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> StreamingResponse:
    """The de-identified version of the caller's own item: exactly what would ship."""
    shown = contributions.open_preview(unit, svc.storage, actor, item_id, part)
    return stream(shown.chunks, shown.content_type)


class RemovedOut(Out):
    item_id: int
    status: str
    removed: dict[str, Any] = Field(description="What was removed, counted by kind.")
    summary: list[str] = Field(description="The same in plain words.")
    reasons: list[dict[str, Any]] = Field(description="Why it was held back: code, message.")


@router.get("/{item_id}/removed")
def removed(
    item_id: RowId,
    actor: Actor = requires(Permission.ITEM_PREVIEW),
    unit: UnitOfWork = unit_of_work(),
) -> RemovedOut:
    """What de-identification removed: counts and plain words ("3 faces blurred")."""
    return RemovedOut.model_validate(contributions.removed_from(unit, actor, item_id))


def missed_out(mark: MissedMark) -> MissedOut:
    timed = mark.kind is MarkKind.TIME
    return MissedOut(
        id=mark.id or 0,
        kind=mark.kind.value,
        category=mark.category,
        start=None if timed else mark.start,
        end=None if timed else mark.end,
        length=0 if timed else mark.length,
        box=list(mark.box) if mark.box else None,
        start_ms=mark.start if timed else None,
        end_ms=mark.end if timed else None,
        state=mark.state.value,
    )


@router.post("/{item_id}/missed", status_code=201)
def mark_missed(
    item_id: RowId,
    body: MissedIn,
    actor: Actor = requires(Permission.ITEM_MARK_MISSED),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> list[MissedOut]:
    """ "You missed something": mark what should have been removed from one's own item.
    It is held back and re-done without it; the marks keep no personal detail."""
    made = contributions.mark_missed(
        unit,
        svc.storage,
        actor,
        item_id,
        category=body.category,
        words=body.words,
        start=body.start,
        end=body.end,
        box=tuple(body.box) if body.box else None,  # type: ignore[arg-type]
        start_ms=body.start_ms,
        end_ms=body.end_ms,
    )
    return [missed_out(m) for m in made]


@router.get("/{item_id}/missed")
def list_missed(
    item_id: RowId,
    actor: Actor = requires(Permission.ITEM_MARK_MISSED),
    unit: UnitOfWork = unit_of_work(),
) -> list[MissedOut]:
    return [missed_out(m) for m in contributions.list_marks(unit, actor, item_id)]
