"""Consent: give it for an item under a licence, withdraw it in as few steps, keep receipts.

Giving and withdrawing are one call each and need nothing but the item (design §5:
withdrawing takes no more steps than giving). Each change appends an event to the
consent record (ISO/IEC TS 27560 fields, ``domain.consent``), issues a receipt signed by
the platform (a compact JWS the contributor can verify offline with
``datatrust consent verify-receipt``) and writes its audit event, all in one transaction.

Withdrawal takes effect in that same transaction: the item's status becomes
``withdrawn`` (so ``selectable_items`` can no longer return it) and the outbox job
``consent.notify_holders`` is queued to reach every buyer that holds the item.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from datatrust.domain.accounts import Organisation as OrgRecord
from datatrust.domain.accounts import User
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.consent import (
    ConsentRecord,
    ConsentState,
    DataCategory,
    LicenceOffer,
    OfferStatus,
    Party,
    Receipt,
    ReceiptContext,
    give_consent,
    receipt_claims,
)
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, Problem
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.licence import Licence
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.accounts import actor_label
from datatrust.services.contributions import enqueue_processing
from datatrust.services.jobs import JobContext, job
from datatrust.services.licensing.licences import default_offer
from datatrust.services.licensing.standards import Publication
from datatrust.services.ports import Signer, UnitOfWork
from datatrust.services.storage import EncryptedStorage

# Where every instance publishes its signing keys (RFC 8615 well-known URI).
JWKS_PATH = "/.well-known/jwks.json"

NOTIFY_HOLDERS_JOB = "consent.notify_holders"
RECIPIENTS_CHANGED_JOB = "consent.recipients_changed"
DEFAULT_CONTROLLER = "the operator of this Datatrust instance"
WITHDRAWAL_METHOD = (
    "in as few steps as giving it: 'Withdraw consent' on the item in the app and its "
    "confirmation, which states the effect; or one call, DELETE /api/items/{item_id}/consent"
)

# Who keeps an item when consent is given again (old record, new record, at) within a
# promised notice: the revocations service's ``keep_buyers_in_notice``; returns org ids.
NoticeKeeper = Callable[[UnitOfWork, Item, ConsentRecord, ConsentRecord, datetime], list[int]]

# What each kind of item holds about its contributor. Faces and voices are biometric
# data whether or not anyone computes a template from them.
DATA_CATEGORIES: dict[ItemKind, tuple[DataCategory, ...]] = {
    ItemKind.PHOTO: (DataCategory("facial_image", biometric=True),),
    ItemKind.VIDEO: (DataCategory("video", biometric=True), DataCategory("gait")),
    ItemKind.AMBIENT: (DataCategory("audio"), DataCategory("location")),
    ItemKind.VOICE: (DataCategory("voice", biometric=True),),
    ItemKind.CALL: (DataCategory("voice", biometric=True), DataCategory("communication")),
    ItemKind.CHAT: (DataCategory("communication"),),
}


class ConsentAsked(TypedDict, total=False):
    """How consent is given, first or again (``give_consent_for_item``,
    ``give_consent_again``), beyond the item; every key may be left out.

    ``offer_id``: the licence (else the item's own, else the contributor's default offer);
    ``language``: the notice's (else the person's); ``controller``: who the record names
    (``DEFAULT_CONTROLLER``); ``at``: the moment (now; tests move it); ``publication``: the
    instance's IRIs and identity, which make the receipt an ISO/IEC TS 27560 JSON-LD
    record (every entry point passes it)."""

    offer_id: int | None
    language: str | None
    controller: str
    at: datetime | None
    publication: Publication | None


@dataclass(frozen=True)
class ConsentView:
    """A consent record as its owner sees it: the record and its receipts."""

    record: ConsentRecord
    receipts: list[Receipt]


@dataclass(frozen=True)
class ConsentChange:
    """What giving or withdrawing returns: the record as it now stands and the receipt
    for this change."""

    view: ConsentView
    receipt: Receipt

    @property
    def record(self) -> ConsentRecord:
        return self.view.record


# --- storing a change --------------------------------------------------------------------


def _receipt_context(
    uow: UnitOfWork, publication: Publication | None, record: ConsentRecord
) -> ReceiptContext | None:
    """The IRIs a receipt names; None without a publication (the entry points pass one)."""
    if publication is None:
        return None
    iris = publication.iris
    recipients = []
    for org_id in record.terms.recipients:
        org = uow.get(OrgRecord, int(org_id)) if org_id.isdigit() else None
        recipients.append(Party(iris.organisation(org_id), org.legal_name if org else org_id))
    licence = None
    licence_id = record.terms.licence_id
    if licence_id and "/v" in licence_id:
        licence_key, version = licence_id.rsplit("/v", 1)
        licence = iris.licence(licence_key, int(version)) if version.isdigit() else None
    return ReceiptContext(
        issuer=iris.base,
        jwks_uri=iris.base + JWKS_PATH,
        controller=Party(iris.operator, publication.operator_name, publication.operator_email),
        policy_url=publication.policy_url,
        subject=publication.person(record.owner_id or 0),
        vocab=iris.vocab,
        licence=licence,
        recipients=tuple(recipients),
    )


def _sign_receipt(
    uow: UnitOfWork,
    signer: Signer,
    publication: Publication | None,
    record: ConsentRecord,
    item: Item,
) -> Receipt:
    """A signed receipt for the record's last event, as the record stands now."""
    event = record.events[-1]
    at = as_utc(event.at)
    claims = receipt_claims(record, event, _receipt_context(uow, publication, record))
    claims["item"] = {"id": item.id, "sha256": item.original_sha256, "kind": item.kind.value}
    claims["iat"] = int(at.timestamp())
    receipt = Receipt(
        consent_id=record.id or 0,
        owner_id=record.owner_id or 0,
        event_seq=event.seq,
        event_type=event.type,
        jws=signer.sign(claims),
        kid=signer.public_jwk().get("kid", ""),
        created_at=at,
    )
    uow.add(receipt)
    uow.flush()
    return receipt


