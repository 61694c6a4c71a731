"""Processing a received item: validate → quality → de-identify → fingerprint → duplicates
→ store, run as the ``item.process`` job; and what its owner may see of the result.

``pipeline.run.run_pipeline`` is the whole pipeline on a local file with no database
(the ``datatrust ingest`` command uses it as is); ``process_item`` wraps it for a stored
item: decrypt the original into a private scratch folder (``services.scratch``: removed on
any exit, swept after a kill; the decrypted original itself never has a name there), run
it, check near-duplicates against every other item, store the de-identified output
encrypted under the contributor's key, and move the item received → validated →
processed → accepted or rejected, with audit events, in the job's one transaction.

A worker survives every bad file: nothing about an item's bytes raises out of
``process_item``; the failure becomes a rejection whose reason names the stage.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import Campaign, coverage_gap
from datatrust.domain.clock import as_utc
from datatrust.domain.errors import InvalidInput, NotFound, Problem
from datatrust.domain.items import Item, ItemKind, ItemStatus, ReviewState
from datatrust.domain.missed import MissedMark
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.pipeline.run import (
    PipelineResult,
    blank_report,
    cell_centre,
    check_campaign_place,
    kept_fingerprints,
    run_pipeline,
)
from datatrust.pipeline.transcripts import other_speakers
from datatrust.services.accounts import actor_label
from datatrust.services.campaigns import coverage
from datatrust.services.contributions.duplicates import check_duplicates, index_fingerprints
from datatrust.services.contributions.participants import (
    CONVERSATION_KINDS,
    REPROCESS_JOB,
    all_confirmed,
    confirmed_labels,
    invite_participants,
    reprocessable,
)
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import UnitOfWork
from datatrust.services.scratch import scratch_dir, unnamed_copy
from datatrust.services.storage import EncryptedStorage, StoredObject

log = logging.getLogger(__name__)

PROCESS_JOB = "item.process"
WORK_DIR = "work"  # under the data directory: the jobs' scratch folders
OUTPUT_NAMESPACE = "deidentified"
TRANSCRIPT_NAMESPACE = "transcripts"
MAX_TRANSCRIPT_BYTES = 2 * 1024 * 1024
NOTHING_TO_SHIP = (
    "Nothing of this call can ship yet, so it is not sent for review or paid. Upload it "
    "again with a transcript in which every line starts with its speaker ('Me: …', "
    "'Agent: …'): then your own words can ship, and everyone else on the call gets a "
    "link to confirm theirs."
)


# --------------------------------------------------------------------------- the job


def processing_key(item_id: int, consent_id: int | None = None) -> str:
    """The outbox key of an item's ``item.process`` job: one per item, and one more per
    consent given again to an item withdrawn before its checks finished."""
    key = f"{PROCESS_JOB}:{item_id}"
    return key if consent_id is None else f"{key}:consent:{consent_id}"


def enqueue_processing(uow: UnitOfWork, item: Item, *, consent_id: int | None = None) -> None:
    """Queue ``item.process`` in the caller's transaction, sent after it commits (keyed by
    item: queued once). ``consent_id``: the consent given again under which an item
    withdrawn before its checks finished (its first job found it withdrawn and did
    nothing) is checked again, back in ``received``: a job of its own."""
    key = processing_key(item.id or 0, consent_id)
    uow.enqueue(PROCESS_JOB, {"item_id": item.id}, key=key)


PROCESSING_FAILED = (
    "We could not process this upload: it failed several times on our side (the problem "
    "was logged). Upload the file again; if it fails again, tell us."
)


def reject_after_failures(uow: UnitOfWork, payload: dict[str, Any], error: str) -> None:
    """``item.process`` failed its last attempt (a crash outside the pipeline's own guard,
    a worker killed every time): reject the item with ``processing_failed`` so its
    contributor can act, instead of leaving it ``received`` for ever. Commits; an item
    that got further meanwhile is left alone."""
    item = uow.get_for_update(Item, int(payload["item_id"]))
    if item is None or item.status not in (ItemStatus.RECEIVED, ItemStatus.VALIDATED):
        return
    report = dict(item.report or {})
    report["verdict"] = "rejected"
    report["reasons"] = [{"code": "processing_failed", "message": PROCESSING_FAILED}]
    item.move_to(ItemStatus.REJECTED)
    item.write_report(report)
    uow.record(
        AuditTag.ITEM_REJECT, "system", "item", item.id, by="jobs", codes=["processing_failed"]
    )
    uow.commit()


def _job_options(ctx: JobContext) -> dict[str, Any]:
    """Where a processing job works, and the secret its participant invitations use."""
    settings = ctx.services.settings
    return {
        "work_root": Path(settings.data_dir) / WORK_DIR,
        "invite_secret": settings.secret_key.get_secret_value().encode(),
    }


@job(PROCESS_JOB, on_give_up=reject_after_failures)
def process_item_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    process_item(uow, ctx.services.storage, int(payload["item_id"]), **_job_options(ctx))


def process_item(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    item_id: int,
    *,
    work_root: Path,
    invite_secret: bytes | None = None,
) -> Item | None:
    """Run the pipeline on a received item and record the outcome; commits.

    Idempotent: an item that is no longer ``received`` (or is gone) is left alone, so a
    re-delivered job does nothing. Nothing about the item's bytes raises: decryption
    failures, decoder errors and bugs all end as a rejection naming the stage.

    An accepted chat or call ships only the contributor's side; with ``invite_secret``
    each other participant gets a confirmation invitation (``services.participants``)."""
    item = uow.get(Item, item_id)
    if item is None or item.status is not ItemStatus.RECEIVED:
        return item
    campaign = uow.get(Campaign, item.campaign_id) if item.campaign_id else None
    # Seconds of decoding and encoding: as reads, holding no write lock (SQLite).
    with scratch_dir(work_root, prefix=f"item-{item.id}-") as work_dir, uow.reading():
        result, stored = _process_in(uow, storage, item, campaign, str(work_dir))
    item = uow.get_for_update(Item, item_id)
    if item is None or item.status is not ItemStatus.RECEIVED:
        return item  # a second run of this job recorded it meanwhile
    if result.accepted:
        _point_at_output(item, stored)
    _record_outcome(uow, item, campaign, result)
    if result.accepted and item.kind in CONVERSATION_KINDS and invite_secret:
        invite_participants(uow, invite_secret, item, _other_participants(item, result))
    uow.commit()
    return item


def _other_participants(item: Item, result: PipelineResult) -> list[str]:
    """Labels of everyone but the contributor: a chat's not-yet-consented senders; every
    other speaker of a call's transcript (none when it does not say who they are)."""
    if item.kind is ItemKind.CALL:
        return result.report.get("transcript", {}).get("other_speakers") or []
    states = result.report["stages"]["deidentify"].get("participants", {})
    return [label for label, state in states.items() if state == "not_consented"]


