"""Revocation: withdrawal and expiry reach every buyer that holds the item.

A buyer *holds* an item once a snapshot with it was delivered to it (the snapshot became
ready). When the item is withdrawn (the ``consent.notify_holders`` job, whose handler is
``notify_holders`` here) or its licence or consent expires
(``revocations.check_deadlines``), each holder gets a ``Revocation``: every content hash
it received the item as (a re-processed item, such as a call whose audio joined after
the other side confirmed, reaches one buyer under a new hash in a later snapshot) and a
deletion deadline (the agreed licence's ``deletion_deadline_days``, default
30). The buyer reads them as a signed feed (compact JWS, Ed25519, the platform's key),
acknowledges them, and attests deletion: one attestation names every hash of the notice
(a copy left out would stay undeleted). An attestation for an item the buyer never
received, or naming only some of a notice's hashes, is refused and audited. A notice
still unattested after its deadline, or attested late, suspends the buyer and notifies
the operator (both audited).

Priced revocability (issue 16 §5): a licence may promise existing licensees
``withdrawal_notice_days`` of notice. A withdrawal still stops every new selection at
once; a buyer already holding an agreement keeps the item until the notice ends
(``notice_ends_at``: builds keep it, downloads serve it), and its deletion deadline runs
from then. Consent given again under the same licence before that notice ends means the
withdrawal never takes effect for that buyer (``keep_buyers_in_notice``): its agreement
stands on the new consent and its notice is superseded, which the feed says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from datatrust.domain.accounts import Organisation, OrgStatus
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.consent import ConsentRecord
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.licence import DEFAULT_DELETION_DEADLINE_DAYS
from datatrust.domain.notifications import NoticeKind
from datatrust.domain.orders import AgreementRow
from datatrust.domain.permissions import Actor, Permission
from datatrust.domain.snapshots import Revocation, Snapshot, SnapshotItem, SnapshotState
from datatrust.services import licensing
from datatrust.services.accounts import actor_label, notify, notify_members
from datatrust.services.jobs import JobContext, job
from datatrust.services.market import webhooks
from datatrust.services.market.orders import approved_org, notice_ends_at, refuse
from datatrust.services.ports import Signer, UnitOfWork, by_ids

CHECK_DEADLINES_JOB = "revocations.check_deadlines"
FEED_TYPE = "datatrust-revocation-feed"


# --- who holds what ----------------------------------------------------------------------


def holdings(uow: UnitOfWork, item_id: int) -> list[SnapshotItem]:
    """Deliveries of ``item_id``: its rows in snapshots that became ready, and in builds
    still in progress. A build re-checks every item under its lock before it becomes
    ready (``snapshots.finalise``), but a withdrawal committed just after that check
    would otherwise find no holder and the buyer would never be told; one whose item is
    then left out of the build gets a notice it can attest without a copy to name."""
    rows = uow.all(SnapshotItem, item_id=item_id)
    held = {
        s.id
        for s in uow.all(Snapshot, id__in={r.snapshot_id for r in rows})
        if s.state in (SnapshotState.READY, SnapshotState.BUILDING)
    }
    return [r for r in rows if r.snapshot_id in held]


def holdings_under(uow: UnitOfWork, item: Item, record: ConsentRecord) -> list[SnapshotItem]:
    """Deliveries of ``item`` made under consent ``record`` or an earlier one: who a
    withdrawal of ``record`` reaches. A delivery under consent given again later (a newer
    record of the item) is that newer consent's, and its buyer is told only if that one is
    withdrawn too; so is a delivery whose agreement that newer consent continued
    (``keep_buyers_in_notice``)."""
    newer = [r for r in uow.all(ConsentRecord, item_id=id_of(item)) if id_of(r) > id_of(record)]
    newer_uids = {r.record_id for r in newer}
    newer_ids = {id_of(r) for r in newer}
    rows = [r for r in holdings(uow, id_of(item)) if r.consent_record_id not in newer_uids]
    continued = {
        a.id
        for a in by_ids(uow, AgreementRow, {r.agreement_id for r in rows})
        if a.consent_id in newer_ids
    }
    return [r for r in rows if r.agreement_id not in continued]


def held_hashes(uow: UnitOfWork, org_id: int) -> dict[int, list[str]]:
    """item id → every content hash ``org_id`` received it as (ready snapshots, first
    delivery first). One item reaches a buyer under several hashes when it was re-done
    between builds."""
    rows = uow.all(SnapshotItem, org_id=org_id, order_by="id")
    ready = {s.id for s in uow.all(Snapshot, id__in={r.snapshot_id for r in rows}) if s.ready}
    found: dict[int, list[str]] = {}
    for r in rows:
        hashes = found.setdefault(r.item_id, [])
        if r.snapshot_id in ready and r.content_sha256 not in hashes:
            hashes.append(r.content_sha256)
    return {item_id: hashes for item_id, hashes in found.items() if hashes}


def notice_hashes(notice: Revocation, held: dict[int, list[str]]) -> list[str]:
    """Every hash ``notice`` covers (``held`` from ``held_hashes`` of its org)."""
    return list(dict.fromkeys([notice.content_sha256, *held.get(notice.item_id, [])]))


def _deadline_days(uow: UnitOfWork, agreement_id: int) -> int:
    """Days from the notice to the deletion deadline: the promised withdrawal notice (if
    the licence has one) plus the deletion deadline."""
    agreement = uow.get(AgreementRow, agreement_id)
    if agreement is None:
        return DEFAULT_DELETION_DEADLINE_DAYS
    terms = agreement.licence
    deletion = int(terms.get("deletion_deadline_days", DEFAULT_DELETION_DEADLINE_DAYS))
    return deletion + int(terms.get("withdrawal_notice_days", 0) or 0)


def next_seq(uow: UnitOfWork, org_id: int) -> int:
    """The next sequence number of ``org_id``'s feed. The organisation's row is locked
    first, so two withdrawals noticed at once for one buyer queue here instead of taking
    the same number (the unique (org_id, seq) constraint backs this up)."""
    uow.get_for_update(Organisation, org_id)
    last = uow.all(Revocation, org_id=org_id, order_by="-seq", limit=1)
    return (last[0].seq if last else 0) + 1


def notify_holders_of(
    uow: UnitOfWork,
    item: Item,
    reason: str,
    at: datetime | None = None,
    *,
    deliveries: list[SnapshotItem] | None = None,
) -> list[Revocation]:
    """Give every holder of ``item`` (the buyers of ``deliveries``, by default every
    delivery of it) a notice (idempotent: one per holder and item) and schedule the
    deadline check and a webhook push for each. Records ``revocation:notify`` per new
    notice."""
    moment = as_utc(at or utcnow())
    made = []
    by_org: dict[int, SnapshotItem] = {}
    for held in holdings(uow, id_of(item)) if deliveries is None else deliveries:
        by_org.setdefault(held.org_id, held)
    for org_id, held in sorted(by_org.items()):
        if uow.one(Revocation, org_id=org_id, item_id=item.id, superseded_at=None) is not None:
            continue
        days = _deadline_days(uow, held.agreement_id)
        notice = Revocation(
            org_id=org_id,
            item_id=id_of(item),
            content_sha256=held.content_sha256,
            reason=reason,
            noticed_at=moment,
            deadline=moment + timedelta(days=days),
            seq=next_seq(uow, org_id),
        )
        uow.add(notice)
        uow.flush()
        uow.record(
            AuditTag.REVOCATION_NOTIFY,
            "system",
            "item",
            item.id,
            org_id=org_id,
            notice_id=notice.id,
            reason=reason,
            content_sha256=held.content_sha256,
            content_hashes=held_hashes(uow, org_id).get(id_of(item), [held.content_sha256]),
            deletion_deadline=notice.deadline.isoformat(),
        )
        notify_members(
            uow, org_id, NoticeKind.DELETION_REQUESTED, deadline=notice.deadline.isoformat()
        )
        uow.enqueue(
            CHECK_DEADLINES_JOB,
            {"notice_id": notice.id},
            key=f"{CHECK_DEADLINES_JOB}:notice:{notice.id}",
            delay_seconds=int((notice.deadline - utcnow()).total_seconds()) + 1,
        )
        webhooks.queue_push(uow, org_id, id_of(notice))
        made.append(notice)
    return made


@job(licensing.NOTIFY_HOLDERS_JOB)
def notify_holders(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Outbox job queued by a withdrawal: give every buyer holding the item its notice
    and record on the consent who they are (``consent.record_holders``), in the job's
    transaction, so the notices commit with its ``done`` or not at all. Idempotent."""
    licensing.record_holders(uow, payload, ctx.job_id, find_holders=_notify_holders)