def _stored(
    uow: UnitOfWork,
    signer: Signer,
    record: ConsentRecord,
    item: Item,
    publication: Publication | None = None,
) -> Receipt:
    """Store the event ``record`` just appended (with the record) and a signed receipt
    for it; the item mirrors the record's state."""
    uow.flush()  # the new event gets its row (the record's events are stored with it)
    # The item mirrors its consent record in this same transaction: selections read the
    # mirror (one covering index) and must never see a state the record does not have.
    item.consent_offer_id = record.offer_id
    item.consent_state = record.state
    return _sign_receipt(uow, signer, publication, record, item)


# --- giving and withdrawing ----------------------------------------------------------------


def _retention(terms: Licence) -> str:
    """How long the data is kept, in the words of the consent record: until withdrawn or
    the licence's end, or the replica grant's end where that is later."""
    ends = f"until withdrawn or until {terms.valid_until.date().isoformat()}"
    if terms.ends_at > terms.valid_until:
        ends += (
            f" (for the digital replica the licence grants, until "
            f"{terms.ends_at.date().isoformat()})"
        )
    return f"{ends}; buyers delete within {terms.deletion_deadline_days} days of either"


def give_consent_for_item(
    uow: UnitOfWork,
    signer: Signer,
    actor: Actor,
    item_id: int,
    **asked: Unpack[ConsentAsked],
) -> ConsentChange:
    """Consent to the use of one's own item under a licence: one call (``asked``: how,
    the same for a first consent and consent given again).

    The licence is ``offer_id`` if given (and then attached to the item), else the one
    attached to the item, else the contributor's default offer; with none of them it is
    ``InvalidInput``. Consent that is already active is a ``Conflict``; so is consent for
    a rejected item, and for a withdrawn one: that is ``give_consent_again``, a new
    consent record that never undoes a buyer's deletion duty.
    """
    item = _item_to_consent(uow, actor, item_id)
    if item.status is ItemStatus.WITHDRAWN:
        raise Conflict(Problem(None, "consent.withdrawn_give_again", {"item": item.id}))
    if item.status is ItemStatus.REJECTED:
        raise Conflict(
            Problem(None, "consent.item_state", {"item": item.id, "state": item.status.value})
        )
    if item.consent_id is not None:
        current = uow.get(ConsentRecord, item.consent_id)
        if current is not None and current.state is not ConsentState.WITHDRAWN:
            raise Conflict(
                Problem(None, "consent.already", {"item": item.id, "state": current.state.value}),
                {"consent_id": current.id},
            )
    record, receipt = _new_consent(uow, signer, actor, item, asked)
    uow.record(
        AuditTag.CONSENT_GIVE,
        actor_label(actor),
        "item",
        item.id,
        consent_id=record.id,
        offer_id=record.offer_id,
        licence=record.terms.licence_id,
        receipt_id=receipt.id,
    )
    uow.commit()
    return ConsentChange(_view(uow, record), receipt)


