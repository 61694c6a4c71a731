"""Processing a received item: validate → quality → de-identify → fingerprint → duplicates
→ store, run as the ``item.process`` job; and what its owner may see of the result.

``run_pipeline`` is the whole pipeline on a local file with no database (the ``datatrust
ingest`` command uses it as is); ``process_item`` wraps it for a stored item: decrypt the
original into a private scratch folder (``services.scratch``: removed on any exit, swept
after a kill; the decrypted original itself never has a name there), run it, check
near-duplicates against every other item, store the de-identified output encrypted under
the contributor's key, and move the item received → validated → processed → accepted or
rejected, with audit events, in the job's one transaction.

A worker survives every bad file: nothing about an item's bytes raises out of
``process_item``; the failure becomes a rejection whose reason names the stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import Campaign, ReviewMode, coverage_gap
from datatrust.domain.clock import as_utc
from datatrust.domain.errors import InvalidInput, NotFound
from datatrust.domain.items import Item, ItemKind, ItemStatus, ReviewState
from datatrust.domain.missed import MissedMark
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.pipeline import chats
from datatrust.pipeline.media import process_media
from datatrust.pipeline.media_spec import MediaSpec
from datatrust.pipeline.text_pii import redact
from datatrust.pipeline.transcripts import (
    contributor_label,
    other_speakers,
    own_side,
    pseudonymised,
    split_turns,
)
from datatrust.services.accounts import actor_label
from datatrust.services.campaigns import coverage
from datatrust.services.duplicates import check_duplicates, index_fingerprints
from datatrust.services.jobs import JobContext, job
from datatrust.services.participants import (
    CONVERSATION_KINDS,
    REPROCESS_JOB,
    all_confirmed,
    confirmed_labels,
    invite_participants,
    reprocessable,
)
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

_QUALITY_CODES = frozenset(
    {
        "low_resolution",
        "blurry",
        "too_dark",
        "too_bright",
        "overexposed",
        "too_short",
        "too_long",
        "too_quiet",
        "too_loud",
        "clipping",
        "too_silent",
        "noisy",
        "low_frame_rate",
        "no_speech",
    }
)
_DEID_CODES = frozenset({"speech_detected"})
STAGES = ("validate", "quality", "deidentify", "fingerprint", "duplicates", "store")

# What ships, by its format: the content type a download of it carries.
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "json": "application/json",
    "txt": "text/plain",
}


# --------------------------------------------------------------------------- the pipeline


@dataclass
class PipelineResult:
    """``report`` is JSON-able and holds no personal data: figures, reasons, counts.
    ``output_path`` is the de-identified file (inside the caller's work folder)."""

    accepted: bool
    report: dict[str, Any]
    fingerprints: dict[str, Any] = field(default_factory=dict)
    h3_cell: str | None = None
    output_path: str | None = None
    content_type: str | None = None
    redacted_transcript: str | None = None
    duration_seconds: int | None = None
    stored: StoredObject | None = None  # what ships, once encrypted into the store

    def reject(self, code: str, message: str, stage: str) -> None:
        self.accepted = False
        self.report["verdict"] = "rejected"
        self.report.setdefault("reasons", []).append({"code": code, "message": message})
        self.report.setdefault("stages", {})[stage] = {"result": "rejected", "code": code}
        self.report.pop("output", None)
        self.output_path = None


def run_pipeline(
    path: str | os.PathLike,
    kind: ItemKind | str,
    *,
    work_dir: str | os.PathLike,
    filename: str | None = None,
    metadata: dict[str, Any] | None = None,
    transcript: str | None = None,
    me: str | None = None,
    guess_me: bool = False,
    consented: Sequence[str] = (),
    overrides: dict[str, dict[str, Any]] | None = None,
    consented_labels: Sequence[str] = (),
    others_confirmed: bool = False,
) -> PipelineResult:
    """Run every stage on the file at ``path``; never raises for anything about the file.

    ``metadata`` may carry ``lat``/``lng`` (only the H3 cell survives). For chats, ``me``
    names the contributor as the export spells them; with ``guess_me`` (the operator's
    command) the first sender is assumed when ``me`` is None. ``consented`` lists the other
    participants who confirmed, by name; ``consented_labels`` the same by pseudonym
    (``PARTICIPANT_2``: what confirmation invitations know them as); everyone else's
    messages are dropped. For calls, ``transcript`` is redacted; until
    ``others_confirmed`` (every other participant confirmed) the audio is held back and
    only the contributor's own turns of the transcript ship (``me`` names their speaker
    label; see ``pipeline.transcripts``). ``overrides`` are a campaign's ``MediaSpec``
    overrides."""
    kind = ItemKind(kind)
    try:
        if kind is ItemKind.CHAT:
            return _chat_pipeline(Path(path), work_dir, me, guess_me, consented, consented_labels)
        result = _media_pipeline(Path(path), kind, work_dir, filename, metadata, overrides)
        if kind is ItemKind.CALL and result.accepted:
            _call_output(result, transcript, me, others_confirmed, Path(work_dir))
        return result
    except Exception as exc:  # the last line of defence: a bad file never crashes a worker
        log.exception("pipeline failed on %s", kind.value)
        result = PipelineResult(False, _blank_report(kind, "media"))
        result.reject(
            "processing_error",
            f"Processing failed unexpectedly ({type(exc).__name__}); it was logged. "
            "Try uploading again, or export the file again.",
            "validate",
        )
        return result


def _blank_report(kind: ItemKind, pipeline: str) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "pipeline": pipeline,
        "verdict": "accepted",
        "reasons": [],
        "quality": {},
        "removed": {},
        "removed_summary": [],
        "stages": {s: {"result": "not_reached"} for s in STAGES},
    }


