"""Evaluation samples: a vetted buyer sees a few items of a selection before buying.

A sample is small (``SAMPLE_MAX_ITEMS`` a request), taken from an order the buyer declared
(its items already passed every licence check for the declared use), built from the
de-identified versions only, and marked as a sample for that buyer: photos are shrunk to
a preview and carry the buyer's name across them; chats are cut short and headed with it.
Items of other kinds have no preview yet and are left out, saying so. An organisation may
see at most ``limit`` items in samples in all (``evaluation_sample_limit``). Each item
seen is recorded for its contributor (``sample:access``, in the item's passport, naming the
buyer) in the same transaction as the sample's rows.
"""

from __future__ import annotations

import base64
import io
from datetime import datetime
from typing import Any

from PIL import Image, ImageDraw

from datatrust.domain.accounts import Organisation
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.orders import Order
from datatrust.domain.permissions import Actor, Permission
from datatrust.domain.samples import EvaluationSample
from datatrust.services.accounts import actor_label
from datatrust.services.market.orders import approved_org
from datatrust.services.ports import UnitOfWork, by_ids
from datatrust.services.storage import EncryptedStorage

SAMPLE_MAX_ITEMS = 5
PREVIEW_PIXELS = 320  # the longer side of a photo's preview
CHAT_PREVIEW_LINES = 12
PREVIEWABLE = (ItemKind.PHOTO, ItemKind.CHAT)


def _mark(org: Organisation, day: str) -> str:
    return f"EVALUATION SAMPLE - {org.legal_name} - {day} - NOT LICENSED"


def watermark_photo(data: bytes, mark: str) -> bytes:
    """A preview: the photo shrunk to ``PREVIEW_PIXELS`` on its longer side, the mark
    written across it in rows, re-encoded without metadata."""
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    image.thumbnail((PREVIEW_PIXELS, PREVIEW_PIXELS))
    draw = ImageDraw.Draw(image)
    step = max(12, image.height // 6)
    for row, y in enumerate(range(0, image.height, step)):
        draw.text((-(row * 37) % 60 - 30, y), f"{mark}   {mark}", fill=(255, 255, 255))
        draw.text((-(row * 37) % 60 - 29, y + 1), f"{mark}   {mark}", fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


def watermark_chat(data: bytes, mark: str) -> bytes:
    lines = data.decode("utf-8", errors="replace").splitlines()[:CHAT_PREVIEW_LINES]
    return "\n".join([f"[{mark}]", *lines, f"[{mark}]"]).encode()


def request_sample(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    order_id: int,
    *,
    items: int,
    limit: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A watermarked sample of up to ``items`` previewable items of the caller's order.

    Refused: a buyer whose organisation is not approved (``PermissionDenied``, audited); an
    order of another organisation (``NotFound``); ``items`` outside 1..``SAMPLE_MAX_ITEMS``
    (``InvalidInput``); more than the organisation's ``limit`` in all, or nothing in the
    order to preview (``Conflict``). A refusal records nothing.
    """
    org = approved_org(uow, actor, Permission.SAMPLE_REQUEST)
    if not 1 <= items <= SAMPLE_MAX_ITEMS:
        raise InvalidInput(Problem("items", "between", {"minimum": 1, "maximum": SAMPLE_MAX_ITEMS}))
    order = uow.get(Order, order_id)
    if order is None or order.org_id != org.id:
        raise NotFound(Problem(None, "order.not_found"))
    moment = as_utc(now or utcnow())
    with uow.reading():
        used = uow.count(EvaluationSample, org_id=org.id)
        candidates = [
            i
            for i in by_ids(uow, Item, order.item_ids)
            if i.status is ItemStatus.LISTED and i.deidentified_key and i.kind in PREVIEWABLE
        ]
        candidates.sort(key=lambda i: i.id or 0)
        left_out = len(order.item_ids) - len(candidates)
        chosen = candidates[:items]
        if not chosen:
            raise Conflict(Problem(None, "sample.nothing_previewable"))
        if used + len(chosen) > limit:
            raise Conflict(
                Problem(
                    "items",
                    "sample.limit",
                    {"limit": limit, "used": used, "left": max(0, limit - used)},
                ),
                {"limit": limit, "used": used},
            )
        mark = _mark(org, moment.date().isoformat())
        shown = []
        for item in chosen:
            assert item.deidentified_key is not None
            data = b"".join(storage.open(uow, item.owner_id, item.deidentified_key))
            if item.kind is ItemKind.PHOTO:
                body, content_type = watermark_photo(data, mark), "image/jpeg"
            else:
                body, content_type = watermark_chat(data, mark), "text/plain; charset=utf-8"
            shown.append((item, body, content_type))
    out = []
    for position, (item, body, content_type) in enumerate(shown, start=1):
        uow.add(
            EvaluationSample(
                org_id=id_of(org),
                item_id=id_of(item),
                order_id=id_of(order),
                requested_by=actor.uid,
                created_at=moment,
            )
        )
        uow.record(
            AuditTag.SAMPLE_ACCESS,
            actor_label(actor),
            "item",
            item.id,
            org_id=org.id,
            org_name=org.legal_name,
            order_id=order.id,
        )
        out.append(
            {
                "sample": position,
                "kind": item.kind.value,
                "content_type": content_type,
                "data_base64": base64.b64encode(body).decode(),
            }
        )
    uow.commit()
    return {
        "order_id": order.id,
        "items": out,
        "not_previewable": left_out,
        "limit": limit,
        "used": used + len(out),
        "mark": mark,
    }