def give_consent_again(
    uow: UnitOfWork,
    signer: Signer,
    actor: Actor,
    item_id: int,
    *,
    storage: EncryptedStorage,
    keep_in_notice: NoticeKeeper,
    **asked: Unpack[ConsentAsked],
) -> ConsentChange:
    """Give consent again for one's own withdrawn item: a NEW consent record, with its
    own receipt, under the licence chosen as for a first consent (``offer_id``, else the
    item's own, else the default offer; the same checks).

    The withdrawn record, its receipts and its withdrawal stay as they are (history and
    passport); buyers told to delete the item keep that duty (their notices stand, and a
    snapshot built before stays revoked for them); an agreement made under the old
    consent is not in force again (orders and builds tie an agreement to its consent
    record), so the item is bought afresh under the new terms. The item returns to the
    status it had when consent was withdrawn and is selectable again only under the new
    consent's licence (the item's consent mirror is the new record's).

    An item withdrawn before its checks finished (or before migration 0031 without a
    de-identified version: ``Item.needs_checks``) has nowhere to return to: it goes back
    to ``received`` and its processing job is queued again (the uploads' job, sent after
    commit), so it ends accepted or rejected like a fresh upload; ``item:recheck`` says so
    in its passport. That needs its original in ``storage``: without it, ``Conflict``
    ``consent_again.original_gone``.

    It need not wait for the withdrawal's ``consent.notify_holders`` job: that job tells
    the buyers who held the item under the withdrawn record (``record_holders``), whatever
    the item's consent is by the time it runs.

    A buyer whose licence promised notice of a withdrawal and whose notice has not ended
    is the exception: the withdrawal has not taken effect for it, so consent given again
    under the same licence continues its agreement and supersedes its notice
    (``keep_in_notice``, the revocations service's ``keep_buyers_in_notice``, in this
    transaction; audited ``revocation:supersede``); the withdrawal's job then leaves that
    buyer out.

    ``Conflict`` for an item that cannot be offered again (``Item.reconsent_problem``:
    not withdrawn, deleted, rejected, withdrawn before its checks finished).
    """
    item = _item_to_consent(uow, actor, item_id)
    problem = item.reconsent_problem()
    if problem is not None:
        raise Conflict(problem)
    rechecked = item.needs_checks
    if rechecked and not storage.store.exists(item.original_key):
        raise Conflict(Problem(None, "consent_again.original_gone", {"item": item.id}))
    old = uow.get(ConsentRecord, item.consent_id) if item.consent_id else None
    if old is None or old.state is not ConsentState.WITHDRAWN:
        raise Conflict(Problem(None, "consent_again.not_withdrawn", {"item": item.id}))
    # After the withdrawal, whatever the clock says: the record's events must follow it.
    record, receipt = _new_consent(uow, signer, actor, item, asked, not_before=old.events[-1].at)
    item.restore()
    kept = keep_in_notice(uow, item, old, record, record.events[-1].at)
    uow.record(
        AuditTag.CONSENT_GIVE_AGAIN,
        actor_label(actor),
        "item",
        item.id,
        consent_id=record.id,
        previous_consent_id=old.id,
        offer_id=record.offer_id,
        licence=record.terms.licence_id,
        receipt_id=receipt.id,
        status=item.status.value,
        kept_by=kept,
    )
    if rechecked:
        enqueue_processing(uow, item, consent_id=record.id)
        uow.record(AuditTag.ITEM_RECHECK, actor_label(actor), "item", item.id, consent_id=record.id)
    uow.commit()
    return ConsentChange(_view(uow, record), receipt)


def _item_to_consent(uow: UnitOfWork, actor: Actor, item_id: int) -> Item:
    """The item consent is given for, its row locked; ``NotFound`` unless it is the
    actor's to consent for (the first check of giving consent, first or again)."""
    item = uow.get_for_update(Item, item_id)
    authorize(actor, Permission.CONSENT_GIVE, item or MISSING)
    assert item is not None
    return item


