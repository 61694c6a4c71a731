""" "You missed something": a contributor marks, on the preview of their own item, a span of
text, a region of a photo or a stretch of a recording (a name said in a call, a number read
out in a video) that de-identification should have removed; the item is held
back (it has no de-identified version, so nothing of it can be listed, selected or
delivered) until a job has removed what was marked from the version the contributor saw.

Marks keep no personal detail (``domain.missed``): operators count them by category to see
what the recognisers miss.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.items import Item, ItemKind
from datatrust.domain.missed import (
    BOX_SCALE,
    MarkKind,
    MarkState,
    MissedMark,
    check_box,
    check_category,
    check_span,
    check_time_span,
)
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.pipeline import marks as pipeline_marks
from datatrust.pipeline.run import CONTENT_TYPES
from datatrust.services.accounts import actor_label
from datatrust.services.contributions.duplicates import index_fingerprints
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import UnitOfWork
from datatrust.services.storage import EncryptedStorage

APPLY_JOB = "item.apply_missed"
OUTPUT_NAMESPACE = "deidentified"  # as services.ingest stores what ships


def _text_format(item: Item) -> str | None:
    """``json`` (a chat) or ``txt`` (a call that ships its transcript only) when what ships
    is text; None otherwise."""
    fmt = item.shipped_format
    if item.kind is ItemKind.CHAT and fmt == "json":
        return "json"
    if item.kind is ItemKind.CALL and fmt == "txt":
        return "txt"
    return None


# Kinds whose de-identified version is a recording (a call may ship its transcript only).
_RECORDINGS = frozenset({ItemKind.AMBIENT, ItemKind.VOICE, ItemKind.CALL, ItemKind.VIDEO})


def _recording_format(item: Item) -> str | None:
    """The shipped format (``mp4``, ``opus``, ``mp3`` …) when what ships is a recording."""
    fmt = item.shipped_format
    if item.kind in _RECORDINGS and fmt and _text_format(item) is None:
        return fmt
    return None


def mark_missed(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    item_id: int,
    *,
    category: str,
    start: int | None = None,
    end: int | None = None,
    words: str | None = None,
    box: tuple[int, int, int, int] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[MissedMark]:
    """Mark what should have been removed from the caller's own item; commits.

    Text (a chat, or a call shipping its transcript): ``start``/``end`` (character offsets
    into the text the preview shows) or ``words`` (every place they occur is marked; the
    words themselves are not kept). A photo: ``box`` = (left, top, width, height) in
    thousandths of its size. A recording (ambient sound, a voice sample, a call, a video's
    soundtrack): ``start_ms``/``end_ms``, the stretch to bleep. The item loses its
    de-identified version until the ``item.apply_missed`` job has removed the marks from it
    (nothing ships meanwhile).

    Raises ``NotFound`` for an item that is not the caller's, ``Conflict`` when nothing
    of it can change any more or it is already being re-done, ``InvalidInput`` for a mark
    that does not fit the item (the message names the field)."""
    item = uow.get_for_update(Item, item_id)
    authorize(actor, Permission.ITEM_MARK_MISSED, item or MISSING)
    assert item is not None and item.id is not None
    check_category(category)
    if not item.ships:
        raise Conflict(
            Problem(None, "missed.nothing_ships", {"item": item.id, "state": item.status.value})
        )
    if not item.deidentified_key:
        raise Conflict(Problem(None, "missed.reprocessing", {"item": item.id}))
    fmt = _text_format(item)
    made: list[MissedMark] = []
    if fmt is not None:
        text = b"".join(storage.open(uow, item.owner_id, item.deidentified_key)).decode("utf-8")
        if words is not None:
            spans = pipeline_marks.find_spans(text, words.strip(), json_document=fmt == "json")
            if not spans:
                raise InvalidInput(Problem("words", "missed.words_not_found"))
        elif start is not None and end is not None:
            check_span(start, end, len(text))
            spans = [(start, end)]
        else:
            raise InvalidInput(Problem("words", "missed.words_or_span"))
        # Refuse now a mark that could not be applied (one across a chat's structure).
        pipeline_marks.remove_spans(text, spans, json_document=fmt == "json")
        made += [
            _new_mark(item, MarkKind.TEXT, category, start=s, end=e, length=e - s) for s, e in spans
        ]
    elif item.kind is ItemKind.PHOTO:
        if box is None:
            raise InvalidInput(Problem("box", "missed.box_required"))
        check_box(box)
        left, top, width, height = box
        made.append(
            _new_mark(
                item,
                MarkKind.REGION,
                category,
                box_left=left,
                box_top=top,
                box_width=width,
                box_height=height,
            )
        )
    elif _recording_format(item) is not None:
        if start_ms is None or end_ms is None:
            raise InvalidInput(Problem("start_ms", "missed.stretch_required"))
        recording = b"".join(storage.open(uow, item.owner_id, item.deidentified_key))
        length = pipeline_marks.soundtrack_ms(recording)
        if length is None:
            raise InvalidInput(Problem("start_ms", "missed.no_sound"))
        check_time_span(start_ms, end_ms, length)
        made.append(
            _new_mark(
                item, MarkKind.TIME, category, start=start_ms, end=end_ms, length=end_ms - start_ms
            )
        )
    else:
        raise InvalidInput(Problem("item_id", "missed.kind"))
    for mark in made:
        uow.add(mark)
    uow.flush()
    # Held back: no de-identified version, so it cannot be listed, selected or delivered
    # (selection leaves a listed item without one out as no_deidentified_version).
    item.deidentified_key = None
    item.deidentified_sha256 = None
    item.updated_at = utcnow()
    uow.record(
        AuditTag.ITEM_MARK_MISSED,
        actor_label(actor),
        "item",
        item.id,
        kind=made[0].kind.value,
        category=category,
        marks=len(made),
    )
    uow.enqueue(APPLY_JOB, {"item_id": item.id}, key=f"{APPLY_JOB}:{item.id}:{made[0].id}")
    uow.commit()
    return made


def _new_mark(
    item: Item,
    kind: MarkKind,
    category: str,
    *,
    start: int | None = None,
    end: int | None = None,
    length: int = 0,
    box_left: int | None = None,
    box_top: int | None = None,
    box_width: int | None = None,
    box_height: int | None = None,
) -> MissedMark:
    assert item.id is not None and item.deidentified_key is not None
    return MissedMark(
        item_id=item.id,
        owner_id=item.owner_id,
        item_kind=item.kind,
        kind=kind,
        category=category,
        source_key=item.deidentified_key,
        start=start,
        end=end,
        length=length,
        box_left=box_left,
        box_top=box_top,
        box_width=box_width,
        box_height=box_height,
    )


def list_marks(uow: UnitOfWork, actor: Actor, item_id: int) -> list[MissedMark]:
    """The caller's marks on their own item, oldest first."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.ITEM_MARK_MISSED, item or MISSING)
    return uow.all(MissedMark, item_id=item_id, order_by="id")