def _notify_holders(uow: UnitOfWork, item: Item, record: ConsentRecord) -> Iterable[str]:
    """The buyers that held ``item`` under the withdrawn ``record`` (``holdings_under``),
    each told once: whatever the item's status is now (consent may have been given again
    meanwhile), this job is a withdrawal's."""
    deliveries = holdings_under(uow, item, record)
    notify_holders_of(uow, item, "withdrawn", deliveries=deliveries)
    return [f"org:{h.org_id}" for h in deliveries]


def keep_buyers_in_notice(
    uow: UnitOfWork, item: Item, old: ConsentRecord, new: ConsentRecord, at: datetime
) -> list[int]:
    """Consent given again (``new``) after the withdrawal of ``old``: the buyers whose
    promised notice of that withdrawal had not ended by ``at`` keep the item, as if it
    had never been withdrawn, where ``new`` stands under the same licence offer as their
    agreement. Each such agreement now stands on ``new`` (builds, downloads and quotes
    treat it as in force, and a later withdrawal of ``new`` reaches its buyer), the
    buyer's notice, if it was given, is superseded (it stays at its place in the feed,
    saying so, and needs no attestation), the buyer is pushed that notice again, and
    ``new`` is queued to name it among its recipients. Audited ``revocation:supersede``
    per buyer. Returns the organisations kept, sorted.

    Consent given again under another licence keeps nothing: the old terms stay withdrawn,
    so each buyer keeps the item only until its notice ends, then deletes it, and may buy
    it afresh under the new terms. Nor does consent given after a buyer's notice ended:
    the withdrawal has taken effect for it. Does not commit (the caller's transaction)."""
    moment = as_utc(at)
    kept: set[int] = set()
    for agreement in uow.all(AgreementRow, item_id=id_of(item), consent_id=id_of(old)):
        ends = notice_ends_at(uow, agreement)
        if ends is None or ends <= moment or agreement.offer_id != new.offer_id:
            continue
        agreement.consent_id = id_of(new)
        kept.add(agreement.org_id)
    for org_id in sorted(kept):
        notice = uow.one(Revocation, org_id=org_id, item_id=id_of(item), superseded_at=None)
        if notice is not None and notice.attested_at is None:
            notice.superseded_at = moment
            webhooks.queue_push(uow, org_id, id_of(notice))
        uow.record(
            AuditTag.REVOCATION_SUPERSEDE,
            "system",
            "item",
            item.id,
            org_id=org_id,
            notice_id=notice.id if notice is not None else None,
            consent_id=new.id,
            previous_consent_id=old.id,
        )
        uow.enqueue(
            licensing.RECIPIENTS_CHANGED_JOB,
            {"org_id": org_id, "item_ids": [id_of(item)]},
            key=f"{licensing.RECIPIENTS_CHANGED_JOB}:kept:{new.id}:{org_id}",
        )
    return sorted(kept)


