"""A contributor's items: upload (multipart, small files), list, read, own download."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse

from datatrust.bootstrap import Services
from datatrust.domain.items import Item
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import ingest, items, upload_limits
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import ItemOut
from datatrust.web.deps import requires, services, stream, uow
from datatrust.web.security import attachment

router = APIRouter(prefix="/api/items", tags=["items"])
CHUNK = 1024 * 1024


def item_out(item: Item | items.ItemView) -> ItemOut:
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


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    while chunk := upload.file.read(CHUNK):
        yield chunk


@router.post("", status_code=201, max_body_size=upload_limits.multipart_body_limit())
def upload(
    kind: str = Form(...),
    title: str = Form(""),
    file: UploadFile = File(...),
    campaign_id: int | None = Form(None),
    lat: float | None = Form(None),
    lng: float | None = Form(None),
    me: str | None = Form(None, max_length=200),
    transcript: str | None = Form(None),
    actor: Actor = requires(Permission.ITEM_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> ItemOut:
    item = items.receive_item(
        unit,
        svc.storage,
        actor,
        kind=kind,
        filename=file.filename or "upload",
        content_type=file.content_type or "application/octet-stream",
        chunks=_chunks(file),
        title=title,
        campaign_id=campaign_id,
        metadata={"lat": lat, "lng": lng, "me": me},
        transcript=transcript,
        size=file.size,
    )
    return item_out(items.readable(unit, svc.storage, item))


@router.get("")
def my_items(
    actor: Actor = requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> list[ItemOut]:
    return [item_out(i) for i in items.show_my_items(unit, svc.storage, actor)]


@router.get("/{item_id}")
def get_item(
    item_id: int,
    actor: Actor = requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> ItemOut:
    return item_out(items.show_item(unit, svc.storage, actor, item_id))


@router.get("/{item_id}/original")
def download_original(
    item_id: int,
    actor: Actor = requires(Permission.ITEM_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> StreamingResponse:
    """The bytes as uploaded, always as a download (never shown inline, whatever type the
    uploader declared): a stored HTML or SVG file must not run on this origin."""
    item, chunks = items.open_original(unit, svc.storage, actor, item_id)
    response = stream(chunks, item.content_type)
    response.headers["content-disposition"] = attachment(f"item-{item_id}-original")
    return response


@router.get("/{item_id}/preview")
def preview(
    item_id: int,
    part: str = Query("media", pattern="^(media|transcript)$"),
    actor: Actor = requires(Permission.ITEM_PREVIEW),
    svc: Services = Depends(services),
    unit: UnitOfWork = Depends(uow),
) -> StreamingResponse:
    """The de-identified version of the caller's own item: exactly what would ship."""
    shown = ingest.open_preview(unit, svc.storage, actor, item_id, part)
    return stream(shown.chunks, shown.content_type)


@router.get("/{item_id}/removed")
def removed(
    item_id: int,
    actor: Actor = requires(Permission.ITEM_PREVIEW),
    unit: UnitOfWork = Depends(uow),
) -> dict:
    """What de-identification removed: counts and plain words ("3 faces blurred")."""
    return ingest.removed_from(unit, actor, item_id)