@job(REPROCESS_JOB)
def reprocess_item_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    reprocess_conversation(uow, ctx.services.storage, int(payload["item_id"]), **_job_options(ctx))


def reprocess_conversation(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    item_id: int,
    *,
    work_root: Path,
    invite_secret: bytes | None = None,
) -> Item | None:
    """Re-run de-identification of an accepted chat with every participant who has
    confirmed so far, replacing its de-identified version; commits.

    Idempotent (the same confirmations give the same output). An item that is gone, not a
    conversation, or past the point where its shipped version may change (rejected,
    withdrawn, a listed chat) is left alone. A call's audio cannot be split by speaker, so
    a call is re-done only once every other participant has confirmed: then its audio and
    whole (redacted) transcript ship, even when it is already listed (it stays listed);
    until then only its state is recorded. "Every other participant" is every other
    speaker its transcript names (read again here, so an item processed before all of
    them were invited gets the missing invitations, with ``invite_secret``); a transcript
    that names nobody else keeps the audio back for good."""
    item = uow.get_for_update(Item, item_id)
    if item is None or not reprocessable(item):
        return item
    if uow.count(MissedMark, item_id=item.id):
        # The contributor marked details we missed in the version they saw; a run from the
        # original would bring them back (a mark keeps no text to find them again), so the
        # marked version stays what ships, without the newly confirmed side's messages.
        log.warning("item %s has missed-detail marks: not re-done from the original", item.id)
        return item
    labels = confirmed_labels(uow, item.id or 0)
    report = dict(item.report or {})
    if item.kind is ItemKind.CALL:
        report["participants_confirmed"] = labels
        expected = _call_speakers(uow, storage, item)
        if expected and invite_secret:
            invite_participants(uow, invite_secret, item, expected)
        if not all_confirmed(uow, item.id or 0, expected):
            item.write_report(report)
            uow.record(AuditTag.ITEM_REPROCESS, "system", "item", item.id, confirmed=labels)
            uow.commit()
            return item
    campaign = uow.get(Campaign, item.campaign_id) if item.campaign_id else None
    with scratch_dir(work_root, prefix=f"item-{item.id}-") as work_dir:
        result = _run_stored(
            uow,
            storage,
            item,
            campaign,
            str(work_dir),
            consented_labels=labels,
            others_confirmed=item.kind is ItemKind.CALL,
        )
        if not result.accepted:  # it passed before with fewer people: keep what shipped
            log.error("re-processing item %s was refused: %s", item.id, result.report)
            return item
        _store(uow, storage, item, result)
    for key in ("removed", "removed_summary", "output", "transcript", "shipping"):
        if key in result.report:
            report[key] = result.report[key]
        else:
            report.pop(key, None)
    stages = dict(report.get("stages") or {})
    for key in ("deidentify", "fingerprint", "store"):
        stages[key] = result.report["stages"][key]
    report["stages"] = stages
    item.write_report(report)
    item.fingerprints = {**(item.fingerprints or {}), **kept_fingerprints(result.fingerprints)}
    index_fingerprints(uow, item)
    uow.record(AuditTag.ITEM_REPROCESS, "system", "item", item.id, confirmed=labels)
    uow.commit()
    return item