# --- the buyer's side --------------------------------------------------------------------


FEED_TTL_SECONDS = 24 * 3600


def feed_claims(
    uow: UnitOfWork,
    org: Organisation,
    base_url: str,
    at: datetime,
    ttl_seconds: int = FEED_TTL_SECONDS,
) -> dict[str, Any]:
    """The feed's claims, a sequenced log: one entry per notice in sequence order (``seq``
    1, 2, 3 …, no hole), ``last_seq`` the last one (0 with none), ``iat`` when it was
    issued and ``exp`` after which no client may trust it (a copy withheld or replayed
    past that is refused). ``content_sha256`` is the first hash the buyer received the
    item as (kept for readers of the older format), ``content_hashes`` every one, each of
    which must be deleted."""
    notices = uow.all(Revocation, org_id=org.id, order_by="seq")
    held = held_hashes(uow, id_of(org))
    return {
        "type": FEED_TYPE,
        "iss": base_url,
        "sub": f"org:{org.id}",
        "iat": int(at.timestamp()),
        "exp": int((at + timedelta(seconds=ttl_seconds)).timestamp()),
        "last_seq": notices[-1].seq if notices else 0,
        "revoked": [feed_entry(uow, n, held) for n in notices],
    }


def notice_end_of(uow: UnitOfWork, notice: Revocation) -> datetime | None:
    """When the withdrawal behind ``notice`` takes effect for its buyer, where the licence
    promised notice (``notice_ends_at`` of the agreement the buyer first received the item
    under: what builds and downloads go by); None where it took effect at once."""
    if notice.reason != "withdrawn":
        return None
    rows = uow.all(SnapshotItem, org_id=notice.org_id, item_id=notice.item_id, order_by="id")
    agreement = uow.get(AgreementRow, rows[0].agreement_id) if rows else None
    return notice_ends_at(uow, agreement) if agreement is not None else None