def _stage_of(code: str, message: str) -> str:
    if code in _QUALITY_CODES:
        return "quality"
    if code in _DEID_CODES:
        return "deidentify"
    if code == "processing_error":
        for stage in ("quality", "deidentify", "fingerprint"):
            if f"during {stage}" in message:
                return stage
    return "validate"


def _media_pipeline(
    path: Path,
    kind: ItemKind,
    work_dir: str | os.PathLike,
    filename: str | None,
    metadata: dict[str, Any] | None,
    overrides: dict[str, dict[str, Any]] | None,
) -> PipelineResult:
    spec = MediaSpec.from_campaign(kind.value, overrides)
    r = process_media(
        str(path),
        kind.value,
        spec,
        metadata=metadata,
        filename=filename or path.name,
        output_dir=str(work_dir),
    )
    report = _blank_report(kind, "media")
    report.update(
        format=r.format,
        mime=r.mime,
        quality=r.quality,
        removed=r.removed,
        removed_summary=describe_removed(r.removed),
        timings_ms=r.timings_ms,
    )
    fp = r.fingerprints
    fingerprints: dict[str, Any] = {
        k: v
        for k, v in {
            "sha256_original": fp.sha256_original,
            "sha256_output": fp.sha256_output,
            "phash": fp.phash,
            "frame_phashes": list(fp.frame_phashes) or None,
            "audio": fp.audio.as_dict() if fp.audio else None,
        }.items()
        if v
    }
    duration = r.quality.get("duration_s")
    result = PipelineResult(
        accepted=r.accepted,
        report=report,
        fingerprints=fingerprints,
        h3_cell=r.h3_cell,
        duration_seconds=round(duration) if duration is not None else None,
    )
    stages = report["stages"]
    if not r.accepted:
        failed = _stage_of(r.rejections[0].code, r.rejections[0].message)
        for stage in STAGES[: STAGES.index(failed)]:
            stages[stage] = {"result": "passed"}
        for rej in r.rejections:
            result.reject(rej.code, rej.message, _stage_of(rej.code, rej.message))
        if r.quality:
            stages["quality"]["figures"] = r.quality
        return result
    stages["validate"] = {"result": "passed", "format": r.format, "mime": r.mime}
    stages["quality"] = {"result": "passed", "figures": r.quality}
    stages["deidentify"] = {"result": "passed", "removed": r.removed, "h3_cell": r.h3_cell}
    stages["fingerprint"] = {"result": "passed", "kinds": sorted(fingerprints)}
    if r.output_path:
        result.output_path = r.output_path
    elif r.output_bytes is not None:
        out = Path(work_dir) / f"output.{r.output_format or 'bin'}"
        out.write_bytes(r.output_bytes)
        result.output_path = str(out)
    fmt = r.output_format or r.format
    result.content_type = CONTENT_TYPES.get(fmt, r.mime)
    report["output"] = {"format": fmt, "content_type": result.content_type}
    return result