@job(APPLY_JOB)
def apply_missed_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    apply_marks(uow, ctx.services.storage, int(payload["item_id"]))


def apply_marks(uow: UnitOfWork, storage: EncryptedStorage, item_id: int) -> Item | None:
    """Remove the item's pending marks from the version they were made on, store that as
    what ships, and mark them applied; commits. Idempotent: with nothing pending, or an
    item withdrawn meanwhile, nothing happens (a withdrawn item stays without a version)."""
    item = uow.get_for_update(Item, item_id)
    if item is None:
        return None
    pending = uow.all(MissedMark, item_id=item_id, state=MarkState.PENDING, order_by="id")
    if not pending or not item.ships:
        return item
    source = pending[0].source_key
    data = b"".join(storage.open(uow, item.owner_id, source))
    fmt = _text_format(item)
    recording = _recording_format(item)
    if fmt is not None:
        spans = [(m.start or 0, m.end or 0) for m in pending]
        out = pipeline_marks.remove_spans(
            data.decode("utf-8"), spans, json_document=fmt == "json"
        ).encode("utf-8")
    elif recording is not None:
        stretches = [((m.start or 0) / 1000, (m.end or 0) / 1000) for m in pending]
        out, recording = pipeline_marks.bleep_spans(data, recording, stretches)
    else:
        boxes = [m.box for m in pending if m.box is not None]
        out = pipeline_marks.blur_regions(data, boxes, BOX_SCALE)
    stored = storage.put(uow, item.owner_id, [out], namespace=OUTPUT_NAMESPACE)
    item.deidentified_key, item.deidentified_sha256 = stored.key, stored.sha256
    report = dict(item.report or {})
    removed = dict(report.get("removed") or {})
    removed["marked_missed"] = removed.get("marked_missed", 0) + len(pending)
    report["removed"] = removed
    output = dict(report.get("output") or {})
    output["size"] = stored.size
    if recording is not None:  # an MP3 comes back as Opus
        output["format"] = recording
        output["content_type"] = CONTENT_TYPES.get(recording, item.shipped_content_type)
    report["output"] = output
    item.write_report(report)
    item.fingerprints = {**(item.fingerprints or {}), "sha256_output": stored.sha256}
    index_fingerprints(uow, item)
    item.updated_at = utcnow()
    for mark in pending:
        mark.state, mark.applied_at = MarkState.APPLIED, utcnow()
    uow.record(
        AuditTag.ITEM_REPROCESS, "system", "item", item.id, by="missed_marks", marks=len(pending)
    )
    uow.commit()
    return item


def count_missed(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    """Operators: how many marks contributors made, by item kind, mark kind and category,
    most first. No item, owner or offset is shown."""
    authorize(actor, Permission.AUDIT_READ)
    counts: Counter[tuple[str, str, str]] = Counter(
        (m.item_kind.value, m.kind.value, m.category) for m in uow.all(MissedMark)
    )
    return [
        {"item_kind": k, "mark_kind": mk, "category": c, "count": n}
        for (k, mk, c), n in counts.most_common()
    ]