def _call_speakers(uow: UnitOfWork, storage: EncryptedStorage, item: Item) -> list[str] | None:
    """The other speakers the call's stored transcript names (``transcripts.other_speakers``);
    None without a transcript or when it does not say."""
    upload = (item.report or {}).get("upload") or {}
    if not upload.get("transcript_key"):
        return None
    transcript = _read_text(storage, uow, item.owner_id, upload["transcript_key"])
    return other_speakers(transcript, storage.open_text(uow, item.owner_id, upload.get("me")))


def _process_in(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    item: Item,
    campaign: Campaign | None,
    work_dir: str,
) -> tuple[PipelineResult, StoredObject | None]:
    """The pipeline, the campaign's place, duplicates and storing what ships, for a stored
    item: the result and what was stored (None when nothing was)."""
    stored = None
    try:
        result = _run_stored(uow, storage, item, campaign, work_dir)
        if result.accepted:
            check_campaign_place(
                result, (campaign.spec.get("h3_cells") if campaign else None) or []
            )
        if result.accepted:
            _check_duplicates(uow, item, result)
        if result.accepted:
            stored = _store_output(uow, storage, item, result)
        return result, stored
    except Exception as exc:  # a worker must survive every item; the reason names the stage
        log.exception("processing item %s failed", item.id)
        result = PipelineResult(False, blank_report(item.kind, "media"))
        result.reject(
            "processing_error",
            f"Processing failed ({type(exc).__name__}); it was logged. Upload the file again.",
            "store",
        )
        return result, None


