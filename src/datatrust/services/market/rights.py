"""A person's rights over their data: a copy of everything about them, and erasure."""

from __future__ import annotations

import io
import json
import logging
import mimetypes
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from typing import Any

from datatrust.domain.accounts import (
    ApiToken,
    RecoveryCode,
    SignInAttempt,
    SignUpRequest,
    User,
    WebSession,
)
from datatrust.domain.audit import AuditEvent, AuditTag
from datatrust.domain.campaigns import ReviewVote
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.consent import ConsentRecord, ConsentState, LicenceOffer
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.items import ERASED_FILENAME, Item
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.licence import DEFAULT_DELETION_DEADLINE_DAYS
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.domain.snapshots import Snapshot
from datatrust.domain.uploads import ResumableUpload
from datatrust.services.accounts import SEND_JOB, actor_label
from datatrust.services.contributions import Staging, readable
from datatrust.services.jobs import JobContext, job
from datatrust.services.licensing import (
    ConsentView,
    Publication,
    apply_withdrawal,
    list_my_consents,
)
from datatrust.services.market.revocations import holdings
from datatrust.services.ports import ObjectStore, Shredder, Signer, UnitOfWork
from datatrust.services.storage import EncryptedStorage

log = logging.getLogger(__name__)

ERASE_CONFIRMATION = "erase me"
PURGE_JOB = "rights.purge_erased"
# Timestamp every zip entry with one fixed moment so two exports of the same data are
# byte-identical (easy to compare); the real export time is inside export.json.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _user(uow: UnitOfWork, actor: Actor, permission: Permission) -> User:
    user = uow.get(User, actor.user_id) if actor.user_id else None
    authorize(actor, permission, user)
    assert user is not None
    return user


def _json(value: Any) -> bytes:
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return as_utc(o).isoformat()
        if isinstance(o, bytes):
            return None
        return str(o)

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=default).encode()


def export_my_data(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, *, signer: Signer | None = None
) -> bytes:
    """``_export_files`` as one zip of JSON files, built in memory (they are small)."""
    files = _export_files(uow, storage, actor, signer=signer)
    return b"".join(_zip_stream(files, []))


def export_with_media(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, *, signer: Signer | None = None
) -> Iterator[bytes]:
    """The export with the person's own media: ``_export_files`` and, under ``media/``,
    each item's original as uploaded (``<id>-original<ext>``) and the version buyers
    get (``<id>-shipped<ext>``), decrypted. A zip streamed as it is written: each file's
    bytes are read, decrypted and compressed chunk by chunk, so a large set is never
    held in memory. Every object is opened (its key checked) before the first byte is
    returned; an item whose objects are gone (deleted) has none."""
    files = _export_files(uow, storage, actor, signer=signer)
    media: list[tuple[str, Iterator[bytes]]] = []
    user_id = actor.user_id or 0
    for item in uow.all(Item, owner_id=user_id, order_by="id"):
        if item.filename == ERASED_FILENAME:
            continue
        shipped_type = str((item.report.get("output") or {}).get("content_type") or "")
        uploaded = storage.open_text(uow, item.owner_id, item.filename)
        for part, key, ext in (
            ("original", item.original_key, _ending(uploaded, item.content_type)),
            ("shipped", item.deidentified_key, _ending("", shipped_type)),
        ):
            if not key:
                continue
            try:
                chunks = storage.open(uow, item.owner_id, key)
            except NotFound:
                continue
            media.append((f"media/{item.id}-{part}{ext}", chunks))
    return _zip_stream(files, media)


_ENDINGS = {"audio/ogg": ".ogg", "audio/wav": ".wav", "audio/webm": ".webm", "audio/mp4": ".m4a"}


def _ending(filename: str, content_type: str) -> str:
    """A file ending for an exported file: the uploaded name's own (letters and digits
    only), else one for its media type, else ``.bin``."""
    suffix = PurePath(filename).suffix.lower()
    if 1 < len(suffix) <= 9 and suffix[1:].isalnum():
        return suffix
    kind = content_type.split(";")[0].strip().lower()
    return _ENDINGS.get(kind) or mimetypes.guess_extension(kind) or ".bin"