def _call_output(
    result: PipelineResult,
    transcript: str | None,
    me: str | None,
    others_confirmed: bool,
    work_dir: Path,
) -> None:
    """Decide what of an accepted call ships. Fail closed: the audio holds both voices and
    cannot be split by speaker, so until every other participant has confirmed it is
    dropped and only the contributor's own (redacted) turns of the transcript ship; with no
    transcript, or none whose turns are provably theirs, nothing ships yet."""
    report = result.report
    removed = report["removed"]
    info: dict[str, Any] = {"provided": transcript is not None}
    # Who must confirm before the audio ships: every other speaker the transcript names.
    # None (not known) keeps the audio back for good: nobody can be asked.
    others = other_speakers(transcript, me) if transcript is not None else None
    info["other_speakers"] = others
    text: str | None = None
    if others_confirmed:
        if transcript is not None:
            turns = split_turns(transcript)
            text = pseudonymised(turns, contributor_label(turns, me))[0] if turns else transcript
    else:
        if result.output_path and os.path.exists(result.output_path):
            os.remove(result.output_path)
        result.output_path = None
        removed["call_audio_withheld"] = True
        if others is None:
            info["audio_why"] = (
                "The audio holds every voice, so it ships only once everyone else on the "
                "call confirms. Label each line of the transcript with its speaker (for "
                "example 'Me: …', 'Agent: …', 'Supervisor: …') so each of them can be asked."
            )
        own = own_side(transcript, me) if transcript is not None else None
        if own is not None:
            text, removed["transcript_turns_left_out"] = own
        elif transcript is not None:
            info["shipped"] = False
            info["why"] = (
                "Label each line of the transcript with its speaker (for example "
                "'Me: …' and 'Agent: …', or give your name as 'me') so your own words can "
                "ship before the other side confirms."
            )
    if text is not None:
        redaction = redact(text)
        result.redacted_transcript = redaction.text
        info["pii_counts"] = redaction.counts
        removed["transcript_pii"] = redaction.counts
        if result.output_path is None:  # the transcript is what ships
            out = work_dir / "transcript.txt"
            out.write_text(redaction.text, encoding="utf-8")
            result.output_path = str(out)
    report["transcript"] = info
    report["removed_summary"] = describe_removed(removed)
    if result.output_path is None:
        report.pop("output", None)
        result.content_type = None
        result.fingerprints.pop("sha256_output", None)
        report["shipping"] = "nothing until the other side confirms"
        return
    if others_confirmed:
        report["shipping"] = "audio and transcript"
        return
    result.content_type = CONTENT_TYPES["txt"]
    report["output"] = {"format": "txt", "content_type": result.content_type}
    result.fingerprints["sha256_output"] = hashlib.sha256(
        Path(result.output_path).read_bytes()
    ).hexdigest()
    report["shipping"] = "your side of the transcript only, until the other side confirms"


def kept_fingerprints(fingerprints: dict[str, Any]) -> dict[str, Any]:
    """What an item keeps of the pipeline's fingerprints: all but the raw upload's
    SHA-256. Anyone holding a copy of a file could find its uploader by that hash in a
    copy of the database; the duplicate check compares ``items.original_sha256``, the
    instance-keyed content id, instead (migration 0027 removed it from older rows)."""
    return {k: v for k, v in fingerprints.items() if k != "sha256_original"}