def _new_consent(
    uow: UnitOfWork,
    signer: Signer,
    actor: Actor,
    item: Item,
    asked: ConsentAsked,
    *,
    not_before: datetime | None = None,
) -> tuple[ConsentRecord, Receipt]:
    """A new consent record for ``item`` as ``asked``, under the licence chosen
    (``_offer_for``: its checks), at ``asked["at"]`` (else now) but never before
    ``not_before``; stored with its signed receipt. The item now stands under it (its
    licence, consent and mirror)."""
    offer = _offer_for(uow, actor, item, asked.get("offer_id"))
    moment = as_utc(asked.get("at") or utcnow())
    if not_before is not None:
        moment = max(moment, as_utc(not_before))
    language = asked.get("language")
    terms = offer.terms()
    user = uow.get(User, actor.user_id)
    assert user is not None
    record = give_consent(
        record_id=f"consent-{uuid.uuid4().hex}",
        subject_id=f"user:{user.id}",
        controller=asked.get("controller", DEFAULT_CONTROLLER),
        purposes=terms.permitted_purposes,
        data_categories=DATA_CATEGORIES[item.kind],
        notice_version=f"{terms.id}/v{terms.version}",
        notice_language=language or user.language or "en",
        jurisdiction=user.country or "unspecified",
        recipients=(),
        retention=_retention(terms),
        withdrawal_method=WITHDRAWAL_METHOD.format(item_id=item.id),
        at=moment,
        actor=actor_label(actor),
        # Consent lasts as long as any use the licence allows: a replica grant may run past
        # the licence's own end (to ``replica_until``), and its uses need consent until then.
        expires_at=terms.ends_at if terms.ends_at > moment else None,
        licence_id=f"{terms.id}/v{terms.version}",
        owner_id=item.owner_id,
        item_id=item.id,
        offer_id=offer.id,
    )
    uow.add(record)
    uow.flush()
    receipt = _stored(uow, signer, record, item, asked.get("publication"))
    item.licence_id = offer.id
    item.consent_id = record.id
    item.updated_at = moment
    return record, receipt


def _offer_for(uow: UnitOfWork, actor: Actor, item: Item, offer_id: int | None) -> LicenceOffer:
    if offer_id is not None:
        offer = uow.get(LicenceOffer, offer_id)
        authorize(actor, Permission.LICENCE_READ, offer or MISSING)
        assert offer is not None
    elif item.licence_id is not None:
        offer = uow.get(LicenceOffer, item.licence_id)
        assert offer is not None  # a foreign key guarantees it
    else:
        offer = default_offer(uow, item.owner_id)
        if offer is None:
            raise InvalidInput(Problem("offer_id", "consent.no_licence"))
    if offer.status is not OfferStatus.ACTIVE:
        raise Conflict(
            Problem(None, "licence.replaced", {"offer": offer.id}),
            {"offer_id": offer.id},
        )
    return offer


def withdraw_consent(
    uow: UnitOfWork,
    signer: Signer,
    actor: Actor,
    item_id: int,
    *,
    at: datetime | None = None,
    publication: Publication | None = None,
) -> ConsentChange:
    """Withdraw consent for one's own item: one call, nothing else to supply.

    In this one transaction the item becomes ``withdrawn`` (no selection can take it),
    the record gets its ``withdrawn`` event and signed receipt, ``consent:withdraw`` is
    audited and ``consent.notify_holders`` is queued. Nothing already earned is touched.
    An item without consent is ``NotFound``-free: it is a ``Conflict`` naming the state.
    """
    item = uow.get_for_update(Item, item_id)
    authorize(actor, Permission.CONSENT_WITHDRAW, item or MISSING)
    assert item is not None
    record = uow.get_for_update(ConsentRecord, item.consent_id) if item.consent_id else None
    if record is None:
        raise Conflict(Problem(None, "consent.nothing_to_withdraw", {"item": item.id}))
    moment = as_utc(at or utcnow())
    receipt = apply_withdrawal(uow, signer, actor_label(actor), item, record, moment, publication)
    uow.commit()
    return ConsentChange(_view(uow, record), receipt)


def apply_withdrawal(
    uow: UnitOfWork,
    signer: Signer,
    who: str,
    item: Item,
    record: ConsentRecord,
    at: datetime,
    publication: Publication | None = None,
) -> Receipt:
    """Everything a withdrawal does except committing (``erase_me`` shares it)."""
    # An event may not precede the last one; a clock a hair behind must not block this.
    at = max(at, as_utc(record.events[-1].at))
    record.withdraw(at, who)  # Conflict if already withdrawn
    receipt = _stored(uow, signer, record, item, publication)
    item.withdraw()  # out of every selection; where it stood is kept for consent again
    item.updated_at = at
    offer = uow.get(LicenceOffer, record.offer_id)
    deadline_days = offer.terms().deletion_deadline_days if offer else 30
    uow.record(
        AuditTag.CONSENT_WITHDRAW,
        who,
        "item",
        item.id,
        consent_id=record.id,
        receipt_id=receipt.id,
        deletion_deadline_days=deadline_days,
    )
    uow.enqueue(
        NOTIFY_HOLDERS_JOB,
        {
            "consent_id": record.id,
            "item_id": item.id,
            "content_sha256": item.deidentified_sha256 or item.original_sha256,
            "withdrawn_at": at.isoformat(),
            "deletion_deadline_days": deadline_days,
        },
        key=f"{NOTIFY_HOLDERS_JOB}:{record.id}",
    )
    return receipt