def feed_entry(uow: UnitOfWork, n: Revocation, held: dict[int, list[str]]) -> dict[str, Any]:
    """One notice as the feed (and a pushed notice) lists it. ``notice_ends_at``: until
    when the buyer may still use the item under a promised notice (null: it may not)."""
    ends = notice_end_of(uow, n)
    return {
        "seq": n.seq,
        "content_sha256": n.content_sha256,
        "content_hashes": notice_hashes(n, held),
        "reason": n.reason,
        "noticed_at": as_utc(n.noticed_at).isoformat(),
        "notice_ends_at": ends.isoformat() if ends is not None else None,
        "deletion_deadline": as_utc(n.deadline).isoformat(),
        "acknowledged": n.acknowledged_at is not None,
        "attested": n.attested_at is not None,
        # Consent given again under the same licence before the notice ended: the buyer
        # keeps the item and has nothing to delete (``keep_buyers_in_notice``).
        "superseded_at": as_utc(n.superseded_at).isoformat() if n.superseded_at else None,
    }


JWKS_PATH = "/.well-known/jwks.json"


def notice_claims(
    uow: UnitOfWork, notice_id: int, base_url: str, url: str, at: datetime, ttl_seconds: int
) -> dict[str, Any]:
    """The pushed body's claims: the notice as the feed lists it, the feed's position
    (``last_seq``) and where to read the whole feed. ``aud`` is the webhook URL, so a body
    captured at one buyer's endpoint cannot be replayed at another's as its own."""
    notice = uow.get(Revocation, notice_id)
    assert notice is not None
    last = uow.all(Revocation, org_id=notice.org_id, order_by="-seq", limit=1)
    return {
        "type": webhooks.NOTICE_TYPE,
        "iss": base_url,
        "sub": f"org:{notice.org_id}",
        "aud": url,
        "iat": int(at.timestamp()),
        "exp": int((at + timedelta(seconds=ttl_seconds)).timestamp()),
        "last_seq": last[0].seq if last else notice.seq,
        "notice": feed_entry(uow, notice, held_hashes(uow, notice.org_id)),
        "feed_url": base_url.rstrip("/") + "/api/buyers/feed",
        "jwks_url": base_url.rstrip("/") + JWKS_PATH,
    }


@job(webhooks.PUSH_JOB)
def push_notice_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """One attempt to push notice ``payload["notice_id"]`` to the buyer's webhook
    (``webhooks.push``), its body the notice as the feed lists it."""
    settings = ctx.services.settings

    def claims(url: str, at: datetime) -> dict[str, Any]:
        return notice_claims(
            uow, payload["notice_id"], settings.base_url, url, at, settings.feed_ttl_seconds
        )

    webhooks.push(uow, payload, ctx, claims)