def _chat_pipeline(
    path: Path,
    work_dir: str | os.PathLike,
    me: str | None,
    guess_me: bool,
    consented: Sequence[str],
    consented_labels: Sequence[str] = (),
) -> PipelineResult:
    report = _blank_report(ItemKind.CHAT, "chat")
    result = PipelineResult(True, report)
    size = path.stat().st_size
    if size == 0:
        result.reject("empty_file", "The file is empty (0 bytes).", "validate")
        return result
    try:
        chats.check_size(size)
        data = path.read_bytes()
        conversation = chats.parse_chat_export(data)
    except InvalidInput as exc:
        # The parser names a bound it refused (chat_too_deep, chat_line_too_long,
        # chat_too_many_messages); otherwise the file is oversize or not a chat at all.
        code = exc.details.get("reason") or (
            "file_too_large" if "limit_bytes" in exc.details else "unreadable_chat"
        )
        result.reject(code, exc.message[0].upper() + exc.message[1:], "validate")
        return result
    if not conversation.messages:
        result.reject(
            "unreadable_chat",
            "No chat messages were found. Export the chat from WhatsApp (without media) or "
            "Telegram (JSON) and upload that file.",
            "validate",
        )
        return result
    report["format"] = conversation.source
    report["stages"]["validate"] = {
        "result": "passed",
        "format": conversation.source,
        "messages": len(conversation.messages),
        "participants": len(conversation.participants),
    }
    report["stages"]["quality"] = {"result": "passed"}
    report["quality"] = {
        "messages": len(conversation.messages),
        "participants": len(conversation.participants),
    }
    if me is None and guess_me:
        me = conversation.participants[0]
        report["contributor"] = "assumed to be the first sender"
    if me is None:
        result.reject(
            "sender_unknown",
            "Tell us which sender in the chat you are (the name exactly as the export shows "
            "it), so only your own messages and those of people who agreed are kept.",
            "deidentify",
        )
        return result
    consented = [*consented, *_names_for_labels(conversation, me, consented_labels)]
    try:
        shipped, deid = chats.deidentify_chat(conversation, me, consented)
    except InvalidInput as exc:
        result.reject(
            "sender_unknown",
            f"{exc.message}: the name you gave is not one of the senders in this chat.",
            "deidentify",
        )
        return result
    if deid.messages_kept == 0:
        result.reject("nothing_to_ship", "None of the messages could be kept.", "deidentify")
        return result
    removed = {
        "messages_dropped": deid.messages_dropped,
        "participants_pseudonymised": len(deid.participants),
        "pii_redacted": deid.pii_counts,
    }
    report["removed"] = removed
    report["removed_summary"] = describe_removed(removed)
    report["stages"]["deidentify"] = {"result": "passed", **deid.to_dict()}
    body = json.dumps(
        {
            "source": shipped.source,
            "participants": list(shipped.participants),
            "messages": [
                {"at": m.at.isoformat(), "sender": m.sender, "text": m.text, "media": m.media}
                for m in shipped.messages
            ],
        },
        ensure_ascii=False,
        indent=1,
    ).encode()
    out = Path(work_dir) / "chat.json"
    out.write_bytes(body)
    result.fingerprints = {
        "sha256_original": hashlib.sha256(data).hexdigest(),
        "sha256_output": hashlib.sha256(body).hexdigest(),
    }
    report["stages"]["fingerprint"] = {"result": "passed", "kinds": sorted(result.fingerprints)}
    result.output_path = str(out)
    result.content_type = "application/json"
    report["output"] = {"format": "json", "content_type": "application/json"}
    return result


def _names_for_labels(
    conversation: chats.Conversation, me: str, labels: Sequence[str]
) -> list[str]:
    """The senders behind ``PARTICIPANT_n`` labels: numbered in order of first message,
    the contributor skipped, exactly as ``chats.deidentify_chat`` numbers them."""
    if not labels:
        return []

    def norm(name: str) -> str:
        return " ".join(name.split())

    others = [p for p in conversation.participants if norm(p) != norm(me)]
    by_label = {f"PARTICIPANT_{n}": name for n, name in enumerate(others, start=1)}
    return [by_label[label] for label in labels if label in by_label]


