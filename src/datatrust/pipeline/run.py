"""The pipeline on one local file, with no database: validate → quality → de-identify →
fingerprint, and what a stored item keeps of the result.

``run_pipeline`` runs every stage on a file and never raises for anything about the file: a
bad file is a rejection whose reason names the stage. The ``datatrust ingest`` command uses
it as is; ``services.contributions.ingest`` (the ``item.process`` job) wraps it for a
stored item: decrypting the original, checking duplicates against other items, storing what
ships and recording the outcome. ``describe_removed`` puts what de-identification took out
into plain words; ``cell_centre`` and ``check_campaign_place`` handle the upload's H3 cell.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h3

from datatrust.domain.errors import InvalidInput
from datatrust.domain.items import ItemKind
from datatrust.pipeline import chats
from datatrust.pipeline.media import process_media
from datatrust.pipeline.media_spec import MediaSpec
from datatrust.pipeline.rejection import DEIDENTIFICATION_CODES, QUALITY_CODES
from datatrust.pipeline.text_pii import redact
from datatrust.pipeline.transcripts import (
    contributor_label,
    other_speakers,
    own_side,
    pseudonymised,
    split_turns,
)

log = logging.getLogger(__name__)

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
        result = PipelineResult(False, blank_report(kind, "media"))
        result.reject(
            "processing_error",
            f"Processing failed unexpectedly ({type(exc).__name__}); it was logged. "
            "Try uploading again, or export the file again.",
            "validate",
        )
        return result


def blank_report(kind: ItemKind, pipeline: str) -> dict[str, Any]:
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
    if code in QUALITY_CODES:
        return "quality"
    if code in DEIDENTIFICATION_CODES:
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
    report = blank_report(kind, "media")
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
    report = blank_report(ItemKind.CHAT, "chat")
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


# --------------------------------------------------------------------------- places


def cell_centre(cell: str) -> dict[str, float]:
    """The centre of an H3 cell: coarsening it again at the same resolution gives the same
    cell, so the pipeline sees a location while precise coordinates are never stored."""
    lat, lng = h3.cell_to_latlng(cell)
    return {"lat": lat, "lng": lng}


def check_campaign_place(result: PipelineResult, cells: Sequence[str]) -> None:
    """Reject a result whose H3 cell is not inside one of ``cells`` (a campaign's area);
    no ``cells``: anywhere will do."""
    if not cells:
        return
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