def revocation_feed(
    uow: UnitOfWork,
    signer: Signer,
    actor: Actor,
    base_url: str,
    now: datetime | None = None,
    ttl_seconds: int = FEED_TTL_SECONDS,
) -> dict[str, Any]:
    """The caller organisation's feed as a compact JWS, where to fetch the keys that check
    it (``jwks_url``; a client should trust those, not the copy of the key sent along in
    ``public_jwk``), and the claims unverified for display.

    A suspended buyer may still read it: suspension must never stop deletion.
    """
    org = approved_org(uow, actor, Permission.FEED_READ, allow_suspended=True)
    claims = feed_claims(uow, org, base_url, as_utc(now or utcnow()), ttl_seconds)
    return {
        "feed": signer.sign(claims),
        "jwks_url": base_url.rstrip("/") + JWKS_PATH,
        "public_jwk": signer.public_jwk(),
        "claims": claims,
    }


def late_notices(uow: UnitOfWork, actor: Actor, now: datetime | None = None) -> set[int]:
    """The feed positions (``seq``) of the caller organisation's notices whose deletion is
    past its deadline and not attested (``Revocation.past_deadline``): what its feed page
    marks overdue, by the rule that suspends it."""
    org = approved_org(uow, actor, Permission.FEED_READ, allow_suspended=True)
    moment = as_utc(now or utcnow())
    return {
        n.seq
        for n in uow.all(Revocation, org_id=org.id, attested_at=None)
        if n.past_deadline(moment)
    }


def _notices_for(
    uow: UnitOfWork,
    actor: Actor,
    org: Organisation,
    hashes: list[str],
    tag: AuditTag,
    *,
    every_copy: bool = False,
) -> list[Revocation]:
    """The caller's notices for ``hashes`` (any of a notice's hashes finds it); any hash
    the buyer never received, or holds without a notice, refuses the whole request
    (audited under ``tag``). With ``every_copy`` (attesting deletion), so does naming
    only some of a notice's hashes: the copies left out would be attested unseen."""
    if not isinstance(hashes, list) or not hashes or not all(isinstance(h, str) for h in hashes):
        raise InvalidInput(Problem("content_sha256", "revocation.hashes"))
    held = held_hashes(uow, id_of(org))
    standing = uow.all(Revocation, org_id=org.id, superseded_at=None)
    notices = {h: n for n in standing for h in notice_hashes(n, held)}
    # A notice sent while a build was in progress that then left the item out names a
    # hash the buyer never got: it may still attest it (there is nothing to name).
    received = {r.content_sha256 for r in uow.all(SnapshotItem, org_id=org.id)} | set(notices)
    never = sorted(h for h in set(hashes) if h not in received)
    unnoticed = sorted(h for h in set(hashes) if h in received and h not in notices)
    # Each problem's field is the hash it is about.
    problems = [Problem(h, "revocation.never_received") for h in never]
    problems += [Problem(h, "revocation.no_notice") for h in unnoticed]
    left_out: list[str] = []
    if every_copy:
        named = {notices[h].id: notices[h] for h in hashes if h in notices}
        left_out = sorted(
            h for n in named.values() for h in notice_hashes(n, held) if h not in hashes
        )
        problems += [Problem(h, "revocation.copy_left_out") for h in left_out]
    if problems:
        raise refuse(
            uow,
            actor,
            tag,
            "org",
            org.id,
            InvalidInput(problems),
            never_received=never,
            not_revoked=unnoticed,
            left_out=left_out,
        )
    return list({notices[h].id: notices[h] for h in hashes}.values())


def acknowledge(
    uow: UnitOfWork, actor: Actor, hashes: list[str], now: datetime | None = None
) -> list[Revocation]:
    org = approved_org(uow, actor, Permission.DELETION_ATTEST, allow_suspended=True)
    moment = as_utc(now or utcnow())
    notices = _notices_for(uow, actor, org, hashes, AuditTag.DELETION_REFUSE)
    for n in notices:
        if n.acknowledged_at is None:
            n.acknowledged_at = moment
            uow.record(
                AuditTag.REVOCATION_ACKNOWLEDGE,
                actor_label(actor),
                "item",
                n.item_id,
                org_id=org.id,
                notice_id=n.id,
            )
    uow.commit()
    return notices