_PII_WORDS = {
    "PHONE": ("phone number", "phone numbers"),
    "EMAIL": ("email address", "email addresses"),
    "CARD": ("payment card", "payment cards"),
    "UPI": ("UPI ID", "UPI IDs"),
    "AADHAAR": ("Aadhaar number", "Aadhaar numbers"),
    "ZA_ID": ("South African ID", "South African IDs"),
    "SSN": ("social security number", "social security numbers"),
    "ADDRESS": ("street address", "street addresses"),
    "PERSON": ("name", "names"),
    "HANDLE": ("handle", "handles"),
    "URL": ("link", "links"),
}


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def describe_removed(removed: dict[str, Any]) -> list[str]:
    """Plain words for what de-identification took out, e.g. ``["3 faces blurred", "GPS
    removed", "2 phone numbers redacted"]``. Empty when nothing was found."""
    out: list[str] = []
    if removed.get("faces_blurred") and removed.get("frames"):
        out.append(
            f"faces blurred in the video ({removed['faces_blurred']} detections over "
            f"{removed['frames']} frames)"
        )
    elif removed.get("faces_blurred"):
        out.append(_n(removed["faces_blurred"], "face", "faces") + " blurred")
    if removed.get("faces_kept"):
        out.append(_n(removed["faces_kept"], "face", "faces") + " kept (your own, with consent)")
    if removed.get("plates_blurred"):
        plates = _n(removed["plates_blurred"], "number plate", "number plates") + " blurred"
        out.append(plates + (" (detections over all frames)" if removed.get("frames") else ""))
    meta = list(removed.get("metadata_removed") or [])
    if "GPS" in meta:
        out.append("GPS removed")
        meta.remove("GPS")
    if meta:
        out.append(f"metadata removed ({', '.join(m.lower() for m in meta)})")
    if removed.get("location"):
        out.append(f"location {removed['location']}")
    if removed.get("audio_dropped"):
        out.append(f"sound removed ({removed['audio_dropped']})")
    if removed.get("call_audio_withheld"):
        out.append("call audio held back until the other side confirms")
    if removed.get("transcript_turns_left_out"):
        out.append(
            _n(removed["transcript_turns_left_out"], "turn", "turns")
            + " by the other side left out of the transcript"
        )
    if removed.get("speech_segments_muffled"):
        out.append(
            _n(removed["speech_segments_muffled"], "speech segment", "speech segments") + " muffled"
        )
    if removed.get("messages_dropped"):
        out.append(
            _n(removed["messages_dropped"], "message", "messages")
            + " from people who have not agreed left out"
        )
    if removed.get("participants_pseudonymised"):
        out.append(
            _n(removed["participants_pseudonymised"], "participant", "participants")
            + " pseudonymised"
        )
    for key in ("pii_redacted", "transcript_pii"):
        where = " in the transcript" if key == "transcript_pii" else ""
        for pii_type, count in sorted((removed.get(key) or {}).items()):
            one, many = _PII_WORDS.get(pii_type, (pii_type.lower(), pii_type.lower()))
            out.append(f"{_n(count, one, many)} redacted{where}")
    return out


# --------------------------------------------------------------------------- the job


def processing_key(item_id: int) -> str:
    """The outbox key of an item's ``item.process`` job (one per item)."""
    return f"{PROCESS_JOB}:{item_id}"


def enqueue_processing(uow: UnitOfWork, item: Item) -> None:
    """Queue ``item.process`` in the caller's transaction (keyed by item: queued once)."""
    uow.enqueue(PROCESS_JOB, {"item_id": item.id}, key=processing_key(item.id or 0))


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
    item.report = report
    uow.record(
        AuditTag.ITEM_REJECT, "system", "item", item.id, by="jobs", codes=["processing_failed"]
    )
    uow.commit()


@job(PROCESS_JOB, on_give_up=reject_after_failures)
def process_item_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    services = ctx.services
    process_item(
        uow,
        services.storage,
        int(payload["item_id"]),
        work_root=Path(services.settings.data_dir) / WORK_DIR,
        invite_secret=services.settings.secret_key.get_secret_value().encode(),
    )


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
        result = _process_in(uow, storage, item, campaign, str(work_dir))
    item = uow.get_for_update(Item, item_id)
    if item is None or item.status is not ItemStatus.RECEIVED:
        return item  # a second run of this job recorded it meanwhile
    if result.accepted:
        _point_at_output(item, result)
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
    services = ctx.services
    reprocess_conversation(
        uow,
        services.storage,
        int(payload["item_id"]),
        work_root=Path(services.settings.data_dir) / WORK_DIR,
        invite_secret=services.settings.secret_key.get_secret_value().encode(),
    )


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
            item.report = report
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
    item.report = report
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
) -> PipelineResult:
    try:
        result = _run_stored(uow, storage, item, campaign, work_dir)
        if result.accepted:
            _check_campaign_place(result, campaign)
        if result.accepted:
            _check_duplicates(uow, item, result)
        if result.accepted:
            _store_output(uow, storage, item, result)
        return result
    except Exception as exc:  # a worker must survive every item; the reason names the stage
        log.exception("processing item %s failed", item.id)
        result = PipelineResult(False, _blank_report(item.kind, "media"))
        result.reject(
            "processing_error",
            f"Processing failed ({type(exc).__name__}); it was logged. Upload the file again.",
            "store",
        )
        return result


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
            metadata=_cell_centre(cell) if cell else None,
            transcript=transcript,
            me=storage.open_text(uow, item.owner_id, upload.get("me")) or None,
            overrides=campaign.media_overrides() if campaign else None,
            **extra,
        )


