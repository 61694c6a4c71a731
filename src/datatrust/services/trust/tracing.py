"""Misuse tracing (issue 17 §3): someone uploads a file found outside (a photo, a video or
an audio clip, re-encoded, cropped, trimmed) and learns which items it matches and, where
they may know it, which buyers received which copy under which agreement.

Who searches what, and who sees whom:
- a contributor searches their own items, and sees every buyer that received each (their
  passport already names them);
- a buyer searches only the items it received, and sees only its own deliveries;
- the operator searches every item and sees every delivery.

Matching rests on the fingerprints (``pipeline.trace``) plus the delivery log (the rows of
ready snapshots): no per-buyer mark is embedded in delivered media, so a match names the
item and every buyer that received it, not which of them leaked it. A contributor can then
open a misuse report against one of those buyers: it is audited on the item (it shows in
the passport), and mailed to the operators and to the buyer's contact address.
"""

from __future__ import annotations

from typing import Any

from datatrust.domain.accounts import Organisation, User
from datatrust.domain.audit import AuditTag
from datatrust.domain.errors import InvalidInput, NotFound, Problem
from datatrust.domain.items import Item
from datatrust.domain.orders import AgreementRow
from datatrust.domain.permissions import MISSING, Actor, Permission, Role, authorize
from datatrust.domain.snapshots import Snapshot, SnapshotItem
from datatrust.pipeline.fingerprint import AudioFingerprint
from datatrust.pipeline.trace import (
    Query,
    Score,
    Untraceable,
    read_query,
    score_audio,
    score_frames,
    score_keypoints,
    score_phash,
)
from datatrust.services.accounts import actor_label, queue_mail
from datatrust.services.ports import MailMessage, UnitOfWork
from datatrust.services.storage import EncryptedStorage

# The largest file one may upload to trace (a clip or a photo), API and page alike.
MAX_TRACE_BYTES = 50 * 1024 * 1024
# What a file to trace may take in a request: the file and the multipart envelope.
MAX_TRACE_BODY_BYTES = MAX_TRACE_BYTES + 64 * 1024


# Why a file cannot be traced (``pipeline.trace.Untraceable.reason``), as a problem code.
UNTRACEABLE = {
    "unreadable": "trace.unreadable",
    "no_media": "trace.no_media",
    "no_frame": "trace.no_frame",
    "no_sound": "trace.no_sound",
}


def query_of(data: bytes) -> Query:
    """The fingerprints of an uploaded file (``pipeline.trace.read_query``): decode it
    before any transaction, it takes a while. ``InvalidInput`` names why a file cannot be
    traced (no picture, video or sound in it)."""
    try:
        return read_query(data)
    except Untraceable as exc:
        raise InvalidInput(Problem("file", UNTRACEABLE[exc.reason])) from None


# Photos whose pHash does not match are compared by keypoints against their de-identified
# image: at most this many per search (each is decrypted and decoded).
MAX_KEYPOINT_CANDIDATES = 200


def _deliveries(uow: UnitOfWork, item_ids: set[int]) -> dict[int, list[SnapshotItem]]:
    """item id → its rows in ready snapshots (what was delivered, to whom)."""
    rows = [r for r in uow.all(SnapshotItem, item_id__in=item_ids)] if item_ids else []
    ready = {s.id for s in uow.all(Snapshot, id__in={r.snapshot_id for r in rows}) if s.ready}
    out: dict[int, list[SnapshotItem]] = {}
    for r in rows:
        if r.snapshot_id in ready:
            out.setdefault(r.item_id, []).append(r)
    return out


def searchable_items(uow: UnitOfWork, actor: Actor) -> list[Item]:
    """What ``actor`` may search: see the module docstring."""
    authorize(actor, Permission.MISUSE_TRACE)
    if actor.role is Role.OPERATOR:
        found = uow.all(Item)
    elif actor.role is Role.BUYER:
        if actor.org_id is None:
            return []
        received = {r.item_id for r in uow.all(SnapshotItem, org_id=actor.org_id)}
        found = uow.all(Item, id__in=received) if received else []
    else:
        found = uow.all(Item, owner_id=actor.user_id)
    return [i for i in found if i.fingerprints]  # erasure clears them


def _score(
    uow: UnitOfWork, storage: EncryptedStorage, query: Query, item: Item, budget: list[int]
) -> Score | None:
    fp = item.fingerprints or {}
    if query.kind == "audio" and fp.get("audio"):
        return score_audio(query, AudioFingerprint(**fp["audio"]))
    if query.kind == "video" and fp.get("frame_phashes"):
        return score_frames(query, list(fp["frame_phashes"]))
    if query.kind == "photo" and fp.get("phash"):
        first = score_phash(query, fp["phash"])
        if first.matched or not item.deidentified_key or budget[0] <= 0:
            return first
        budget[0] -= 1
        image = b"".join(storage.open(uow, item.owner_id, item.deidentified_key))
        return score_keypoints(query, image)
    return None


