"""Resumable uploads over tus 1.0 (https://tus.io/protocols/resumable-upload) under /files/:
creation, offset (HEAD), PATCH, termination, expiration and checksum. The HTTP framing
lives here; the rules live in ``services.uploads``.

PATCH is a plain (threadpool) route that pulls the body from the event loop chunk by chunk
(``anyio.from_thread``), so the service reads a sync iterator and never holds the body."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime

import anyio.from_thread
from fastapi import Depends, Request, Response

from datatrust.bootstrap import Services
from datatrust.domain.clock import as_utc
from datatrust.domain.errors import DomainError, InvalidInput
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import contributions
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import api_router, requires, services, unit_of_work

router = api_router(prefix="/files", tags=["uploads"])
OFFSET_TYPE = "application/offset+octet-stream"


class VersionUnsupported(DomainError):
    code = "tus_version"
    status = 412


class WrongContentType(DomainError):
    code = "unsupported_media_type"
    status = 415


def staging(svc: Services = Depends(services)) -> contributions.Staging:
    return svc.staging


def _tus(request: Request) -> None:
    sent = request.headers.get("tus-resumable")
    if sent != contributions.TUS_VERSION:
        raise VersionUnsupported(
            f"send the header Tus-Resumable: {contributions.TUS_VERSION} (got {sent!r})",
            {"supported": contributions.TUS_VERSION},
        )


def _headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": contributions.TUS_VERSION, "Cache-Control": "no-store", **extra}


def _expires(moment: datetime) -> str:
    return format_datetime(as_utc(moment), usegmt=True)


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata: key base64,key2 base64`` → dict. Keys without values map to ""."""
    out: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in (header or "").split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidInput(f"Upload-Metadata: {key!r} is not base64 of UTF-8 text") from None
    return out


def _body(request: Request) -> Iterator[bytes]:
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = anyio.from_thread.run(stream.__anext__)
        except StopAsyncIteration:
            return
        if chunk:
            yield chunk


@router.options("/")
def capabilities(_actor: Actor = requires(Permission.PUBLIC_READ)) -> Response:
    return Response(
        status_code=204,
        headers=_headers(
            **{
                "Tus-Version": contributions.TUS_VERSION,
                "Tus-Extension": ",".join(contributions.TUS_EXTENSIONS),
                "Tus-Max-Size": str(contributions.max_size()),
                "Tus-Checksum-Algorithm": ",".join(contributions.CHECKSUM_ALGORITHMS),
            }
        ),
    )


@router.post("/", status_code=201)
def create(
    request: Request,
    actor: Actor = requires(Permission.ITEM_CREATE),
    unit: UnitOfWork = unit_of_work(),
    stage: contributions.Staging = Depends(staging),
    svc: Services = Depends(services),
) -> Response:
    _tus(request)
    upload = contributions.start_upload(
        unit,
        stage,
        actor,
        length=request.headers.get("upload-length"),
        metadata=parse_metadata(request.headers.get("upload-metadata")),
        storage=svc.storage,
    )
    return Response(
        status_code=201,
        headers=_headers(
            Location=str(request.url_for("tus_offset", upload_id=upload.id)),
            **{"Upload-Expires": _expires(upload.expires_at)},
        ),
    )


def _state_headers(state: contributions.UploadState) -> dict[str, str]:
    headers = {
        "Upload-Offset": str(state.offset),
        "Upload-Length": str(state.upload.length),
    }
    if state.item_id is None:
        headers["Upload-Expires"] = _expires(state.expires_at)
    else:
        headers["Datatrust-Item-Id"] = str(state.item_id)
    return _headers(**headers)


@router.head("/{upload_id}", name="tus_offset")
def offset(
    upload_id: str,
    request: Request,
    actor: Actor = requires(Permission.ITEM_CREATE),
    unit: UnitOfWork = unit_of_work(),
    stage: contributions.Staging = Depends(staging),
) -> Response:
    _tus(request)
    state = contributions.upload_state(unit, stage, actor, upload_id)
    return Response(status_code=200, headers=_state_headers(state))


# The largest upload of any kind may arrive in one PATCH; the service refuses (and keeps
# nothing of) a PATCH that goes past its upload's own length.
@router.patch("/{upload_id}", max_body_size=contributions.max_size())
def patch(
    upload_id: str,
    request: Request,
    actor: Actor = requires(Permission.ITEM_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    stage: contributions.Staging = Depends(staging),
) -> Response:
    _tus(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_TYPE:
        raise WrongContentType(f"PATCH bodies must be sent as Content-Type: {OFFSET_TYPE}")
    state = contributions.append_chunk(
        unit,
        svc.storage,
        stage,
        actor,
        upload_id,
        offset=request.headers.get("upload-offset"),
        chunks=_body(request),
        checksum=request.headers.get("upload-checksum"),
        length=request.headers.get("content-length"),
    )
    return Response(status_code=204, headers=_state_headers(state))


@router.delete("/{upload_id}")
def terminate(
    upload_id: str,
    request: Request,
    actor: Actor = requires(Permission.ITEM_CREATE),
    unit: UnitOfWork = unit_of_work(),
    stage: contributions.Staging = Depends(staging),
) -> Response:
    _tus(request)
    contributions.terminate_upload(unit, stage, actor, upload_id)
    return Response(status_code=204, headers=_headers())