# What a buyer did with models trained on a withdrawn item, and which of those each
# licence's end-of-licence term (``Licence.on_end``) allows.
MODEL_ACTIONS = ("none_trained", "retrained_without", "deleted", "kept_no_new_training")
ALLOWED_MODEL_ACTIONS = {
    "retrain_without": frozenset({"none_trained", "retrained_without", "deleted"}),
    "keep_no_new_training": frozenset(MODEL_ACTIONS),
    "delete_model": frozenset({"none_trained", "deleted"}),
}
STATEMENT_TYPE = "datatrust-deletion-statement"
MAX_COPIES = 50


@dataclass(frozen=True)
class HeldCopy:
    """A snapshot the buyer downloaded that holds one of a notice's items."""

    snapshot_id: int
    version: str
    item_id: int


def held_copies(uow: UnitOfWork, org_id: int, item_ids: set[int]) -> list[HeldCopy]:
    """Every ready snapshot of ``org_id`` holding one of ``item_ids`` that the buyer
    downloaded (any of its files: ``snapshot:download`` in the audit log), by id."""
    rows = [r for r in uow.all(SnapshotItem, org_id=org_id) if r.item_id in item_ids]
    snaps = {id_of(s): s for s in uow.all(Snapshot, id__in={r.snapshot_id for r in rows})}
    downloaded = {
        int(e.subject_id)
        for e in uow.audit.about("snapshot", [str(i) for i in sorted(snaps)])
        if e.tag == AuditTag.SNAPSHOT_DOWNLOAD.value
    }
    found = {
        (r.snapshot_id, r.item_id): HeldCopy(r.snapshot_id, snaps[r.snapshot_id].version, r.item_id)
        for r in rows
        if r.snapshot_id in downloaded and snaps[r.snapshot_id].ready
    }
    return [found[k] for k in sorted(found)]


def _allowed_models(
    uow: UnitOfWork, org_id: int, item_ids: set[int]
) -> tuple[list[str], frozenset[str]]:
    """The end-of-licence terms of ``org_id``'s agreements for ``item_ids``, and the model
    answers every one of them allows."""
    terms = _model_terms(uow, org_id, item_ids)
    return terms, frozenset.intersection(
        *(ALLOWED_MODEL_ACTIONS.get(t, frozenset()) for t in terms)
    )


def _refuse_statement(
    uow: UnitOfWork, actor: Actor, org: Organisation, problems: list[Problem], **data: Any
) -> InvalidInput:
    error = InvalidInput(problems)
    refuse(uow, actor, AuditTag.DELETION_REFUSE, "org", org.id, error, **data)
    return error


def _model_terms(uow: UnitOfWork, org_id: int, item_ids: set[int]) -> list[str]:
    """The end-of-licence terms (``on_end``) of every agreement under which ``org_id``
    received ``item_ids``."""
    agreements = {
        r.agreement_id for r in uow.all(SnapshotItem, org_id=org_id) if r.item_id in item_ids
    }
    terms = set()
    for agreement_id in agreements:
        agreement = uow.get(AgreementRow, agreement_id)
        if agreement is not None:
            terms.add(str(agreement.licence.get("on_end", "retrain_without")))
    return sorted(terms) or ["retrain_without"]


def deletion_choices(uow: UnitOfWork, actor: Actor) -> dict[str, dict[str, Any]]:
    """For each of the caller's notices (keyed by its ``content_sha256``): the copies it
    must name when attesting (``held``: snapshots it downloaded holding the item) and the
    model answers its licences allow (``models``, in ``MODEL_ACTIONS`` order)."""
    org = approved_org(uow, actor, Permission.DELETION_ATTEST, allow_suspended=True)
    out = {}
    for n in uow.all(Revocation, org_id=org.id, superseded_at=None, order_by="seq"):
        terms = _model_terms(uow, id_of(org), {n.item_id})
        allowed = frozenset.intersection(
            *(ALLOWED_MODEL_ACTIONS.get(t, frozenset()) for t in terms)
        )
        out[n.content_sha256] = {
            "held": held_copies(uow, id_of(org), {n.item_id}),
            "models": [a for a in MODEL_ACTIONS if a in allowed],
        }
    return out