def _read_text(storage: EncryptedStorage, uow: UnitOfWork, owner_id: int, key: str) -> str:
    data = b"".join(storage.open(uow, owner_id, key))
    return data.decode("utf-8", errors="replace")


def _cell_centre(cell: str) -> dict[str, float]:
    """The centre of an H3 cell: coarsening it again at the same resolution gives the same
    cell, so the pipeline sees a location while precise coordinates are never stored."""
    import h3

    lat, lng = h3.cell_to_latlng(cell)
    return {"lat": lat, "lng": lng}


def _check_campaign_place(result: PipelineResult, campaign: Campaign | None) -> None:
    cells = (campaign.spec.get("h3_cells") if campaign else None) or []
    if not cells:
        return
    import h3

    cell = result.h3_cell
    inside = False
    if cell:
        res = h3.get_resolution(cell)
        for wanted in cells:
            wres = h3.get_resolution(wanted)
            if (wres <= res and h3.cell_to_parent(cell, wres) == wanted) or cell == wanted:
                inside = True
                break
    if not inside:
        result.reject(
            "outside_campaign_area",
            "This recording has no location inside the campaign's area; record it there "
            "and share your location with the upload.",
            "validate",
        )


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
    _store_output(uow, storage, item, result)
    _point_at_output(item, result)


def _point_at_output(item: Item, result: PipelineResult) -> None:
    """A call whose other side has not confirmed may have nothing to ship yet: then the
    item has no de-identified version (fail closed)."""
    stored = result.stored
    item.deidentified_key = stored.key if stored else None
    item.deidentified_sha256 = stored.sha256 if stored else None


def _store_output(
    uow: UnitOfWork, storage: EncryptedStorage, item: Item, result: PipelineResult
) -> None:
    """Encrypt what ships into the store (``result.stored``); changes no row, so it runs in
    a job's read phase."""
    if result.output_path is None:
        result.report["stages"]["store"] = {"result": "passed", "held": result.report["shipping"]}
        return
    stored = storage.put(
        uow, item.owner_id, _file_chunks(result.output_path), namespace=OUTPUT_NAMESPACE
    )
    result.stored = stored
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
            report["campaign"] = _campaign_terms(uow, item, campaign)
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
    item.report = report


def _campaign_terms(uow: UnitOfWork, item: Item, campaign: Campaign) -> dict[str, Any]:
    """What the campaign owes for this item once reviewed (its review state and due time
    are the item's columns)."""
    terms: dict[str, Any] = {
        "id": campaign.id,
        "review_mode": campaign.review_mode.value,
        "rate_minor": campaign.rate_minor,
        "currency": campaign.currency,
        "pay_basis": campaign.pay_basis.value,
    }
    if campaign.coverage_bonus_minor and item.kind is ItemKind.AMBIENT:
        gap = coverage_gap(item.h3_cell, coverage(uow, exclude_item=item.id))
        terms["coverage_bonus_minor"] = campaign.coverage_bonus_minor if gap else 0
    if campaign.review_mode is ReviewMode.OPERATOR:
        terms["review_queue"] = "operator"
    return terms


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
        raise InvalidInput("part: media or transcript")
    if part == "transcript":
        key = ((item.report or {}).get("transcript") or {}).get("deidentified_key")
        content_type = "text/plain; charset=utf-8"
    else:
        key = item.deidentified_key
        content_type = ((item.report or {}).get("output") or {}).get(
            "content_type", "application/octet-stream"
        )
    if not key:
        state = "was rejected" if item.status is ItemStatus.REJECTED else "is not processed yet"
        raise NotFound(f"item {item.id} has no de-identified {part}: it {state}")
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
