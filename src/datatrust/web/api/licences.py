"""Licence offers, consent (give, withdraw, receipts) and a person's rights (export, erase).

Thin routes: parse, call one service with the explicit ``Actor``, return a public schema.
Object-level authorisation happens in the services.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from fastapi import Depends, Query, Response
from pydantic import BaseModel, Field

from datatrust.bootstrap import Services
from datatrust.domain.consent import LicenceOffer, Receipt
from datatrust.domain.orders import ReplicaApproval
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import licensing, market
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import Out, Strict
from datatrust.web.deps import RowId, api_router, requires, services, unit_of_work

router = api_router(prefix="/api", tags=["licences and consent"])
# Licence IRIs live at the instance's root (``domain.iris.InstanceIris.licence``), not under /api.
public_router = api_router(tags=["licences and consent"])


# --- schemas ---------------------------------------------------------------------------


class OfferIn(Strict):
    """Either ``template`` (with ``changes``) or a full ``licence``."""

    template: str | None = Field(default=None, max_length=64)
    changes: dict[str, Any] | None = None
    licence: dict[str, Any] | None = None
    make_default: bool = False


class RevisionIn(Strict):
    changes: dict[str, Any]


class AttachIn(Strict):
    item_ids: list[RowId] = Field(max_length=1000)


class OfferOut(BaseModel):
    id: int
    version: int
    supersedes_id: RowId | None
    status: str
    is_default: bool
    created_at: datetime
    licence: dict[str, Any]


class AttachedOut(BaseModel):
    offer_id: RowId
    item_ids: list[RowId]


class FlaggedSentence(BaseModel):
    text: str
    risk: str | None


class ExplainOut(BaseModel):
    offer_id: RowId
    lang: str
    sentences: list[str]
    # The risk flags in summary order, and each sentence with its flag.
    risks: list[str]
    flagged: list[FlaggedSentence]


class ConsentIn(Strict):
    offer_id: RowId | None = None
    language: str | None = Field(default=None, max_length=16)


class ConsentEventOut(BaseModel):
    type: str
    at: datetime
    actor: str
    resulting_state: str


class ReceiptOut(BaseModel):
    id: int
    event_seq: int
    event_type: str
    kid: str
    created_at: datetime


class ConsentOut(BaseModel):
    id: int
    record_id: str
    item_id: RowId
    offer_id: RowId
    state: str
    fields: dict[str, Any]
    events: list[ConsentEventOut]
    receipts: list[ReceiptOut]


class ConsentChangeOut(BaseModel):
    consent: ConsentOut
    receipt: ReceiptOut


class EraseIn(Strict):
    confirm: str = Field(max_length=32, description="Type 'erase me'.")


class ErasedOut(BaseModel):
    id: int
    erased_at: datetime


def offer_out(offer: LicenceOffer) -> OfferOut:
    return OfferOut(
        id=offer.id,
        version=offer.version,
        supersedes_id=offer.supersedes_id,
        status=offer.status.value,
        is_default=offer.is_default,
        created_at=offer.created_at,
        licence=offer.licence,
    )


def receipt_out(receipt: Receipt) -> ReceiptOut:
    return ReceiptOut(
        id=receipt.id,
        event_seq=receipt.event_seq,
        event_type=receipt.event_type.value,
        kid=receipt.kid,
        created_at=receipt.created_at,
    )


def consent_out(view: licensing.ConsentView) -> ConsentOut:
    return ConsentOut(
        id=view.record.id,
        record_id=view.record.record_id,
        item_id=view.record.item_id,
        offer_id=view.record.offer_id,
        state=view.record.state.value,
        fields=view.record.terms.to_dict(),
        events=[
            ConsentEventOut(
                type=e.type.value, at=e.at, actor=e.actor, resulting_state=e.resulting_state.value
            )
            for e in view.record.events
        ],
        receipts=[receipt_out(r) for r in view.receipts],
    )


def change_out(change: licensing.ConsentChange) -> ConsentChangeOut:
    return ConsentChangeOut(consent=consent_out(change.view), receipt=receipt_out(change.receipt))


# --- licence offers --------------------------------------------------------------------


class LicenceTemplateOut(Out):
    """A template's default terms; a term it does not set is left out."""

    name: str
    title: str
    term_years: int
    permitted_purposes: list[str]
    permitted_actions: list[str]
    prohibited_uses: list[str]
    prohibited_industries: list[str]
    royalty_share_percent: int
    on_end: str
    prohibited_purposes: list[str] | None = None
    replica_media: list[str] | None = None


@router.get("/licence-templates", response_model_exclude_unset=True)
def templates(_actor: Actor = requires(Permission.PUBLIC_READ)) -> list[LicenceTemplateOut]:
    """The templates a contributor starts from (public)."""
    return [LicenceTemplateOut.model_validate(t) for t in licensing.licence_templates()]