@dataclass
class Attestation:
    """What ``attest_deletion`` recorded: the notices, and the statement as the platform
    signed it (a compact JWS, checked with the keys at ``/.well-known/jwks.json``)."""

    notices: list[Revocation]
    signed_statement: str
    claims: dict[str, Any]


def attest_deletion(
    uow: UnitOfWork,
    actor: Actor,
    hashes: list[str],
    statement: str,
    now: datetime | None = None,
    *,
    signer: Signer,
    base_url: str,
    snapshots: list[int] | None = None,
    copies: list[str] | None = None,
    models: str | None = None,
) -> Attestation:
    """The buyer attests it deleted these items: which snapshots (``snapshots``: ids),
    which other copies and where (``copies``: free text, one per copy), what it did with
    models trained on them (``models``, one of ``MODEL_ACTIONS``, allowed by the
    end-of-licence term of every agreement it received them under) and a ``statement``.

    Refused and audited, naming each problem: a hash the buyer never received or has no
    notice for; a notice named by only some of the hashes it lists (``content_hashes`` in
    the feed); a snapshot it downloaded that holds one of the items, left out (the copy
    would stay undeleted); a snapshot that is not its own; a model answer the licence does
    not allow. An attestation after the deadline is kept (marked late) and suspends the
    buyer. The statement is returned signed by the platform and kept in the audit log.
    """
    org = approved_org(uow, actor, Permission.DELETION_ATTEST, allow_suspended=True)
    moment = as_utc(now or utcnow())
    problems: list[Problem] = []
    if not isinstance(statement, str) or not statement.strip():
        problems.append(Problem("statement", "required"))
    if models not in MODEL_ACTIONS:
        problems.append(Problem("models", "deletion.models", {"choices": list(MODEL_ACTIONS)}))
    copies = [c.strip()[:300] for c in (copies or []) if isinstance(c, str) and c.strip()]
    if len(copies) > MAX_COPIES:
        problems.append(Problem("copies", "at_most", {"maximum": MAX_COPIES}))
    if problems:
        raise _refuse_statement(uow, actor, org, problems)
    notices = _notices_for(uow, actor, org, hashes, AuditTag.DELETION_REFUSE, every_copy=True)
    item_ids = {n.item_id for n in notices}
    named = sorted({int(s) for s in snapshots or []})
    held = held_copies(uow, id_of(org), item_ids)
    own = {s.id: s for s in uow.all(Snapshot, org_id=org.id)}
    problems = [
        Problem("snapshots", "deletion.not_your_snapshot", {"snapshot": s})
        for s in named
        if s not in own
    ]
    problems += [
        Problem(
            "snapshots",
            "deletion.snapshot_left_out",
            {"snapshot": c.snapshot_id, "version": c.version, "item": c.item_id},
        )
        for c in held
        if c.snapshot_id not in named
    ]
    terms, allowed = _allowed_models(uow, id_of(org), item_ids)
    if models not in allowed:
        allowed_now = [a for a in MODEL_ACTIONS if a in allowed]
        params = {"given": models, "terms": list(terms), "allowed": allowed_now}
        problems.append(Problem("models", "deletion.models_not_allowed", params))
    if problems:
        raise _refuse_statement(
            uow,
            actor,
            org,
            problems,
            left_out_snapshots=[c.snapshot_id for c in held if c.snapshot_id not in named],
            models=models,
        )
    hashes_held = held_hashes(uow, id_of(org))
    claims = {
        "type": STATEMENT_TYPE,
        "iss": base_url,
        "sub": f"org:{org.id}",
        "org_name": org.legal_name,
        "iat": int(moment.timestamp()),
        "notices": [
            {"seq": n.seq, "content_hashes": notice_hashes(n, hashes_held)} for n in notices
        ],
        "snapshots": named,
        "copies": copies,
        "models": models,
        "licence_on_end": terms,
        "statement": statement.strip()[:2000],
        "attested_by": actor_label(actor),
    }
    signed = signer.sign(claims)
    late = []
    for n in notices:
        if n.attested_at is not None:
            continue
        n.attested_at = moment
        n.acknowledged_at = n.acknowledged_at or moment
        n.late = moment > as_utc(n.deadline)
        if n.late:
            late.append(n)
        uow.record(
            AuditTag.DELETION_ATTEST,
            actor_label(actor),
            "item",
            n.item_id,
            org_id=org.id,
            org_name=org.legal_name,
            notice_id=n.id,
            late=n.late,
            snapshots=named,
            models=models,
            statement=statement.strip()[:2000],
            signed_statement=signed,
        )
        owner = uow.get(Item, n.item_id)
        if owner is not None:
            notify(
                uow,
                owner.owner_id,
                NoticeKind.DELETION_ATTESTED,
                item_id=n.item_id,
                org=org.legal_name,
                at=moment.isoformat(),
            )
    if late:
        _suspend(uow, org, late, moment)
    uow.commit()
    return Attestation(notices, signed, claims)