def _run_stored(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    item: Item,
    campaign: Campaign | None,
    work_dir: str,
    **extra: Any,
) -> PipelineResult:
    """``run_pipeline`` on a stored item: its original decrypted into a file in
    ``work_dir`` that has no name (``scratch.unnamed_copy``: a killed worker leaves no
    plaintext behind), a call's transcript, what the upload said (``me``, the H3 cell) and
    the campaign's overrides; ``extra`` goes to ``run_pipeline`` (who has confirmed)."""
    upload = (item.report or {}).get("upload") or {}
    transcript = None
    if upload.get("transcript_key"):
        transcript = _read_text(storage, uow, item.owner_id, upload["transcript_key"])
    cell = upload.get("h3_cell")
    decrypted = storage.open(uow, item.owner_id, item.original_key)
    with unnamed_copy(Path(work_dir), decrypted) as original:
        return run_pipeline(
            original,
            item.kind,
            work_dir=work_dir,
            filename=storage.open_text(uow, item.owner_id, item.filename),
            metadata=cell_centre(cell) if cell else None,
            transcript=transcript,
            me=storage.open_text(uow, item.owner_id, upload.get("me")) or None,
            overrides=campaign.media_overrides() if campaign else None,
            **extra,
        )


def _read_text(storage: EncryptedStorage, uow: UnitOfWork, owner_id: int, key: str) -> str:
    data = b"".join(storage.open(uow, owner_id, key))
    return data.decode("utf-8", errors="replace")


def _check_duplicates(uow: UnitOfWork, item: Item, result: PipelineResult) -> None:
    check = check_duplicates(uow, item, result.fingerprints)
    if check.code is not None:
        result.reject(check.code, check.message or "", "duplicates")
        return
    result.report["stages"]["duplicates"] = {"result": "passed", "compared": check.compared}


def _file_chunks(path: str, size: int = 1024 * 1024) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk


def _store(uow: UnitOfWork, storage: EncryptedStorage, item: Item, result: PipelineResult) -> None:
    """Store what ships, encrypted, and point the item at it."""
    _point_at_output(item, _store_output(uow, storage, item, result))


def _point_at_output(item: Item, stored: StoredObject | None) -> None:
    """A call whose other side has not confirmed may have nothing to ship yet: then the
    item has no de-identified version (fail closed)."""
    item.deidentified_key = stored.key if stored else None
    item.deidentified_sha256 = stored.sha256 if stored else None


def _store_output(
    uow: UnitOfWork, storage: EncryptedStorage, item: Item, result: PipelineResult
) -> StoredObject | None:
    """Encrypt what ships into the store and return it (None: nothing ships yet); changes no
    row, so it runs in a job's read phase."""
    if result.output_path is None:
        result.report["stages"]["store"] = {"result": "passed", "held": result.report["shipping"]}
        return None
    stored = storage.put(
        uow, item.owner_id, _file_chunks(result.output_path), namespace=OUTPUT_NAMESPACE
    )
    result.report["output"]["size"] = stored.size
    stage: dict[str, Any] = {"result": "passed", "encrypted": True, "size": stored.size}
    if result.redacted_transcript is not None and result.report["output"]["format"] == "txt":
        result.report["transcript"]["deidentified_key"] = stored.key  # the transcript ships
    elif result.redacted_transcript is not None:
        text = storage.put(
            uow,
            item.owner_id,
            [result.redacted_transcript.encode()],
            namespace=OUTPUT_NAMESPACE,
        )
        result.report["transcript"]["deidentified_key"] = text.key
        stage["transcript_size"] = text.size
    result.report["stages"]["store"] = stage
    return stored