@router.post("/licences", status_code=201)
def create_offer(
    body: OfferIn,
    actor: Actor = requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> OfferOut:
    offer = licensing.create_offer(
        unit,
        actor,
        template=body.template,
        changes=body.changes,
        licence=body.licence,
        make_default=body.make_default,
    )
    return offer_out(offer)


@router.get("/licences")
def my_offers(
    include_replaced: bool = False,
    actor: Actor = requires(Permission.LICENCE_READ),
    unit: UnitOfWork = unit_of_work(),
) -> list[OfferOut]:
    offers = licensing.list_my_offers(unit, actor, include_replaced=include_replaced)
    return [offer_out(o) for o in offers]


@router.get("/licences/{offer_id}")
def get_offer(
    offer_id: RowId,
    actor: Actor = requires(Permission.LICENCE_READ),
    unit: UnitOfWork = unit_of_work(),
) -> OfferOut:
    return offer_out(licensing.get_offer(unit, actor, offer_id))


@router.post("/licences/{offer_id}/versions", status_code=201)
def revise_offer(
    offer_id: RowId,
    body: RevisionIn,
    actor: Actor = requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> OfferOut:
    """A new version that supersedes this one; the offer itself is never edited."""
    return offer_out(licensing.revise_offer(unit, actor, offer_id, body.changes))


@router.post("/licences/{offer_id}/attach")
def attach_offer(
    offer_id: RowId,
    body: AttachIn,
    actor: Actor = requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> AttachedOut:
    attached = licensing.attach_offer(unit, actor, offer_id, body.item_ids)
    return AttachedOut(offer_id=offer_id, item_ids=[i.id for i in attached])


@router.post("/licences/{offer_id}/default")
def set_default(
    offer_id: RowId,
    actor: Actor = requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> OfferOut:
    return offer_out(licensing.set_default_offer(unit, actor, offer_id))


@router.get("/licences/{offer_id}/odrl")
def offer_odrl(
    offer_id: RowId,
    actor: Actor = requires(Permission.LICENCE_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """The offer as ODRL 2.2 JSON-LD (``application/ld+json``)."""
    document = licensing.offer_odrl(unit, actor, offer_id, svc.publication)
    return Response(json.dumps(document, indent=2), media_type="application/ld+json")


@public_router.get("/licences/{licence_id}/v{version}")
def licence_by_iri(
    licence_id: str,
    version: RowId,  # a huge number was a 500 on SQLite
    actor: Actor = requires(Permission.PUBLIC_READ),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> Response:
    """What a licence IRI resolves to (the ``uid`` of its ODRL offer and each snapshot's
    Croissant ``license``): that version's terms as ODRL 2.2 JSON-LD, public."""
    document = licensing.licence_document(unit, svc.publication, licence_id, version)
    return Response(json.dumps(document, indent=2), media_type="application/ld+json")


@router.get("/licences/{offer_id}/explain")
def explain_offer(
    offer_id: RowId,
    lang: Literal["en", "hi", "zu"] = Query("en"),
    actor: Actor = requires(Permission.LICENCE_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ExplainOut:
    """The offer in plain words, every sentence with its risk flag (null: none)."""
    flagged = licensing.explain_offer(
        unit, actor, offer_id, lang, fee_percent=svc.policy.platform_fee_percent
    )
    return ExplainOut(
        offer_id=offer_id,
        lang=lang,
        sentences=[s for s, _ in flagged],
        risks=[r for _, r in flagged if r],
        flagged=[FlaggedSentence(text=s, risk=r) for s, r in flagged],
    )


# --- "ask me each time": replica uses waiting for the contributor ---------------------


class ReplicaApprovalOut(BaseModel):
    id: int
    item_id: RowId
    organisation: str
    state: str
    use: dict[str, Any]
    requested_at: datetime
    decided_at: datetime | None


def approval_out(row: ReplicaApproval) -> ReplicaApprovalOut:
    assert row.id is not None
    return ReplicaApprovalOut(
        id=row.id,
        item_id=row.item_id,
        organisation=row.org_name,
        state=row.state,
        use=row.use,
        requested_at=row.requested_at,
        decided_at=row.decided_at,
    )


@router.get("/replica-approvals")
def my_replica_approvals(
    state: Literal["pending", "approved", "refused"] | None = Query("pending"),
    actor: Actor = requires(Permission.LICENCE_READ),
    unit: UnitOfWork = unit_of_work(),
) -> list[ReplicaApprovalOut]:
    """Replica uses buyers asked the caller to approve (default: those still waiting)."""
    return [approval_out(r) for r in licensing.my_requests(unit, actor, state=state)]


@router.post("/replica-approvals/{approval_id}/approve")
def approve_replica_use(
    approval_id: RowId,
    actor: Actor = requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> ReplicaApprovalOut:
    return approval_out(licensing.decide(unit, actor, approval_id, "approve"))


@router.post("/replica-approvals/{approval_id}/refuse")
def refuse_replica_use(
    approval_id: RowId,
    actor: Actor = requires(Permission.LICENCE_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> ReplicaApprovalOut:
    return approval_out(licensing.decide(unit, actor, approval_id, "refuse"))


# --- consent ---------------------------------------------------------------------------


@router.post("/items/{item_id}/consent", status_code=201)
def give_consent(
    item_id: RowId,
    body: ConsentIn | None = None,
    actor: Actor = requires(Permission.CONSENT_GIVE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ConsentChangeOut:
    """Give consent for one's own item under its licence (or ``offer_id``): one call."""
    body = body or ConsentIn()
    change = licensing.give_consent_for_item(
        unit,
        svc.signer,
        actor,
        item_id,
        offer_id=body.offer_id,
        language=body.language,
        publication=svc.publication,
    )
    return change_out(change)


@router.post("/items/{item_id}/consent/again", status_code=201)
def give_consent_again(
    item_id: RowId,
    body: ConsentIn | None = None,
    actor: Actor = requires(Permission.CONSENT_GIVE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ConsentChangeOut:
    """Give consent again for one's own withdrawn item: a new consent record under its
    licence (or ``offer_id``), with the same checks as a first consent. Buyers already
    told to delete it must still delete it. An item withdrawn before its checks finished
    is checked again, as a fresh upload; an item deleted or rejected, or one to check
    again whose original is gone, is refused (409, with its code)."""
    body = body or ConsentIn()
    change = licensing.give_consent_again(
        unit,
        svc.signer,
        actor,
        item_id,
        offer_id=body.offer_id,
        language=body.language,
        publication=svc.publication,
        storage=svc.storage,
        keep_in_notice=market.keep_buyers_in_notice,
    )
    return change_out(change)


def _withdraw(actor: Actor, svc: Services, unit: UnitOfWork, item_id: RowId) -> ConsentChangeOut:
    return change_out(
        licensing.withdraw_consent(unit, svc.signer, actor, item_id, publication=svc.publication)
    )


@router.delete("/items/{item_id}/consent")
def withdraw_consent(
    item_id: RowId,
    actor: Actor = requires(Permission.CONSENT_WITHDRAW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ConsentChangeOut:
    """Withdraw consent for one's own item: one call, nothing to fill in."""
    return _withdraw(actor, svc, unit, item_id)


@router.post("/items/{item_id}/consent/withdraw")
def withdraw_consent_by_post(
    item_id: RowId,
    actor: Actor = requires(Permission.CONSENT_WITHDRAW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ConsentChangeOut:
    """The same as ``DELETE /api/items/{item_id}/consent``, for HTML forms."""
    return _withdraw(actor, svc, unit, item_id)


@router.get("/consent")
def my_consents(
    actor: Actor = requires(Permission.CONSENT_READ), unit: UnitOfWork = unit_of_work()
) -> list[ConsentOut]:
    return [consent_out(v) for v in licensing.list_my_consents(unit, actor)]


@router.get("/consent/{consent_id}")
def get_consent(
    consent_id: RowId,
    actor: Actor = requires(Permission.CONSENT_READ),
    unit: UnitOfWork = unit_of_work(),
) -> ConsentOut:
    return consent_out(licensing.get_consent(unit, actor, consent_id))


@router.get("/receipts/{receipt_id}")
def download_receipt(
    receipt_id: RowId,
    actor: Actor = requires(Permission.CONSENT_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """The signed receipt with the platform's public key, as a file to keep; verify it
    offline with ``datatrust consent verify-receipt FILE``."""
    document = licensing.receipt_document(unit, svc.signer, actor, receipt_id)
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="consent-receipt-{receipt_id}.json"'
        },
    )


# --- a person's rights -----------------------------------------------------------------


@router.get("/me/export")
def export_my_data(
    actor: Actor = requires(Permission.PERSONAL_DATA_EXPORT),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """Everything about me as a zip of JSON files."""
    data = market.export_my_data(unit, svc.storage, actor, signer=svc.signer)
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": 'attachment; filename="my-datatrust-data.zip"'},
    )


@router.post("/me/erase")
def erase_me(
    body: EraseIn,
    actor: Actor = requires(Permission.PERSONAL_DATA_ERASE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ErasedOut:
    """Withdraw everything, destroy my key, pseudonymise my account. Cannot be undone."""
    user = market.erase_me(
        unit,
        svc.storage,
        actor,
        signer=svc.signer,
        confirm=body.confirm,
        shredder=svc.shredder,
        staging=svc.staging,
        publication=svc.publication,
    )
    return ErasedOut(id=user.id, erased_at=user.erased_at)