class _Sink(io.RawIOBase):
    """Where a streamed zip is written: kept until taken, never seekable."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _zip_stream(files: dict[str, Any], media: list[tuple[str, Iterator[bytes]]]) -> Iterator[bytes]:
    """JSON ``files`` then ``media`` as a zip, yielded as it is written. Entries carry
    one fixed timestamp, so two exports of the same data are byte-identical."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _json(files[name]))
            yield sink.take()
        for name, chunks in media:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def _export_files(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, *, signer: Signer | None = None
) -> dict[str, Any]:
    """The JSON files with everything about the caller: ``account.json``,
    ``items.json`` (metadata; the media themselves go in ``export_with_media``),
    ``licences.json`` (every version), ``consent_records.json`` (fields and events),
    ``receipts.json`` (the signed JWS, with ``platform_key.json`` to verify them) and
    ``audit_events.json`` (events about the caller, their items, offers and consents).

    The export itself is audited as ``personal_data:export``. ``storage`` opens the
    sealed fields (titles, file names).
    """
    user = _user(uow, actor, Permission.PERSONAL_DATA_EXPORT)
    items = uow.all(Item, owner_id=user.id, order_by="id")
    offers = uow.all(LicenceOffer, owner_id=user.id, order_by="id")
    consents = list_my_consents(uow, actor)
    now = utcnow()

    texts = storage.texts(uow)  # each key read once, not per field
    files: dict[str, Any] = {
        "export.json": {"format": "datatrust-personal-data/1", "exported_at": now},
        "account.json": {
            "id": user.id,
            "email": user.email,
            "role": user.role.value,
            "display_name": user.display_name,
            "language": user.language,
            "country": user.country,
            "created_at": user.created_at,
        },
        "items.json": [
            {
                "id": i.id,
                "kind": i.kind.value,
                "status": i.status.value,
                "title": texts(i.owner_id, i.title),
                "filename": texts(i.owner_id, i.filename),
                "content_type": i.content_type,
                "size": i.size,
                "original_sha256": i.original_sha256,
                "deidentified_sha256": i.deidentified_sha256,
                "h3_cell": i.h3_cell,
                "duration_seconds": i.duration_seconds,
                "campaign_id": i.campaign_id,
                "licence_id": i.licence_id,
                "consent_id": i.consent_id,
                "report": readable(uow, storage, i, texts).report,
                "created_at": i.created_at,
            }
            for i in items
        ],
        "licences.json": [
            {
                "id": o.id,
                "version": o.version,
                "supersedes_id": o.supersedes_id,
                "status": o.status.value,
                "is_default": o.is_default,
                "created_at": o.created_at,
                "licence": o.licence,
            }
            for o in offers
        ],
        "consent_records.json": [
            {
                "id": v.record.id,
                "record_id": v.record.record_id,
                "item_id": v.record.item_id,
                "offer_id": v.record.offer_id,
                "state": v.record.state.value,
                **v.record.terms.to_dict(),
                "events": [
                    {
                        "type": e.type.value,
                        "at": e.at,
                        "actor": e.actor,
                        "resulting_state": e.resulting_state.value,
                    }
                    for e in v.record.events
                ],
            }
            for v in consents
        ],
        "receipts.json": [
            {
                "id": r.id,
                "consent_id": r.consent_id,
                "event_seq": r.event_seq,
                "event_type": r.event_type.value,
                "kid": r.kid,
                "receipt": r.jws,
            }
            for v in consents
            for r in v.receipts
        ],
        "audit_events.json": [
            {
                "seq": e.seq,
                "at": e.at,
                "tag": e.tag,
                "actor": e.actor,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "data": e.data,
                "hash": e.hash,
            }
            for e in _audit_about(uow, user, items, offers, consents)
        ],
    }
    if signer is not None:
        files["platform_key.json"] = signer.public_jwk()

    uow.record(
        AuditTag.PERSONAL_DATA_EXPORT,
        actor_label(actor),
        "user",
        user.id,
        files=sorted(files),
        items=len(items),
    )
    uow.commit()
    return files


def _audit_about(
    uow: UnitOfWork,
    user: User,
    items: list[Item],
    offers: list[LicenceOffer],
    consents: list[ConsentView],
) -> list[AuditEvent]:
    audit = uow.audit
    found = {}
    for subject_type, ids in (
        ("user", [str(user.id)]),
        ("item", [str(i.id) for i in items]),
        ("licence", [str(o.id) for o in offers]),
        ("consent", [str(v.record.id) for v in consents]),
    ):
        if ids:
            for event in audit.about(subject_type, ids):
                found[event.seq] = event
    return [found[seq] for seq in sorted(found)]