def _suspend(uow: UnitOfWork, org: Organisation, overdue: list[Revocation], at: datetime) -> None:
    """Suspend ``org`` for overdue deletions and notify the operator (both audited)."""
    for n in overdue:
        if n.overdue_at is None:
            n.overdue_at = at
            uow.record(
                AuditTag.REVOCATION_OVERDUE,
                "system",
                "item",
                n.item_id,
                org_id=org.id,
                notice_id=n.id,
                deadline=as_utc(n.deadline).isoformat(),
            )
    if org.status is OrgStatus.SUSPENDED:
        return
    org.status = OrgStatus.SUSPENDED
    org.status_reason = (
        f"deletion of {len(overdue)} withdrawn or expired item(s) was not attested by its "
        "deadline; attest deletion and ask the operator to lift the suspension"
    )
    uow.record(AuditTag.ORG_SUSPEND, "system", "org", org.id, reason=org.status_reason)
    uow.record(
        AuditTag.OPERATOR_NOTIFY,
        "system",
        "org",
        org.id,
        about="deletion_overdue",
        notices=[n.id for n in overdue],
    )


def check_deadlines(uow: UnitOfWork, now: datetime | None = None) -> dict[str, int]:
    """Notice expired holdings, then suspend every buyer with an overdue notice.

    Expired: a delivered item whose agreed licence ended, or whose consent expired or was
    withdrawn without a notice yet (a missed hook is caught here, also for a buyer that
    received it under a consent record withdrawn before consent was given again). Only
    the buyers concerned are told: one buyer's licence ending tells no other holder.
    Safe to run any time, any number of times. Does not commit.
    """
    moment = as_utc(now or utcnow())
    noticed = 0
    lapsed: dict[int, set[int]] = {}
    for item_id, org_id in uow.holdings.lapsed(moment):
        lapsed.setdefault(item_id, set()).add(org_id)
    for item_id, orgs in lapsed.items():
        item = uow.get(Item, item_id)
        assert item is not None  # a held row names a stored item
        consent = uow.get(ConsentRecord, item.consent_id) if item.consent_id else None
        current = consent.record_id if consent is not None else None
        told: dict[str, list[SnapshotItem]] = {}
        for held in holdings(uow, item_id):
            if held.org_id in orgs:
                earlier = current is not None and held.consent_record_id != current
                withdrawn = item.status is ItemStatus.WITHDRAWN or earlier
                told.setdefault("withdrawn" if withdrawn else "expired", []).append(held)
        for reason, deliveries in sorted(told.items(), reverse=True):  # withdrawn first
            made = notify_holders_of(uow, item, reason, moment, deliveries=deliveries)
            noticed += len(made)
    suspended = 0
    overdue: dict[int, list[Revocation]] = {}
    for n in uow.all(Revocation, attested_at=None):
        if n.past_deadline(moment):
            overdue.setdefault(n.org_id, []).append(n)
    for org_id, notices in sorted(overdue.items()):
        org = uow.get(Organisation, org_id)
        if org is None:
            continue
        was = org.status
        _suspend(uow, org, notices, moment)
        suspended += int(was is not OrgStatus.SUSPENDED)
    return {"noticed": noticed, "suspended": suspended}


@job(CHECK_DEADLINES_JOB)
def check_deadlines_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Scheduled at each notice's deadline (and runnable any time): ``check_deadlines``."""
    check_deadlines(uow)
