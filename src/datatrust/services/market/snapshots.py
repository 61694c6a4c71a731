"""Snapshots: immutable, versioned dataset builds delivered to one buyer for one order.

``build_snapshot`` evaluates every item of the order's agreements again (fails closed:
withdrawn, expired, no longer permitted, or revoked for this buyer → dropped), plans the
shards and queues one ``snapshots.build_shard`` job per shard; the last shard to finish
queues ``snapshots.finalise``, which writes the index, the Croissant manifest and the
checksums and marks the build ready. Every job is idempotent: a shard already written or a
snapshot already final is left alone.

Versions are semantic per order: the first build is 1.0.0; a build that drops any item of
the previous one bumps MAJOR (``pipeline.snapshot.next_version``).

Every file (shards, index, manifest, checksums) is stored encrypted at rest under the
snapshot's own data key (``Snapshot.wrapped_key``, wrapped by the master key; see
``storage.put_sealed``); a download decrypts while streaming and checks the plaintext
against the file's recorded sha256, the one in ``SHA256SUMS``.

Downloads go through signed, expiring URLs: HMAC-SHA256 with ``settings.secret_key`` over
the path and the expiry. The URL is the credential (so ``curl`` works), and each use is
audited (``snapshot:download``); an expired or altered URL is refused and audited
(``snapshot:refuse``), as is any download of a snapshot holding an item revoked for its
buyer, or by a suspended buyer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from datatrust.domain.accounts import ContributorKey, Organisation, OrgStatus
from datatrust.domain.audit import AuditEvent, AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.consent import ConsentRecord
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.licence import Organisation as LicenceOrg
from datatrust.domain.licence import evaluate
from datatrust.domain.orders import AgreementRow, Order
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.domain.policy import InstancePolicy
from datatrust.domain.snapshots import Revocation, Snapshot, SnapshotItem, SnapshotShard
from datatrust.pipeline import compliance
from datatrust.pipeline import snapshot as writer
from datatrust.pipeline.regions import REGION_RESOLUTION, region_cell
from datatrust.services.accounts import actor_label
from datatrust.services.jobs import JobContext, job
from datatrust.services.licensing import approved_for
from datatrust.services.market.orders import (
    approved_org,
    notice_days,
    notice_ends_from,
    refuse,
    use_from_dict,
)
from datatrust.services.ports import UnitOfWork, by_ids
from datatrust.services.storage import (
    SEALED_FIELD_PREFIX,
    Cipher,
    EncryptedStorage,
    open_sealed,
    put_sealed,
)
from datatrust.services.trust import sign_checkpoint

BUILD_SHARD_JOB = "snapshots.build_shard"
FINALISE_JOB = "snapshots.finalise"
DEFAULT_SHARD_ITEMS = 100
URL_LIFETIME_SECONDS = 3600
MANIFEST = "croissant.json"
INDEX = "index.parquet"
CHECKSUMS = "SHA256SUMS"
# The audit log's head, signed when the snapshot was finalised: the buyer holds proof of
# what the log said then (``datatrust audit verify --checkpoint`` checks it later).
AUDIT_CHECKPOINT = "audit-checkpoint.json"
# The documents a model builder publishes about its training data (pipeline.compliance).
COMPLIANCE = "compliance.json"
_PACK_USE_FIELDS = ("action", "purpose", "industry", "territory", "starts_at", "ends_at")
_FILE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

RAI_TEXT: dict[str, str | list[str]] = {
    "dataCollection": (
        "Each item was recorded and uploaded by the person it is about (the contributor), "
        "who chose its licence and gave recorded consent (ISO/IEC TS 27560 consent record, "
        "id per record). Items passed automatic validation and quality checks."
    ),
    "dataCollectionType": ["Direct contribution by data subjects, with consent"],
    "dataCollectionRawData": (
        "The raw recordings, as uploaded, stay on the platform, encrypted under a key of "
        "their contributor's, and are never delivered: every file in this snapshot is the "
        "de-identified version the contributor was shown before it was listed. Erasing a "
        "contributor destroys the key, and with it the raw data."
    ),
    "dataPreprocessingProtocol": [
        "Validation: the file's real type is sniffed from its bytes, decoded fully, and "
        "refused when corrupt, over the size or duration limits, or of another kind than "
        "declared.",
        "Metadata: EXIF, GPS and container metadata are stripped by re-encoding; the "
        "position, where there was one, is kept only as an H3 cell.",
        "Faces and licence plates of bystanders are detected and blurred in photos and "
        "video; the contributor can mark anything missed, and the item is withheld until "
        "it is removed.",
        "Text (chats, call transcripts): names, phone numbers, e-mail addresses, card and "
        "identity numbers are replaced by placeholders such as [PHONE].",
        "Audio: a call's other side ships only after that person confirmed; speech in "
        "ambient recordings is found and muffled.",
        "Locations are delivered as H3 cells at the catalogue's region resolution.",
        "Duplicates and near-duplicates (perceptual and acoustic fingerprints) are refused.",
    ],
    "personalSensitiveInformation": [
        "Contains the contributor's own likeness, voice or words, which may be biometric "
        "data. Before delivery metadata (EXIF, GPS) was stripped, bystanders' faces were "
        "blurred, personal details in text and transcripts were redacted, and locations were "
        "coarsened to an H3 region. No face templates or voiceprints were computed."
    ],
    "dataLimitations": [
        "Consent is revocable: items withdrawn or expired appear in the buyer's signed "
        "revocation feed with a deletion deadline, and must be deleted and the deletion "
        "attested. Re-identification, redistribution and uses outside the agreed use are "
        "not permitted. De-identification is best effort."
    ],
    "dataBiases": [
        "Contributors self-select; coverage of places, languages and people follows who "
        "chose to contribute and is not representative of any population."
    ],
    "dataSocialImpact": (
        "Contributors are paid a royalty on every sale and can see every use of their data "
        "in their data passport."
    ),
    "dataReleaseMaintenancePlan": (
        "Each build is immutable and versioned per order (semantic versions): a build that "
        "drops any item (withdrawn, expired, no longer permitted) is a new MAJOR version, "
        "one that only adds items a new MINOR. Withdrawals and expiries reach the buyer "
        "through a signed, sequenced, expiring revocation feed with a deletion deadline; the "
        "buyer must attest deletion, and a snapshot holding a revoked item can no longer be "
        "downloaded. The buyer builds the next version at any time; the platform keeps no "
        "copy it does not need to rebuild one."
    ),
}


def object_key(snapshot_id: int, name: str) -> str:
    # Object keys are lower case (see adapters.objectstore); file names need not be.
    return f"snapshots/{snapshot_id}/{name.lower()}"


# --- building --------------------------------------------------------------------------


@dataclass
class _Standing:
    """What ``_why_not`` reads about agreed items besides the items and agreements
    themselves, read for all of them at once (``_standing_of``): a fixed number of
    statements whatever the number of items, where reading it per item made a build of
    10,000 items run tens of thousands.

    ``consents``: by id, the consent records (with their events) the items stand under
    now and those their agreements were made under; ``noticed``: (org id, item id) of
    each standing notice (``Revocation``). Replica approvals are read once per
    organisation and use, when an agreement first needs them."""

    uow: UnitOfWork
    consents: dict[int, ConsentRecord]
    noticed: set[tuple[int, int]]
    approvals: dict[tuple[int, str], set[int]] = field(default_factory=dict)

    def approved(self, org_id: int, use: Mapping[str, Any]) -> set[int]:
        key = (org_id, json.dumps(use, sort_keys=True, default=str))
        if key not in self.approvals:
            self.approvals[key] = approved_for(self.uow, org_id, use)
        return self.approvals[key]


def _standing_of(
    uow: UnitOfWork, agreements: Iterable[AgreementRow], items: Iterable[Item]
) -> _Standing:
    """``_Standing`` for ``agreements`` of ``items``: three statements (consent records,
    their events, notices) per organisation and per 10,000 ids."""
    agreements = list(agreements)
    consent_ids = {i.consent_id for i in items} | {a.consent_id for a in agreements}
    consents = {id_of(c): c for c in by_ids(uow, ConsentRecord, consent_ids)}
    noticed: set[tuple[int, int]] = set()
    for org_id in sorted({a.org_id for a in agreements}):
        wanted = [a.item_id for a in agreements if a.org_id == org_id]
        notices = by_ids(uow, Revocation, wanted, "item_id", org_id=org_id, superseded_at=None)
        noticed.update((org_id, r.item_id) for r in notices)
    return _Standing(uow, consents, noticed)


def _why_not(
    standing: _Standing,
    agreement: AgreementRow,
    item: Item | None,
    at: datetime,
    recipient: Organisation,
    denied_industries: Iterable[str] = (),
) -> list[str]:
    """Reason codes that keep an agreed item out of a build for ``recipient`` now; empty
    if it may go. The recipient must be the agreement's licensee (an affiliate is another
    organisation), and the licence is judged for the recipient, so an offer to named
    organisations or another holder's exclusivity keeps it out too. ``standing``
    (``_standing_of``) holds what is read about the item besides itself."""
    if item is None:
        return ["item_missing"]
    codes: list[str] = []
    if recipient.id != agreement.org_id:
        codes.append("recipient_not_licensee")
    consent = standing.consents.get(item.consent_id) if item.consent_id else None
    # A withdrawal with promised notice takes effect for this agreement when the notice
    # ends (issue 16 §5); until then the withdrawn item stays in this buyer's builds, as
    # downloads serve it (``_in_notice``), whatever the contributor did since: consent
    # given again under other terms does not cut the promised notice short. (Under the
    # same terms the agreement stands on the new consent: ``keep_buyers_in_notice``.)
    made_under = standing.consents.get(agreement.consent_id) if agreement.consent_id else None
    ends = notice_ends_from(agreement, made_under)
    in_notice = (
        ends is not None and at < ends and item.status in (ItemStatus.WITHDRAWN, ItemStatus.LISTED)
    )
    if item.status is not ItemStatus.LISTED and not in_notice:
        codes.append(f"item_{item.status.value}")
    # The agreement stands on the consent it was made under: consent given again after a
    # withdrawal is a new record, under which the item is bought afresh (even under the
    # same licence), so it never revives an older agreement once its notice has ended.
    if not in_notice and (
        consent is None
        or consent.offer_id != agreement.offer_id
        or (agreement.consent_id is not None and consent.id != agreement.consent_id)
    ):
        codes.append("no_consent_for_agreed_licence")
    if not item.deidentified_key:
        codes.append("no_deidentified_version")
    revoked = (agreement.org_id, id_of(item)) in standing.noticed
    if revoked and not in_notice:
        codes.append("revoked")
    # While the notice runs the agreement is judged as the consent stood when it was made.
    withdrawn = "withdrawn" if consent is None else str(consent.state)
    state = "active" if in_notice else withdrawn
    use = use_from_dict(
        agreement.use, at=at, recipient=LicenceOrg(str(recipient.id), recipient.legal_name)
    )

    terms = agreement.terms()
    approved = terms.replica_ask_each_time and item.id in standing.approved(
        agreement.org_id, agreement.use
    )
    decision = evaluate(
        terms, use, at, state=state, denied_industries=denied_industries, replica_approved=approved
    )
    if not decision.allowed:
        codes.extend(str(c) for c in decision.codes)
    return sorted(set(codes))


def _in_notice(
    uow: UnitOfWork, snapshot: Snapshot, item_ids: Iterable[int], at: datetime
) -> set[int]:
    """Those of ``item_ids`` whose withdrawal has not yet taken effect for this snapshot's
    buyer, because the agreement each was delivered under promised notice (issue 16 §5).
    At most four statements however many items: their planned rows, agreements, and the
    consent records (with events) the agreements promising notice were made under."""
    wanted = set(item_ids)
    if not wanted:
        return set()
    rows = sorted(by_ids(uow, SnapshotItem, wanted, "item_id", snapshot_id=snapshot.id), key=id_of)
    planned: dict[int, SnapshotItem] = {}
    for row in rows:
        planned.setdefault(row.item_id, row)
    agreements = {
        id_of(a): a for a in by_ids(uow, AgreementRow, [r.agreement_id for r in planned.values()])
    }
    # Only a promised notice needs the record's withdrawal (none promised: two statements).
    promised = [a.consent_id for a in agreements.values() if notice_days(a) > 0]
    made_under = {id_of(c): c for c in by_ids(uow, ConsentRecord, promised)}
    kept = set()
    for item_id, row in planned.items():
        agreement = agreements.get(row.agreement_id)
        if agreement is None:
            continue
        consent = made_under.get(agreement.consent_id) if agreement.consent_id else None
        ends = notice_ends_from(agreement, consent)
        if ends is not None and at < ends:
            kept.add(item_id)
    return kept


def build_snapshot(
    uow: UnitOfWork,
    actor: Actor,
    order_id: int,
    *,
    cipher: Cipher,
    policy: InstancePolicy,
    shard_items: int = DEFAULT_SHARD_ITEMS,
    now: datetime | None = None,
) -> Snapshot:
    """Plan the next build of a bought order and queue its shard jobs; the build gets a
    data key of its own from ``cipher`` (its files are stored encrypted under it).

    Items no longer allowed are dropped (reason codes kept in ``dropped``). An order with
    nothing left to deliver is a ``Conflict``.

    The order's row is locked first: two builds asked for at once would otherwise both
    number themselves after the same previous build (on PostgreSQL; SQLite's one writer
    serialises them anyway)."""
    order = uow.get_for_update(Order, order_id)
    authorize(actor, Permission.SNAPSHOT_BUILD, order or MISSING)
    assert order is not None
    org = approved_org(uow, actor, Permission.SNAPSHOT_BUILD)
    if not order.bought:
        raise Conflict(Problem(None, "order.not_bought", {"order": order.id}))
    moment = as_utc(now or utcnow())
    agreements = uow.all(AgreementRow, order_id=order.id, order_by="item_id")
    items = {i.id: i for i in by_ids(uow, Item, [a.item_id for a in agreements])}
    standing = _standing_of(uow, agreements, items.values())
    keep: list[AgreementRow] = []
    dropped: dict[str, list[str]] = {}
    for agreement in agreements:
        codes = _why_not(
            standing, agreement, items.get(agreement.item_id), moment, org, policy.denied_industries
        )
        if codes:
            dropped[str(agreement.item_id)] = codes
        else:
            keep.append(agreement)
    if not keep:
        raise Conflict(Problem(None, "order.nothing_deliverable"), {"dropped": dropped})
    previous = _latest(uow, id_of(order))
    ids = [a.item_id for a in keep]
    before = set(previous.item_ids) if previous else set()
    version = writer.next_version(
        previous.version if previous else None,
        dropped=len(before - set(ids)),
        added=len(set(ids) - before),
    )
    shard_items = max(1, shard_items)
    chunks = [keep[i : i + shard_items] for i in range(0, len(keep), shard_items)]
    snapshot = Snapshot(
        org_id=id_of(org),
        order_id=id_of(order),
        created_by=actor.uid,
        version=version,
        item_ids=ids,
        dropped=dropped,
        shard_count=len(chunks),
        previous_id=previous.id if previous else None,
        created_at=moment,
        wrapped_key=cipher.new_wrapped_key(),
    )
    uow.add(snapshot)
    uow.flush()
    # by its contentUrl, so two builds' "shard-00000.tar" would read as one.
    tag = secrets.token_hex(4)
    shards: list[SnapshotShard] = []
    rows: list[SnapshotItem] = []
    for index, chunk in enumerate(chunks):
        name = f"shard-{tag}-{index:05d}.tar"
        shards.append(
            SnapshotShard(
                snapshot_id=id_of(snapshot),
                index=index,
                name=name,
                item_ids=[a.item_id for a in chunk],
            )
        )
        for agreement in chunk:
            item = items[agreement.item_id]
            consent = standing.consents.get(item.consent_id) if item.consent_id else None
            terms = agreement.terms()
            rows.append(
                SnapshotItem(
                    snapshot_id=id_of(snapshot),
                    org_id=id_of(org),
                    item_id=id_of(item),
                    agreement_id=id_of(agreement),
                    shard_index=index,
                    key=writer.record_key(id_of(item)),
                    content_sha256=item.deidentified_sha256 or item.original_sha256,
                    licence_id=f"{terms.id}/v{terms.version}",
                    consent_record_id=consent.record_id if consent else "",
                )
            )
    # In bulk: added one by one, SQLite inserted each row with a statement of its own.
    uow.add_many(shards)
    uow.add_many(rows)
    uow.flush()
    uow.record(
        AuditTag.SNAPSHOT_BUILD,
        actor_label(actor),
        "snapshot",
        snapshot.id,
        stage="planned",
        order_id=order.id,
        org_id=org.id,
        version=version,
        items=len(ids),
        dropped=dropped,
        shards=len(chunks),
    )
    for index in range(len(chunks)):
        uow.enqueue(
            BUILD_SHARD_JOB,
            {"snapshot_id": snapshot.id, "index": index},
            key=f"{BUILD_SHARD_JOB}:{snapshot.id}:{index}",
        )
    uow.commit()
    return snapshot


def _licence_parts(licence_id: str) -> tuple[str, int]:
    """``"<licence id>/v<version>"`` (a record's ``licence_id``) as its two parts."""
    key, _, version = licence_id.rpartition("/v")
    return key, int(version)


def collection_timeframe(items: Iterable[Item]) -> list[str]:
    """When the snapshot's items were contributed: the first and the last upload (UTC)."""
    moments = sorted(as_utc(i.created_at) for i in items)
    return [moments[0].isoformat(), moments[-1].isoformat()] if moments else []


def _latest(uow: UnitOfWork, order_id: int) -> Snapshot | None:
    found = uow.all(Snapshot, order_id=order_id, order_by="-id", limit=1)
    return found[0] if found else None


def _extension(item: Item) -> str:
    # What ships may differ from the upload (a call's transcript while its other side has
    # not confirmed, a video re-encoded to MP4): name the file for what it is.
    # A sealed file name (storage.seal_text) says nothing here: "bin" unless recorded.
    plain = "" if item.filename.startswith(SEALED_FIELD_PREFIX) else item.filename
    ext = item.shipped_format or (plain.rsplit(".", 1)[-1].lower() if "." in plain else "")
    return ext if re.fullmatch(r"[a-z0-9]{1,10}", ext) else "bin"


TRANSCRIPT_EXT = "transcript.txt"


def _transcript_key(item: Item) -> str | None:
    """The stored redacted transcript that ships beside an item's media: a call's, once
    its audio ships (before that the transcript is the media itself)."""
    key = ((item.report or {}).get("transcript") or {}).get("deidentified_key")
    return key if key and key != item.deidentified_key else None


def _transcript_file(key: str, item: Item) -> str | None:
    return f"{key}.{TRANSCRIPT_EXT}" if _transcript_key(item) else None


@job(BUILD_SHARD_JOB)
def build_shard(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Write one shard (de-identified bytes + a JSON record per item) to the object store.

    Idempotent: a shard already ``done`` is skipped; writing it again would give the same
    bytes anyway (fixed tar metadata). The last shard queues ``snapshots.finalise``.
    """
    services = ctx.services
    # Reading every item and writing the shard takes a while: as reads, holding no write
    # lock (SQLite); the shard is marked done in a short write afterwards.
    with uow.reading():
        shard = uow.one(SnapshotShard, snapshot_id=payload["snapshot_id"], index=payload["index"])
        if shard is None or shard.done:
            return
        planned = {
            p.item_id: p
            for p in uow.all(SnapshotItem, snapshot_id=shard.snapshot_id, shard_index=shard.index)
        }
        items = {i.id: i for i in by_ids(uow, Item, list(planned))}
        snapshot = uow.get(Snapshot, shard.snapshot_id)
        assert snapshot is not None and snapshot.wrapped_key is not None
        # An item withdrawn or erased since the build was planned is not read (an erased
        # contributor's bytes cannot be): it is left out and this shard queued again.
        flagged = _undeliverable_now(uow, snapshot) & set(shard.item_ids)
        gone = _no_longer_deliverable(uow, snapshot, services.policy, only=flagged)
        # Each owner's key read once for the shard: ``storage.open`` looks it up by primary
        # key, which the session answers without a statement while the row is held here
        # (it holds rows weakly: otherwise one read per item).
        owners = {i.owner_id for i in items.values()}
        keys = [] if gone else by_ids(uow, ContributorKey, owners, attr="owner_id")
        records = []
        for item_id in [] if gone else shard.item_ids:
            item, plan = items[item_id], planned[item_id]
            media = b"".join(services.storage.open(uow, item.owner_id, item.deidentified_key))
            extra = {}
            if transcript_key := _transcript_key(item):
                text = services.storage.open(uow, item.owner_id, transcript_key)
                extra[TRANSCRIPT_EXT] = b"".join(text)
            records.append(
                writer.ShardRecord(
                    key=plan.key,
                    ext=_extension(item),
                    media=media,
                    record={
                        "item_id": item.id,
                        "kind": item.kind.value,
                        "content_type": item.shipped_content_type,
                        "content_sha256": plan.content_sha256,
                        "licence_id": plan.licence_id,
                        "consent_record_id": plan.consent_record_id,
                        "agreement_id": plan.agreement_id,
                        "duration_seconds": item.duration_seconds,
                        "h3_cell": region_cell(item.h3_cell),
                        "transcript_file": _transcript_file(plan.key, item),
                    },
                    extra=extra,
                )
            )
        del keys
        if not gone:
            with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as spool:
                written = writer.write_shard(shard.name, records, spool)  # type: ignore[arg-type]
                spool.seek(0)
                _put(ctx, snapshot, shard.name, iter(lambda: spool.read(1 << 20), b""))
    snapshot = uow.get_for_update(Snapshot, shard.snapshot_id)
    shard = uow.get_for_update(SnapshotShard, shard.id)
    assert snapshot is not None and shard is not None
    if shard.done:
        return  # another run of this job finished it meanwhile (same bytes)
    if gone:
        _leave_out(uow, snapshot, gone)
        return
    shard.mark_done(written.sha256, written.size)
    snapshot.shards_done += 1
    if snapshot.shards_done >= snapshot.shard_count:
        # A shard written again (``_leave_out``) queues a new finalise: the key names how
        # many items are left, which only shrinks.
        key = f"{FINALISE_JOB}:{snapshot.id}:{len(snapshot.item_ids)}"
        uow.enqueue(FINALISE_JOB, {"snapshot_id": snapshot.id}, key=key)


def _put(ctx: JobContext, snapshot: Snapshot, name: str, chunks: Iterable[bytes]) -> None:
    """Store one of the snapshot's files, encrypted under the snapshot's data key."""
    assert snapshot.id is not None and snapshot.wrapped_key is not None
    services = ctx.services
    key = object_key(snapshot.id, name)
    put_sealed(services.store, services.storage.cipher, snapshot.wrapped_key, key, chunks)


@dataclass(frozen=True)
class _Described:
    """What ``finalise`` works out from the built shards before it writes anything."""

    order: Order
    org: Organisation
    planned: list[SnapshotItem]
    shard_files: list[writer.WrittenFile]
    index: bytes
    index_file: writer.WrittenFile
    manifest_body: bytes
    manifest_file: writer.WrittenFile
    pack_body: bytes
    pack_file: writer.WrittenFile


@job(FINALISE_JOB)
def finalise(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Index, Croissant manifest and checksums; the snapshot becomes ready and delivered.

    The index, manifest and compliance pack (Parquet and JSON over every item) are worked
    out as reads holding no write lock (SQLite: every writer, a buyer declaring a use or a
    tus upload, waited for it); the files are stored and the snapshot made ready in a short
    write afterwards, which checks the snapshot again."""
    with uow.reading():
        snapshot = uow.get(Snapshot, payload["snapshot_id"])
        if snapshot is None or snapshot.ready:
            return
        if snapshot.shards_done < snapshot.shard_count:
            return  # a shard is being written again (``_leave_out``); its run queues this
        # Every planned item judged again, by the rule the build selected it by: an item
        # withdrawn, erased or expired while its shard was being written must not ship.
        gone = _no_longer_deliverable(uow, snapshot, ctx.services.policy)
        described = None if gone else _describe(uow, snapshot, ctx)
    snapshot = uow.get_for_update(Snapshot, payload["snapshot_id"])
    if snapshot is None or snapshot.ready or snapshot.shards_done < snapshot.shard_count:
        return
    # Under the lock, one statement: what changed since the reads above (a withdrawal,
    # erasure, notice or end of licence committed meanwhile). What changes after this
    # commits reaches the buyer as a notice (``revocations.holdings`` counts builds in
    # progress) and stops its downloads (``open_download``).
    if not gone:
        gone = _no_longer_deliverable(
            uow, snapshot, ctx.services.policy, only=_undeliverable_now(uow, snapshot)
        )
    if gone or described is None:
        _leave_out(uow, snapshot, gone)
        return
    _store_and_deliver(uow, snapshot, described, ctx)


def _undeliverable_now(uow: UnitOfWork, snapshot: Snapshot) -> set[int]:
    """The planned items the one-statement check (``Holdings.undeliverable``) flags now."""
    return {item_id for item_id, _ in uow.holdings.undeliverable(id_of(snapshot), utcnow())}


def _no_longer_deliverable(
    uow: UnitOfWork,
    snapshot: Snapshot,
    policy: InstancePolicy,
    *,
    only: set[int] | None = None,
    at: datetime | None = None,
) -> dict[str, list[str]]:
    """item id → reason codes (``_why_not``, the rule the build selected by) for each item
    planned into ``snapshot`` (of ``only``, where given) that may no longer go to its
    buyer; empty when every one may."""
    moment = as_utc(at or utcnow())
    if only is not None and not only:
        return {}
    planned = uow.all(SnapshotItem, snapshot_id=snapshot.id, order_by="item_id")
    planned = [p for p in planned if only is None or p.item_id in only]
    org = uow.get(Organisation, snapshot.org_id)
    assert org is not None
    agreements = {a.id: a for a in by_ids(uow, AgreementRow, [p.agreement_id for p in planned])}
    items = {i.id: i for i in by_ids(uow, Item, [p.item_id for p in planned])}
    standing = _standing_of(uow, agreements.values(), items.values())
    gone: dict[str, list[str]] = {}
    for p in planned:
        agreement = agreements.get(p.agreement_id)
        codes = (
            _why_not(
                standing, agreement, items.get(p.item_id), moment, org, policy.denied_industries
            )
            if agreement is not None
            else ["agreement_missing"]
        )
        if codes:
            gone[str(p.item_id)] = codes
    return gone


def _leave_out(uow: UnitOfWork, snapshot: Snapshot, gone: dict[str, list[str]]) -> None:
    """Take ``gone`` (item id → reason codes) out of a build in progress: their planned
    rows go, the reasons join ``dropped`` (what the buyer reads), and each shard that held
    one is written again without them (its job queues ``finalise`` once more). The
    version is worked out again against the previous build, unless a later build of the
    order already numbered itself after this one. Audited ``snapshot:build``
    (``stage="left_out"``)."""
    ids = {int(k) for k in gone}
    for row in uow.all(SnapshotItem, snapshot_id=snapshot.id):
        if row.item_id in ids:
            uow.delete(row)
    snapshot.item_ids = [i for i in snapshot.item_ids if i not in ids]
    snapshot.dropped = {**snapshot.dropped, **gone}
    latest = _latest(uow, snapshot.order_id)
    if latest is not None and latest.id == snapshot.id:
        previous = uow.get(Snapshot, snapshot.previous_id) if snapshot.previous_id else None
        before = set(previous.item_ids) if previous else set()
        snapshot.version = writer.next_version(
            previous.version if previous else None,
            dropped=len(before - set(snapshot.item_ids)),
            added=len(set(snapshot.item_ids) - before),
        )
    again = []
    for shard in uow.all(SnapshotShard, snapshot_id=snapshot.id, order_by="index"):
        if ids.isdisjoint(shard.item_ids):
            continue
        shard.item_ids = [i for i in shard.item_ids if i not in ids]
        if shard.done:
            snapshot.shards_done -= 1
        shard.write_again()
        again.append(shard.index)
    uow.record(
        AuditTag.SNAPSHOT_BUILD,
        "system",
        "snapshot",
        snapshot.id,
        stage="left_out",
        version=snapshot.version,
        items=len(snapshot.item_ids),
        dropped=gone,
        shards=again,
    )
    # Keys name the items left, which only ever shrink: each round's jobs are new ones.
    for index in again:
        uow.enqueue(
            BUILD_SHARD_JOB,
            {"snapshot_id": snapshot.id, "index": index},
            key=f"{BUILD_SHARD_JOB}:{snapshot.id}:{index}:{len(snapshot.item_ids)}",
        )


def _describe(uow: UnitOfWork, snapshot: Snapshot, ctx: JobContext) -> _Described:
    services = ctx.services
    shards = uow.all(SnapshotShard, snapshot_id=snapshot.id, order_by="index")
    if not all(s.done for s in shards):
        raise RuntimeError(f"snapshot {snapshot.id} still has shards to write")
    order = uow.get(Order, snapshot.order_id)
    org = uow.get(Organisation, snapshot.org_id)
    assert order is not None and org is not None
    planned = uow.all(SnapshotItem, snapshot_id=snapshot.id, order_by="item_id")
    items = {i.id: i for i in by_ids(uow, Item, [p.item_id for p in planned])}
    shard_names = {s.index: s.name for s in shards}
    rows: list[Mapping[str, Any]] = []
    for p in planned:
        item = items[p.item_id]
        rows.append(
            {
                "key": p.key,
                "shard": shard_names[p.shard_index],
                "media_file": f"{p.key}.{_extension(item)}",
                "item_id": p.item_id,
                "kind": item.kind.value,
                "content_type": item.shipped_content_type,
                "content_sha256": p.content_sha256,
                "licence_id": p.licence_id,
                "consent_record_id": p.consent_record_id,
                "duration_seconds": item.duration_seconds,
                "h3_cell": region_cell(item.h3_cell),
                "transcript_file": _transcript_file(p.key, item),
            }
        )
    shard_files = [writer.WrittenFile(s.name, s.sha256 or "", s.size or 0) for s in shards]
    index = writer.index_parquet(rows)
    index_file = writer.sha256_of(index, INDEX)
    use = order.use
    base = services.settings.base_url.rstrip("/")
    manifest = writer.croissant_manifest(
        name=f"datatrust-order-{order.id}",
        description=(
            f"Datatrust snapshot for {org.legal_name}, order {order.id}: "
            f"{len(rows)} items licensed for {use['action']} / {use['purpose']} in "
            f"{use['industry']}, territory {use['territory']}, {use['starts_at']} to "
            f"{use['ends_at']}."
        ),
        version=snapshot.version,
        url=f"{base}/api/buyers/snapshots/{snapshot.id}",
        date_published=as_utc(snapshot.created_at).isoformat(),
        shards=shard_files,
        index=index_file,
        records=rows,
        # One IRI per licence version, the ODRL policy's uid (``domain.iris``).
        licences=[
            services.publication.iris.licence(*_licence_parts(p.licence_id)) for p in planned
        ],
        rai={
            **RAI_TEXT,
            # Spelled as mlcroissant, the reference reader, maps it (rai:...TimeFrame).
            "dataCollectionTimeFrame": collection_timeframe(items.values()),
            "dataUseCases": [
                f"Only the agreed use: action {use['action']}, purpose {use['purpose']}, "
                f"industry {use['industry']}, territory {use['territory']}, from "
                f"{use['starts_at']} until {use['ends_at']}; each record's licence says more."
            ],
        },
        creator="Datatrust",
        h3_resolution=REGION_RESOLUTION,
    )
    manifest_body = writer.manifest_bytes(manifest)
    manifest_file = writer.sha256_of(manifest_body, MANIFEST)
    pack = compliance.compliance_pack(
        [
            compliance.PackRecord(
                kind=items[p.item_id].kind.value,
                content_type=items[p.item_id].shipped_content_type,
                size=items[p.item_id].size,
                duration_seconds=items[p.item_id].duration_seconds,
                language=items[p.item_id].language,
                collected_at=as_utc(items[p.item_id].created_at),
                licence_iri=services.publication.iris.licence(*_licence_parts(p.licence_id)),
                has_transcript=_transcript_key(items[p.item_id]) is not None,
            )
            for p in planned
        ],
        dataset=manifest["name"],
        version=snapshot.version,
        built_at=as_utc(snapshot.created_at),
        use={
            k: use[k]
            for k in ("action", "purpose", "industry", "territory", "starts_at", "ends_at")
        },
        dropped=snapshot.dropped,
        excluded_at_order=order.reasons or {},
    )
    pack_body = json.dumps(pack, indent=2, ensure_ascii=False).encode()
    return _Described(
        order=order,
        org=org,
        planned=planned,
        shard_files=shard_files,
        index=index,
        index_file=index_file,
        manifest_body=manifest_body,
        manifest_file=manifest_file,
        pack_body=pack_body,
        pack_file=writer.sha256_of(pack_body, COMPLIANCE),
    )


def _store_and_deliver(uow: UnitOfWork, snapshot: Snapshot, d: _Described, ctx: JobContext) -> None:
    """The files stored, the snapshot ready, its delivery recorded (the write)."""
    order, org, planned = d.order, d.org, d.planned
    checkpoint_body = json.dumps(
        sign_checkpoint(uow, ctx.services.signer).document(), indent=2, sort_keys=True
    ).encode()
    checkpoint_file = writer.sha256_of(checkpoint_body, AUDIT_CHECKPOINT)
    _put(ctx, snapshot, INDEX, [d.index])
    _put(ctx, snapshot, MANIFEST, [d.manifest_body])
    _put(ctx, snapshot, AUDIT_CHECKPOINT, [checkpoint_body])
    _put(ctx, snapshot, COMPLIANCE, [d.pack_body])
    described = [d.index_file, d.manifest_file, checkpoint_file, d.pack_file]
    sums = writer.sha256sums([*d.shard_files, *described])
    _put(ctx, snapshot, CHECKSUMS, [sums])
    sums_file = writer.sha256_of(sums, CHECKSUMS)
    snapshot.files = {
        f.name: {"sha256": f.sha256, "size": f.size}
        for f in [*d.shard_files, *described, sums_file]
    }
    snapshot.mark_ready(utcnow())
    uow.record(
        AuditTag.SNAPSHOT_BUILD,
        "system",
        "snapshot",
        snapshot.id,
        stage="ready",
        version=snapshot.version,
        files=sorted(snapshot.files),
        job_id=ctx.job_id,
    )
    for p in planned:
        uow.record(
            AuditTag.SNAPSHOT_DELIVER,
            "system",
            "item",
            p.item_id,
            snapshot_id=snapshot.id,
            version=snapshot.version,
            org_id=org.id,
            org_name=org.legal_name,
            order_id=order.id,
        )


# --- reading and downloading -----------------------------------------------------------


def get_snapshot(uow: UnitOfWork, actor: Actor, snapshot_id: int) -> Snapshot:
    snapshot = uow.get(Snapshot, snapshot_id)
    authorize(actor, Permission.SNAPSHOT_DOWNLOAD, snapshot or MISSING)
    assert snapshot is not None
    return snapshot


def list_snapshots(uow: UnitOfWork, actor: Actor) -> list[Snapshot]:
    org = approved_org(uow, actor, Permission.SNAPSHOT_DOWNLOAD, allow_suspended=True)
    return uow.all(Snapshot, org_id=org.id, order_by="-id")


def file_path(snapshot_id: int, name: str) -> str:
    return f"/api/snapshots/{snapshot_id}/files/{name}"


def _signature(secret: str, path: str, expires: int) -> str:
    return hmac.new(secret.encode(), f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(secret: str, snapshot_id: int, name: str, expires: int) -> str:
    path = file_path(snapshot_id, name)
    return f"{path}?expires={expires}&sig={_signature(secret, path, expires)}"


def download_links(
    uow: UnitOfWork,
    actor: Actor,
    secret: str,
    snapshot_id: int,
    *,
    lifetime_seconds: int = URL_LIFETIME_SECONDS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Signed, expiring links for every file of a ready snapshot of the caller's org.
    Refused (``PermissionDenied``) once the order's use or an item's licence ended
    (``undeliverable``): no link is signed for what may never be downloaded again."""
    snapshot = get_snapshot(uow, actor, snapshot_id)
    approved_org(uow, actor, Permission.SNAPSHOT_DOWNLOAD)
    if not snapshot.ready:
        raise Conflict(Problem(None, "snapshot.building", {"snapshot": snapshot.id}))
    moment = as_utc(now or utcnow())
    why = undeliverable(uow, snapshot, moment)
    problem = why[0] if why is not None else None
    # Once the use or a licence ended nothing of it may be fetched again: no link. A
    # snapshot with withdrawn items keeps its links (each download is refused, saying
    # so) while a promised notice may still let some of it go. Not audited: reading a
    # snapshot's page is no download, and a page shown again must not fill the log.
    if problem is not None and problem.code in ENDED:
        raise PermissionDenied(problem)
    expires = int(moment.timestamp()) + lifetime_seconds
    return {
        "expires": expires,
        "files": {
            name: {**meta, "url": signed_url(secret, id_of(snapshot), name, expires)}
            for name, meta in sorted(snapshot.files.items())
        },
    }


# The refusals that no later moment lifts: the use or a licence is over.
ENDED = frozenset({"download.use_ended", "download.licence_ended"})


def undeliverable(
    uow: UnitOfWork, snapshot: Snapshot, at: datetime
) -> tuple[Problem, dict[str, Any]] | None:
    """Why ``snapshot`` may not be downloaded at ``at`` (the problem, and what to audit
    with it), or None when it may: the order's declared use ended
    (``download.use_ended``); the agreement of some item ended (``download.licence_ended``);
    some item was withdrawn or erased, its consent is no longer active, or its buyer has a
    notice about it, unless a withdrawal's promised notice still runs
    (``download.withdrawn_items``). Two indexed statements whatever the snapshot's size
    (the order by its key, ``Holdings.undeliverable``); the items it flags are looked at
    again, in at most four more however many they are (``_in_notice``)."""
    order = uow.get(Order, snapshot.order_id)
    ends = order.use.get("ends_at") if order is not None else None
    use_end = as_utc(datetime.fromisoformat(ends)) if isinstance(ends, str) else None
    if order is None or (use_end is not None and at >= use_end):
        return Problem(None, "download.use_ended", {"at": use_end or at}), {
            "use_ended": (use_end or at).isoformat()
        }
    flagged = uow.holdings.undeliverable(id_of(snapshot), at)
    ended = [item_id for item_id, why in flagged if why == "ended"]
    if ended:
        return Problem(None, "download.licence_ended", {"count": len(ended)}), {
            "licence_ended": ended
        }
    kept = _in_notice(uow, snapshot, [item_id for item_id, _ in flagged], at)
    revoked = [item_id for item_id, _ in flagged if item_id not in kept]
    if revoked:
        return Problem(None, "download.withdrawn_items", {"count": len(revoked)}), {
            "revoked": len(revoked)
        }
    return None


# A link refused for its own sake (incomplete, altered, expired) is audited at most once
# per snapshot and kind in this long: anyone may send links, so recording each one would let
# anonymous callers write to the append-only log without limit.
BAD_LINK_CODES = frozenset({"download.incomplete", "download.altered", "download.expired"})
BAD_LINK_QUIET = timedelta(minutes=15)


def _bad_link_worth_auditing(
    uow: UnitOfWork, snapshot_id: int, name: str, code: str, at: datetime
) -> bool:
    """Whether a link to ``name`` of snapshot ``snapshot_id`` refused for ``code`` (one of
    ``BAD_LINK_CODES``) is to be audited: not when there is no such snapshot or file
    (nothing anyone holds was asked for), nor when the same refusal of the snapshot was
    audited in the last ``BAD_LINK_QUIET`` (that event stands for those after it, which
    are refused alike; the audited one names its code as ``link``). So bad links write at
    most one event per snapshot and code in that span, however many are sent."""
    snapshot = uow.get(Snapshot, snapshot_id)
    if snapshot is None or name not in snapshot.files:
        return False
    recent = uow.all(
        AuditEvent,
        order_by="-seq",
        limit=2 * len(BAD_LINK_CODES),
        tag=AuditTag.SNAPSHOT_REFUSE.value,
        subject_type="snapshot",
        subject_id=str(snapshot_id),
    )
    return not any(
        e.data.get("link") == code and as_utc(e.at) > at - BAD_LINK_QUIET for e in recent
    )


def open_download(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    secret: str,
    snapshot_id: int,
    name: str,
    *,
    expires: str | None,
    sig: str | None,
    now: datetime | None = None,
) -> Iterator[bytes]:
    """Check a signed link and stream the file, decrypted, its plaintext checked against
    its recorded sha256; audit the download or the refusal.

    Refused (``PermissionDenied``, audited ``snapshot:refuse``): a missing or altered
    signature, an expired link, a snapshot whose buyer is suspended, or one that may not
    be delivered any more (``undeliverable``: its use or an item's licence ended, or an
    item was withdrawn or revoked for its buyer). An unknown file is ``NotFound``.
    A bad link (missing or altered signature, expired) is refused alike whether or not
    its snapshot exists, and audited only as ``_bad_link_worth_auditing`` says.
    """
    moment = as_utc(now or utcnow())
    path = file_path(snapshot_id, name)

    def refused(problem: Problem, **data: Any) -> PermissionDenied:
        return refuse(
            uow,
            actor,
            AuditTag.SNAPSHOT_REFUSE,
            "snapshot",
            snapshot_id,
            PermissionDenied(problem),
            file=name,
            **data,
        )

    def bad_link(problem: Problem, **data: Any) -> PermissionDenied:
        if _bad_link_worth_auditing(uow, snapshot_id, name, problem.code, moment):
            return refused(problem, link=problem.code, **data)
        uow.rollback()
        return PermissionDenied(problem)

    if not expires or not sig or not expires.isdigit():
        raise bad_link(Problem(None, "download.incomplete"))
    good = _signature(secret, path, int(expires))
    if not hmac.compare_digest(good, sig):
        raise bad_link(Problem(None, "download.altered"))
    if int(expires) < moment.timestamp():
        raise bad_link(
            Problem(None, "download.expired", {"at": datetime.fromtimestamp(int(expires), UTC)}),
            expired=int(expires),
        )
    snapshot = uow.get(Snapshot, snapshot_id)
    if snapshot is None or not _FILE_NAME.match(name) or name not in snapshot.files:
        raise NotFound(Problem(None, "snapshot.no_such_file"))
    if snapshot.wrapped_key is None:
        raise Conflict(Problem(None, "snapshot.unencrypted", {"snapshot": snapshot.id}))
    org = uow.get(Organisation, snapshot.org_id)
    if org is None or org.status is not OrgStatus.APPROVED:
        raise refused(
            Problem(None, "download.org_state", {"state": org.status.value if org else "gone"})
        )
    if (why := undeliverable(uow, snapshot, moment)) is not None:
        raise refused(why[0], **why[1])
    uow.record(
        AuditTag.SNAPSHOT_DOWNLOAD,
        actor_label(actor) if actor.user_id else f"org:{snapshot.org_id}",
        "snapshot",
        snapshot.id,
        file=name,
        org_id=snapshot.org_id,
        version=snapshot.version,
    )
    uow.commit()
    return open_sealed(
        storage.store,
        storage.cipher,
        snapshot.wrapped_key,
        object_key(id_of(snapshot), name),
        snapshot.files[name]["sha256"],
    )


def read_compliance_pack(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, snapshot_id: int
) -> dict[str, Any]:
    """The compliance pack stored with a ready snapshot of the caller's organisation (the
    same ``compliance.json`` its links download), checked against its recorded sha256."""
    snapshot = get_snapshot(uow, actor, snapshot_id)
    if not snapshot.ready or COMPLIANCE not in snapshot.files:
        raise NotFound(Problem(None, "snapshot.no_compliance_pack"))
    assert snapshot.id is not None and snapshot.wrapped_key is not None
    body = b"".join(
        open_sealed(
            storage.store,
            storage.cipher,
            snapshot.wrapped_key,
            object_key(snapshot.id, COMPLIANCE),
            snapshot.files[COMPLIANCE]["sha256"],
        )
    )
    pack: dict[str, Any] = json.loads(body)
    return pack


def check_name(name: str) -> None:
    if not _FILE_NAME.match(name):
        raise InvalidInput(Problem("name", "file_name"))