def _record_outcome(
    uow: UnitOfWork, item: Item, campaign: Campaign | None, result: PipelineResult
) -> None:
    report = dict(result.report)
    upload = (item.report or {}).get("upload")
    if upload:
        report["upload"] = upload
    report.pop("timings_ms", None)
    stages = report["stages"]
    validated = stages["validate"]["result"] == "passed"
    if validated:
        item.move_to(ItemStatus.VALIDATED)
    if result.accepted:
        item.move_to(ItemStatus.PROCESSED)
        item.fingerprints = kept_fingerprints(result.fingerprints)
        index_fingerprints(uow, item)
        item.h3_cell = result.h3_cell
        item.duration_seconds = result.duration_seconds
    uow.record(
        AuditTag.ITEM_PROCESS,
        "system",
        "item",
        item.id,
        verdict=report["verdict"],
        stages={name: s["result"] for name, s in stages.items()},
    )
    if result.accepted and item.deidentified_key is None:
        # Nothing may ship (a call whose transcript does not say whose words are whose):
        # not accepted, so it is never reviewed, paid or listed, and says what would help.
        # A re-processing cannot change that (it ships audio only for a call whose other
        # speakers are known, and then the contributor's turns already shipped).
        report["waiting"] = {"code": "nothing_to_ship", "message": NOTHING_TO_SHIP}
    elif result.accepted:
        if campaign is not None:
            _apply_campaign_terms(uow, item, campaign)
            asked = campaign.spec.get("language")
            if isinstance(asked, str) and asked and not report.get("language"):
                # The language the task asked its contributors to speak or write in: what
                # the catalogue's language facet and filter read (``Item.language``).
                report["language"] = asked
            item.review_state = ReviewState.WAITING
            item.review_due = as_utc(item.created_at) + timedelta(days=campaign.review_window_days)
        item.move_to(ItemStatus.ACCEPTED)
        uow.record(AuditTag.ITEM_ACCEPT, "system", "item", item.id, by="pipeline")
    else:
        item.move_to(ItemStatus.REJECTED)
        uow.record(
            AuditTag.ITEM_REJECT,
            "system",
            "item",
            item.id,
            by="pipeline",
            codes=[r["code"] for r in report["reasons"]],
        )
    item.write_report(report)


def _apply_campaign_terms(uow: UnitOfWork, item: Item, campaign: Campaign) -> None:
    """Set the pay terms the campaign accepts ``item`` under (its columns: the rate, and
    the coverage bonus promised to an ambient item from a cell nobody covered yet). The
    report keeps no copy of the campaign: the owner's view shows ``Campaign.in_report``."""
    item.terms_rate_minor = campaign.rate_minor
    if campaign.coverage_bonus_minor and item.kind is ItemKind.AMBIENT:
        gap = coverage_gap(item.h3_cell, coverage(uow, exclude_item=item.id))
        item.terms_bonus_minor = campaign.coverage_bonus_minor if gap else 0


# --------------------------------------------------------------------------- what the owner sees


@dataclass(frozen=True)
class Preview:
    item: Item
    content_type: str
    chunks: Iterator[bytes]


def open_preview(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, item_id: int, part: str = "media"
) -> Preview:
    """The de-identified version of the caller's own item: exactly what would ship.
    ``part="transcript"`` gives a call's redacted transcript. Raises ``NotFound`` when the
    item is not the caller's or has no de-identified version (not processed, or rejected)."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.ITEM_PREVIEW, item or MISSING)
    assert item is not None
    if part not in ("media", "transcript"):
        raise InvalidInput(Problem("part", "one_of", {"choices": ["media", "transcript"]}))
    if part == "transcript":
        key = ((item.report or {}).get("transcript") or {}).get("deidentified_key")
        content_type = "text/plain; charset=utf-8"
    else:
        key = item.deidentified_key
        content_type = ((item.report or {}).get("output") or {}).get(
            "content_type", "application/octet-stream"
        )
    if not key:
        rejected = item.status is ItemStatus.REJECTED
        code = "preview.rejected" if rejected else "preview.not_processed"
        raise NotFound(Problem(part, code, {"item": item.id}))
    uow.record(AuditTag.ITEM_ACCESS, actor_label(actor), "item", item.id, what=f"preview:{part}")
    uow.commit()
    return Preview(item, content_type, storage.open(uow, item.owner_id, key))


def removed_from(uow: UnitOfWork, actor: Actor, item_id: int) -> dict[str, Any]:
    """What de-identification removed from the caller's own item, counted and in words."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.ITEM_PREVIEW, item or MISSING)
    assert item is not None
    report = item.report or {}
    return {
        "item_id": item.id,
        "status": item.status.value,
        "removed": report.get("removed", {}),
        "summary": report.get("removed_summary", []),
        "reasons": report.get("reasons", []),
    }