def trace(uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, query: Query) -> dict[str, Any]:
    """The items ``query`` (``pipeline.trace.read_query`` of the uploaded file) matches
    among those ``actor`` may search, best first, each with the deliveries the caller may
    see (buyer, snapshot and version, agreement and licence, when). The search is audited
    (``misuse:trace``), naming the items matched."""
    candidates = searchable_items(uow, actor)
    budget = [MAX_KEYPOINT_CANDIDATES]
    matches = []
    with uow.reading():  # decrypting and comparing takes a while: no write lock meanwhile
        for item in candidates:
            score = _score(uow, storage, query, item, budget)
            if score is not None and score.matched:
                matches.append((item, score))
        delivered = _deliveries(uow, {i.id for i, _ in matches if i.id is not None})
        out = [
            _match_out(uow, actor, item, score, delivered.get(item.id or 0, []))
            for item, score in matches
        ]
    out.sort(key=lambda m: (m["how"] != "phash", -m["strength"]))
    uow.record(
        AuditTag.MISUSE_TRACE,
        actor_label(actor),
        "trace",
        query.kind,
        matched=[m["item_id"] for m in out],
        searched=len(candidates),
    )
    uow.commit()
    return {"kind": query.kind, "searched": len(candidates), "matches": out}


def _match_out(
    uow: UnitOfWork, actor: Actor, item: Item, score: Score, rows: list[SnapshotItem]
) -> dict[str, Any]:
    if actor.role is Role.BUYER:
        rows = [r for r in rows if r.org_id == actor.org_id]
    strength = score.value if score.how != "phash" and score.how != "frames" else 64 - score.value
    return {
        "item_id": item.id,
        "kind": item.kind.value,
        "how": score.how,
        "score": score.value,
        "strength": strength,
        "yours": actor.role is Role.CONTRIBUTOR,
        "received_by": [_receipt(uow, r) for r in rows],
    }


def _receipt(uow: UnitOfWork, row: SnapshotItem) -> dict[str, Any]:
    org = uow.get(Organisation, row.org_id)
    snap = uow.get(Snapshot, row.snapshot_id)
    agreement = uow.get(AgreementRow, row.agreement_id)
    licence = agreement.licence if agreement else {}
    return {
        "org_id": row.org_id,
        "buyer": org.legal_name if org else "",
        "snapshot_id": row.snapshot_id,
        "version": snap.version if snap else "",
        "delivered_at": snap.finished_at.isoformat() if snap and snap.finished_at else None,
        "content_sha256": row.content_sha256,
        "agreement_id": row.agreement_id,
        "licence_id": f"{licence.get('id')}/v{licence.get('version')}" if licence else None,
    }


def open_misuse_report(
    uow: UnitOfWork, actor: Actor, item_id: int, org_id: int, note: str
) -> dict[str, Any]:
    """A contributor reports that ``org_id`` (which received ``item_id``) may have misused
    it. Only the item's owner may, and only against a buyer that received it (anything
    else reads as missing). Audited on the item; mailed to every operator and to the
    buyer's contact address (through the outbox)."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.MISUSE_REPORT, item or MISSING)
    assert item is not None
    rows = _deliveries(uow, {item_id}).get(item_id, [])
    got = [r for r in rows if r.org_id == org_id]
    org = uow.get(Organisation, org_id)
    if not got or org is None:
        raise NotFound(Problem(None, "trace.not_received"))
    note = (note or "").strip()
    if len(note) > 2000:
        raise InvalidInput(Problem("note", "too_long", {"maximum": 2000}))
    receipts = [_receipt(uow, r) for r in got]
    uow.record(
        AuditTag.MISUSE_REPORT,
        actor_label(actor),
        "item",
        item_id,
        org_id=org_id,
        org_name=org.legal_name,
        snapshots=[r["snapshot_id"] for r in receipts],
        agreements=sorted({r["agreement_id"] for r in receipts}),
    )
    uow.record(
        AuditTag.OPERATOR_NOTIFY, "system", "org", org_id, about="misuse_report", item_id=item_id
    )
    copies = ", ".join(
        f"snapshot {r['snapshot_id']} (agreement {r['agreement_id']})" for r in receipts
    )
    subject = f"Misuse report: item {item_id} received by {org.legal_name}"
    body = (
        f"The contributor of item {item_id} found a copy of it outside and reports possible "
        f"misuse by {org.legal_name}, which received it in {copies}.\n\n"
        f"The contributor's note: {note or '(none)'}"
    )
    for operator in uow.all(User, role=Role.OPERATOR):
        if operator.erased_at is None:
            queue_mail(uow, MailMessage(operator.email, subject, body))
    if org.contact_email:
        queue_mail(uow, MailMessage(org.contact_email, subject, body))
    uow.commit()
    return {"item_id": item_id, "buyer": org.legal_name, "received_in": receipts}