def erase_me(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    *,
    signer: Signer,
    confirm: str,
    shredder: Shredder | None = None,
    staging: Staging | None = None,
    publication: Publication | None = None,
) -> User:
    """Erase the caller, in one transaction (``publication`` makes the withdrawal
    receipts ISO/IEC TS 27560 records, as ``consent.withdraw_consent`` does):

    - withdraw every consent (events, receipts, ``consent.notify_holders`` jobs, as a
      withdrawal by hand would) and mark every item withdrawn, so nothing of theirs can
      be selected again;
    - destroy their data key (``key:destroy``): every stored object of theirs becomes
      unreadable, backups included;
    - pseudonymise the account: email ``erased-<id>@invalid``, display name and country
      cleared, password unusable, sessions and API tokens revoked (token names cleared),
      ``erased_at`` set; failed sign-ins under their email and mail not yet sent to it
      are dropped; review notes they wrote or that were written about their items are cleared;
    - clear the items' titles, file names, locations, reports, fingerprints and original
      content ids; forget their unfinished uploads.

    Then, after commit (and again in the ``rights.purge_erased`` job, which retries until
    it succeeds): delete their objects and staged upload bytes, and ``shredder.purge()``
    the database files so no old copy of a row survives in them (the SQLite WAL).

    Kept, because the ledger and buyers' deletion duties need them: ids, the hashes of
    de-identified versions (revocation notices name delivered items by them), licence
    offers, consent records and receipts (they prove what was agreed and withdrawn), and
    the audit log, which names people by id and content by keyed ids only.
    ``confirm`` is what the person typed: ``"erase me"``, in any case, spaces around it
    allowed (``InvalidInput`` on the field ``confirm`` otherwise). It has no default, so
    no caller erases anyone without their say.
    """
    if confirm.strip().lower() != ERASE_CONFIRMATION:
        raise InvalidInput(Problem("confirm", "erasure.confirm", {"phrase": ERASE_CONFIRMATION}))
    user = _user(uow, actor, Permission.PERSONAL_DATA_ERASE)
    who = actor_label(actor)
    now = utcnow()
    withdrawn = 0
    items = uow.all(Item, owner_id=user.id, order_by="id")
    rows = {
        r.id: r
        for r in uow.all(ConsentRecord, owner_id=user.id)
        if r.state is not ConsentState.WITHDRAWN
    }
    objects: set[str] = set()
    for item in items:
        row = rows.get(item.consent_id) if item.consent_id else None
        withdrawn += row is not None
        objects |= _erase_item(uow, signer, who, item, row, now, publication)
    storage.destroy_key(uow, id_of(user))
    uow.record(AuditTag.KEY_DESTROY, who, "user", user.id, reason="account erased")

    for token in uow.all(ApiToken, user_id=user.id):
        token.revoked_at = token.revoked_at or now
        token.name = ""
    for session in uow.all(WebSession, user_id=user.id):
        session.revoked_at = session.revoked_at or now
    for attempt in uow.all(SignInAttempt, email=user.email):
        uow.delete(attempt)
    for request in uow.all(SignUpRequest, email=user.email):  # someone re-registering it
        uow.delete(request)
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    for code in uow.all(RecoveryCode, user_id=user.id):
        uow.delete(code)
    for mail in uow.all(OutboxJob, job=SEND_JOB, state__in=[JobState.PENDING, JobState.FAILED]):
        if (mail.payload or {}).get("to") == user.email:
            mail.payload, mail.state, mail.finished_at = {}, JobState.DONE, now
    item_ids = [i.id for i in items]
    for vote in uow.all(ReviewVote, reviewer_id=user.id) + (
        uow.all(ReviewVote, item_id__in=item_ids) if item_ids else []
    ):
        vote.note = ""  # what they wrote as a reviewer, and what others wrote about theirs
    uploads = [u.id for u in uow.all(ResumableUpload, owner_id=user.id)]
    for upload in uow.all(ResumableUpload, owner_id=user.id):
        uow.delete(upload)
    user.email = f"erased-{user.id}@invalid"
    user.display_name = ""
    user.country = None
    user.password_hash = "!erased"  # matches no password under any hasher
    user.erased_at = now
    uow.record(
        AuditTag.ACCOUNT_ERASE,
        who,
        "user",
        user.id,
        items=len(items),
        consents_withdrawn=withdrawn,
    )
    # Object keys are names keyed by the destroyed data key: they say nothing any more.
    payload = {"user_id": user.id, "objects": sorted(objects), "uploads": sorted(uploads)}
    uow.enqueue(PURGE_JOB, payload, key=f"{PURGE_JOB}:{user.id}")
    uow.commit()
    if shredder is not None or staging is not None:  # at once; the job is the fallback
        _purge(storage.store, staging, shredder, payload)
    return user


def _erase_item(
    uow: UnitOfWork,
    signer: Signer,
    who: str,
    item: Item,
    consent_row: ConsentRecord | None,
    now: datetime,
    publication: Publication | None,
) -> set[str]:
    """What erasure does to one item (an account's erasure does it to each, deleting one
    item does it to that one): its live consent withdrawn as a withdrawal by hand is
    (``apply_withdrawal``: receipt, buyers holding it told to delete it), the item
    withdrawn from every future selection, its sealed fields, place, report and
    fingerprints cleared. Returns the object keys to delete after commit. Ledger entries
    and the de-identified version's hash (revocation notices name it) stay."""
    if consent_row is not None:
        apply_withdrawal(uow, signer, who, item, consent_row, now, publication)
    objects = _object_keys(item.owner_id, [item.original_key, item.deidentified_key, item.report])
    item.withdraw()
    item.title = ""
    item.filename = ERASED_FILENAME
    item.h3_cell = None
    item.write_report({})
    item.fingerprints = None
    item.original_sha256 = ""
    item.updated_at = now
    uow.fingerprints.replace(id_of(item), [])
    return objects