# --- reading -------------------------------------------------------------------------------


def list_my_consents(uow: UnitOfWork, actor: Actor) -> list[ConsentView]:
    authorize(actor, Permission.CONSENT_READ)
    records = uow.all(ConsentRecord, owner_id=actor.user_id, order_by="-id")
    return [_view(uow, record) for record in records]


def get_consent(uow: UnitOfWork, actor: Actor, consent_id: int) -> ConsentView:
    record = uow.get(ConsentRecord, consent_id)
    authorize(actor, Permission.CONSENT_READ, record or MISSING)
    assert record is not None
    return _view(uow, record)


def _view(uow: UnitOfWork, record: ConsentRecord) -> ConsentView:
    receipts = uow.all(Receipt, consent_id=record.id, order_by="event_seq")
    return ConsentView(record, receipts)


def receipt_document(
    uow: UnitOfWork, signer: Signer, actor: Actor, receipt_id: int
) -> dict[str, Any]:
    """The downloadable receipt: the JWS, the platform's public key to check it with,
    and the claims in clear for people (the JWS is what counts)."""
    receipt = uow.get(Receipt, receipt_id)
    authorize(actor, Permission.CONSENT_READ, receipt or MISSING)
    assert receipt is not None
    # The key that signed it: the one signing now or a retired one still published in the
    # key set (``/.well-known/jwks.json``), so a receipt outlives a key rotation.
    jwk = next((k for k in signer.jwks()["keys"] if k.get("kid") == receipt.kid), None)
    if jwk is None:
        # Signed by a key this instance no longer publishes: the receipt is still valid,
        # but the key to check it with must come from the operator's key history.
        raise NotFound(Problem(None, "receipt.key_unpublished", {"kid": receipt.kid}))
    return {
        "type": "datatrust-consent-receipt",
        "receipt": receipt.jws,
        "public_jwk": jwk,
        "claims": signer.verify(receipt.jws),
    }


# --- the outbox job ------------------------------------------------------------------------

# Who must be told of a withdrawal: identifiers of the buyers (for example "org:7") that
# hold the item under the withdrawn consent record or an earlier one. The revocations
# service passes its own (``revocations.notify_holders``, the job's handler).
HolderFinder = Callable[[UnitOfWork, Item, ConsentRecord], Iterable[str]]


def record_holders(
    uow: UnitOfWork, payload: dict[str, Any], job_id: int, find_holders: HolderFinder
) -> None:
    """The ``consent.notify_holders`` job's record: which buyers ``find_holders`` says
    held the item under the withdrawn record (the notices themselves are the revocations
    service's).

    Who is told follows from the withdrawal (the record in the payload), never from the
    item as it stands now: consent given again before this job runs makes a new record
    and changes the item's status, but the buyers of the old consent are still told, and
    buyers of the new one are not.

    Idempotent: a record already marked is left as it is (``find_holders`` is not asked),
    so a re-run after a crash or a duplicate delivery records nothing twice. Its effects
    commit with the job's ``done``.
    """
    record = uow.get_for_update(ConsentRecord, payload["consent_id"])
    if record is None or record.holders_notified_at is not None:
        return
    item = uow.get(Item, record.item_id)
    holders = sorted(set(find_holders(uow, item, record))) if item is not None else []
    record.holders_notified = holders
    record.holders_notified_at = utcnow()
    uow.record(
        AuditTag.REVOCATION_NOTIFY,
        "system",
        "item",
        record.item_id,
        consent_id=record.id,
        holders=holders,
        content_sha256=payload.get("content_sha256"),
        job_id=job_id,
    )


@job(RECIPIENTS_CHANGED_JOB)
def reissue_for_recipients(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """After a sale: each sold item's consent record names the buyer among its recipients,
    and its owner gets a new signed receipt saying so (the record's last event, as the
    record stands now). Idempotent: a record that already names the buyer is left alone.
    """
    org_id = str(payload["org_id"])
    for item_id in payload["item_ids"]:
        item = uow.get(Item, item_id)
        record = (
            uow.get_for_update(ConsentRecord, item.consent_id) if item and item.consent_id else None
        )
        if item is None or record is None or not record.add_recipient(org_id):
            continue
        receipt = _sign_receipt(uow, ctx.services.signer, ctx.services.publication, record, item)
        uow.record(
            AuditTag.CONSENT_RECEIPT,
            "system",
            "item",
            item.id,
            consent_id=record.id,
            receipt_id=receipt.id,
            recipients=list(record.terms.recipients),
            job_id=ctx.job_id,
        )