@dataclass(frozen=True)
class DeletionEffects:
    """What deleting one item would do, for the confirmation the person reads first:
    whether a live consent is withdrawn, and how many buyers hold a delivered copy (each
    is told to delete it by ``deletion_deadline_days``)."""

    item_id: int
    consent_withdrawn: bool
    buyers_holding: int
    deletion_deadline_days: int
    being_checked: bool


def deletion_effects(uow: UnitOfWork, actor: Actor, item_id: int) -> DeletionEffects:
    item = uow.get(Item, item_id)
    authorize(actor, Permission.PERSONAL_DATA_ERASE, item or MISSING)
    assert item is not None
    row = uow.get(ConsentRecord, item.consent_id) if item.consent_id else None
    live = row is not None and row.state is not ConsentState.WITHDRAWN
    offer = uow.get(LicenceOffer, row.offer_id) if row is not None else None
    delivered = {r.snapshot_id for r in holdings(uow, item_id)}
    orgs = {s.org_id for s in uow.all(Snapshot, id__in=delivered)} if delivered else set()
    return DeletionEffects(
        item_id,
        live,
        len(orgs) if live else 0,
        offer.terms().deletion_deadline_days if offer else DEFAULT_DELETION_DEADLINE_DAYS,
        item.being_checked,
    )


def delete_my_item(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    item_id: int,
    *,
    signer: Signer,
    publication: Publication | None = None,
) -> Item:
    """Delete one of the caller's items: ``_erase_item``, the very step an account's
    erasure takes for each item, in one transaction, then its stored objects (original,
    de-identified version, derivatives) deleted after commit. The person's data key and
    other items are untouched; money already earned for it stays (the ledger is not
    touched). ``Conflict`` while it is still being checked, and once it is deleted."""
    item = uow.get_for_update(Item, item_id)
    authorize(actor, Permission.PERSONAL_DATA_ERASE, item or MISSING)
    assert item is not None
    if item.being_checked:
        raise Conflict(Problem(None, "item.still_checked"))
    if item.filename == ERASED_FILENAME:
        raise Conflict(Problem(None, "item.already_deleted"))
    row = uow.get_for_update(ConsentRecord, item.consent_id) if item.consent_id else None
    live = row if row is not None and row.state is not ConsentState.WITHDRAWN else None
    who = actor_label(actor)
    objects = _erase_item(uow, signer, who, item, live, utcnow(), publication)
    uow.record(AuditTag.ITEM_DELETE, who, "item", item.id, consent_withdrawn=live is not None)
    # As after an erasure: the job deletes the objects and shreds old copies of the rows
    # (retrying until it can); the objects go at once here too.
    payload = {"user_id": item.owner_id, "objects": sorted(objects), "uploads": []}
    uow.enqueue(PURGE_JOB, payload, key=f"{PURGE_JOB}:item:{item.id}")
    uow.commit()
    _purge(storage.store, None, None, payload)
    return item


def _object_keys(owner_id: int, values: list[Any]) -> set[str]:
    """Every object key of ``owner_id`` among ``values``, looking inside dicts and lists."""
    prefix = f"c/{owner_id}/"
    found: set[str] = set()
    for value in values:
        if isinstance(value, str) and value.startswith(prefix):
            found.add(value)
        elif isinstance(value, dict):
            found |= _object_keys(owner_id, list(value.values()))
        elif isinstance(value, list):
            found |= _object_keys(owner_id, value)
    return found


def _purge(
    store: ObjectStore,
    staging: Staging | None,
    shredder: Shredder | None,
    payload: dict[str, Any],
) -> bool:
    """Delete an erased person's objects and staged uploads, then shred the database
    files. Idempotent; False if the database could not be shredded yet."""
    for key in payload.get("objects", []):
        store.delete(key)
    if staging is not None:
        for upload_id in payload.get("uploads", []):
            staging.remove(upload_id)
    return shredder.purge() if shredder is not None else True


@job(PURGE_JOB)
def purge_erased(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """After an erasure commits: objects, staged uploads and old copies in the database
    files go. Touches no row before shredding: an open transaction here would keep the
    SQLite checkpoint from finishing. Raises (so the job retries) until it has."""
    del uow
    services = ctx.services
    staging = services.staging
    if not _purge(services.store, staging, services.shredder, payload):
        raise RuntimeError("the database files could not be shredded yet; retrying")
