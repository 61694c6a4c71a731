"""Buyers: catalogue, orders (declare a use → selection → quote → purchase), snapshots and
their signed downloads, the revocation feed, acknowledgements and deletion attestations;
and each item's data passport for its contributor. Routes are thin: parse, call one
service, render."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import Field

from datatrust.bootstrap import Services
from datatrust.domain import iris
from datatrust.domain.orders import AgreementRow, Order, OrderState
from datatrust.domain.permissions import Actor, Permission
from datatrust.domain.snapshots import Snapshot, SnapshotState
from datatrust.services import market, trust
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import Out, Strict
from datatrust.web.deps import RowId, api_router, requires, services, stream, unit_of_work

router = api_router(tags=["buyers"])


class ReplicaUseIn(Strict):
    """Where a replica will be used; every part must be inside the contributor's grant."""

    languages: list[str] = Field(default_factory=list, max_length=20)
    category: str | None = Field(default=None, max_length=64)
    channels: list[str] = Field(default_factory=list, max_length=20)


class DeclareUseIn(Strict):
    action: str = Field(max_length=64)
    purpose: str = Field(max_length=64)
    industry: str = Field(max_length=64)
    territory: str = Field(max_length=8)
    ends_at: str = Field(max_length=40)
    starts_at: str | None = Field(default=None, max_length=40)
    declared_uses: list[str] = Field(default_factory=list, max_length=20)
    # What the resulting model will do and output: required for training, fine-tuning,
    # evaluation and replicas (the service names the missing one).
    task: str | None = Field(default=None, max_length=64)
    outputs: list[str] = Field(default_factory=list, max_length=20)
    replica: ReplicaUseIn | None = None


class HashesIn(Strict):
    content_sha256: list[str] = Field(max_length=10_000)


class AttestIn(HashesIn):
    statement: str = Field(max_length=2000)
    # The snapshots deleted (every one downloaded that holds the items must be named),
    # other copies and where they were, and what was done with models trained on them.
    snapshots: list[int] = Field(default_factory=list, max_length=1000)
    copies: list[str] = Field(default_factory=list, max_length=market.MAX_COPIES)
    models: str | None = Field(default=None, max_length=40)


class WebhookIn(Strict):
    url: str = Field(max_length=market.MAX_URL_LENGTH)


class SnapshotIn(Strict):
    shard_items: int = Field(default=market.DEFAULT_SHARD_ITEMS, ge=1, le=10_000)


class SampleIn(Strict):
    order_id: RowId
    items: int = Field(default=3, ge=1, le=market.SAMPLE_MAX_ITEMS)


class OrderOut(Out):
    id: int
    state: OrderState = Field(description="quoted, or purchased once bought.")
    use: dict[str, Any] = Field(description="The declared use, as the licences check it.")
    selected: int = Field(description="How many items the selection holds.")
    held: int = Field(description="How many selected items wait on a replica approval.")
    excluded: int
    reasons: dict[str, int] = Field(description="Items left out, counted per reason code.")
    quote: dict[str, Any]
    created_at: datetime
    purchased_at: datetime | None


class AgreementOut(Out):
    id: int
    item_id: int
    content_sha256: str
    licence_id: str = Field(description="The licence agreed to, as ``<id>/v<version>``.")
    price_minor: int
    fee_minor: int
    contributor_share_minor: int
    currency: str
    agreed_at: datetime


class PurchasedOut(OrderOut):
    agreements: list[AgreementOut]


class SnapshotOut(Out):
    id: int
    order_id: int
    version: str
    state: SnapshotState = Field(description="building, or ready once its files are written.")
    items: int
    dropped: dict[str, list[str]]
    shards: int
    files: dict[str, Any]
    previous_id: int | None
    created_at: datetime
    finished_at: datetime | None


class SnapshotDownloadsOut(SnapshotOut):
    downloads: dict[str, Any] | None = Field(
        default=None, description="Signed links (valid one hour) once the snapshot is ready."
    )


class PriceRangeOut(Out):
    min: int
    max: int
    sum: int
    count: int


class CatalogueAggregatesOut(Out):
    total_duration_seconds: int
    price_minor: dict[str, PriceRangeOut] = Field(description="Per currency.")


class SampleLicenceOut(Out):
    title: str
    permitted_purposes: list[str]
    permitted_actions: list[str]
    valid_until: datetime


class CatalogueSampleOut(Out):
    kind: str
    duration_seconds: int | None
    region: str | None
    language: str | None
    quality: float | None
    price_minor: int
    currency: str
    price_unit: str
    licence: SampleLicenceOut


class CatalogueOut(Out):
    """What matches, counted and described; never item ids or anything raw."""

    count: int
    facets: dict[str, dict[str, int]]
    aggregates: CatalogueAggregatesOut
    sample: list[CatalogueSampleOut]


class SampleShownOut(Out):
    sample: int
    kind: str
    content_type: str
    data_base64: str


class EvaluationSampleOut(Out):
    order_id: int
    items: list[SampleShownOut]
    not_previewable: int
    limit: int
    used: int
    mark: str


class FeedOut(Out):
    feed: str = Field(description="The claims as a compact JWS (EdDSA).")
    jwks_url: str
    public_jwk: dict[str, str]
    claims: dict[str, Any] = Field(description="The signed claims, unverified, for display.")


class JwksOut(Out):
    keys: list[dict[str, str]]


class WebhookOut(Out):
    id: int
    url: str
    created_at: datetime
    failures_in_a_row: int
    operator_alerted: bool


class WebhookDeliveryOut(Out):
    seq: int
    attempt: int
    at: datetime
    ok: bool
    status: int | None
    error: str | None
    duration_ms: int | None


class WebhookStatusOut(Out):
    webhook: WebhookOut | None
    deliveries: list[WebhookDeliveryOut] = Field(description="Newest first.")


class DeletionChoiceOut(Out):
    snapshots: list[int] = Field(description="Downloaded snapshots holding the item.")
    models: list[str] = Field(description="The model answers its licences allow.")


class AcknowledgedOut(Out):
    acknowledged: list[str]


class AttestedNoticeOut(Out):
    content_sha256: str
    late: bool
    at: datetime


class AttestedOut(Out):
    attested: list[AttestedNoticeOut]
    signed_statement: str = Field(description="The statement as the platform signed it (JWS).")
    statement: dict[str, Any] = Field(description="Its claims, unverified, for display.")


class BuyerToldOut(Out):
    buyer: str
    told_at: datetime | None
    deadline: datetime | None
    acknowledged_at: datetime | None
    attested_at: datetime | None
    late: bool
    overdue: bool


class PassportEventOut(Out):
    seq: int
    at: datetime
    tag: str
    step: str
    actor: str
    actor_words: str
    details: dict[str, Any]
    hash: str


class PassportOut(Out):
    item_id: int
    status: str
    buyers: list[BuyerToldOut]
    events: list[PassportEventOut]


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id or 0,
        state=order.state,
        use=order.use,
        selected=len(order.item_ids),
        held=len(order.quote.get("held", [])),
        excluded=order.excluded,
        reasons=order.reasons,
        quote=order.quote,
        created_at=order.created_at,
        purchased_at=order.purchased_at,
    )


def agreement_out(a: AgreementRow) -> AgreementOut:
    return AgreementOut(
        id=a.id or 0,
        item_id=a.item_id,
        content_sha256=a.content_sha256,
        licence_id=f"{a.licence['id']}/v{a.licence['version']}",
        price_minor=a.price_minor,
        fee_minor=a.fee_minor,
        contributor_share_minor=a.contributor_share_minor,
        currency=a.currency,
        agreed_at=a.agreed_at,
    )


def snapshot_out(s: Snapshot) -> SnapshotOut:
    return SnapshotOut(
        id=s.id or 0,
        order_id=s.order_id,
        version=s.version,
        state=s.state,
        items=len(s.item_ids),
        dropped=s.dropped,
        shards=s.shard_count,
        files=s.files,
        previous_id=s.previous_id,
        created_at=s.created_at,
        finished_at=s.finished_at,
    )


@router.get("/api/buyers/catalogue")
def catalogue(
    kind: str | None = None,
    language: str | None = None,
    min_duration: int | None = Query(None, ge=0),
    max_duration: int | None = Query(None, ge=0),
    region: str | None = Query(None, max_length=20),
    min_quality: float | None = None,
    max_price_minor: int | None = Query(None, ge=0),
    currency: str | None = Query(None, max_length=3),
    action: str | None = None,
    purpose: str | None = None,
    industry: str | None = None,
    territory: str | None = None,
    actor: Actor = requires(Permission.CATALOGUE_READ),
    unit: UnitOfWork = unit_of_work(),
) -> CatalogueOut:
    filters = {k: v for k, v in locals().items() if k not in ("actor", "unit") and v is not None}
    return CatalogueOut.model_validate(market.catalogue(unit, actor, filters))


@router.post("/api/buyers/orders", status_code=201)
def declare_order(
    body: DeclareUseIn,
    actor: Actor = requires(Permission.ORDER_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> OrderOut:
    order = market.declare_order(
        unit,
        actor,
        body.model_dump(),
        policy=svc.policy,
    )
    return order_out(order)


@router.get("/api/buyers/orders")
def list_orders(
    actor: Actor = requires(Permission.ORDER_READ), unit: UnitOfWork = unit_of_work()
) -> list[OrderOut]:
    return [order_out(o) for o in market.list_orders(unit, actor)]


@router.get("/api/buyers/orders/{order_id}")
def get_order(
    order_id: RowId,
    actor: Actor = requires(Permission.ORDER_READ),
    unit: UnitOfWork = unit_of_work(),
) -> OrderOut:
    return order_out(market.get_order(unit, actor, order_id))


@router.post("/api/buyers/orders/{order_id}/purchase")
def purchase(
    order_id: RowId,
    actor: Actor = requires(Permission.ORDER_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> PurchasedOut:
    order, agreements = market.purchase_order(
        unit,
        actor,
        order_id,
        policy=svc.policy,
    )
    return PurchasedOut(
        **order_out(order).__dict__, agreements=[agreement_out(a) for a in agreements]
    )


@router.get("/api/buyers/orders/{order_id}/agreements")
def agreements(
    order_id: RowId,
    actor: Actor = requires(Permission.ORDER_READ),
    unit: UnitOfWork = unit_of_work(),
) -> list[AgreementOut]:
    return [agreement_out(a) for a in market.agreements_of(unit, actor, order_id)]


@router.get("/api/buyers/agreements/{agreement_id}/odrl")
def agreement_odrl(
    agreement_id: RowId,
    actor: Actor = requires(Permission.ORDER_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    document = market.agreement_odrl(unit, actor, agreement_id, svc.publication)
    return Response(json.dumps(document, indent=2), media_type="application/ld+json")


@router.get(iris.LICENCES_PATH + "/{licence_id}/v{version}/agreements/{agreement_id}")
def agreement_by_iri(
    licence_id: str,
    version: RowId,
    agreement_id: RowId,
    actor: Actor = requires(Permission.ORDER_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    """What an agreement's IRI (its ODRL ``uid``) resolves to: the agreement as ODRL 2.2
    JSON-LD, for the buyer that made it and the operator (it names the buyer and the item,
    so unlike a licence IRI it is not public)."""
    document = market.agreement_odrl(
        unit, actor, agreement_id, svc.publication, licence_version=(licence_id, version)
    )
    return Response(json.dumps(document, indent=2), media_type="application/ld+json")


@router.post("/api/buyers/samples", status_code=201)
def request_sample(
    body: SampleIn,
    actor: Actor = requires(Permission.SAMPLE_REQUEST),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> EvaluationSampleOut:
    """A small watermarked, de-identified sample of a declared order, before buying: within
    the organisation's limit (``evaluation_sample_limit``), each item seen recorded in its
    passport."""
    shown = market.request_sample(
        unit,
        svc.storage,
        actor,
        body.order_id,
        items=body.items,
        limit=svc.settings.evaluation_sample_limit,
    )
    return EvaluationSampleOut.model_validate(shown)


@router.post("/api/buyers/orders/{order_id}/snapshots", status_code=201)
def build_snapshot(
    order_id: RowId,
    body: SnapshotIn | None = None,
    actor: Actor = requires(Permission.SNAPSHOT_BUILD),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> SnapshotOut:
    shard_items = body.shard_items if body else market.DEFAULT_SHARD_ITEMS
    built = market.build_snapshot(
        unit,
        actor,
        order_id,
        cipher=svc.storage.cipher,
        shard_items=shard_items,
        policy=svc.policy,
    )
    return snapshot_out(built)


@router.get("/api/buyers/snapshots")
def list_snapshots(
    actor: Actor = requires(Permission.SNAPSHOT_DOWNLOAD), unit: UnitOfWork = unit_of_work()
) -> list[SnapshotOut]:
    return [snapshot_out(s) for s in market.list_snapshots(unit, actor)]


@router.get("/api/buyers/snapshots/{snapshot_id}", response_model_exclude_unset=True)
def get_snapshot(
    snapshot_id: RowId,
    actor: Actor = requires(Permission.SNAPSHOT_DOWNLOAD),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> SnapshotDownloadsOut:
    """The snapshot, and signed links (valid one hour) when it is ready."""
    snapshot = market.get_snapshot(unit, actor, snapshot_id)
    out = SnapshotDownloadsOut(**snapshot_out(snapshot).__dict__)
    if snapshot.ready:
        out.downloads = market.download_links(
            unit, actor, svc.settings.secret_key.get_secret_value(), snapshot_id
        )
    return out


@router.get("/api/snapshots/{snapshot_id}/files/{name}")
def download(
    snapshot_id: RowId,
    name: str,
    expires: str | None = Query(None, max_length=20),
    sig: str | None = Query(None, max_length=128),
    # The signed link is the credential (so tools without our tokens can fetch it); the
    # service checks it, and audits every use and every refusal.
    actor: Actor = requires(Permission.PUBLIC_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> StreamingResponse:
    chunks = market.open_download(
        unit,
        svc.storage,
        actor,
        svc.settings.secret_key.get_secret_value(),
        snapshot_id,
        name,
        expires=expires,
        sig=sig,
    )
    media = "application/json" if name.endswith(".json") else "application/octet-stream"
    return stream(chunks, media)


@router.get("/api/buyers/feed")
def feed(
    actor: Actor = requires(Permission.FEED_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> FeedOut:
    feed = market.revocation_feed(
        unit, svc.signer, actor, svc.settings.base_url, ttl_seconds=svc.settings.feed_ttl_seconds
    )
    return FeedOut.model_validate(feed)


@router.get(market.JWKS_PATH)
def jwks(
    _actor: Actor = requires(Permission.PUBLIC_READ), svc: Services = Depends(services)
) -> JwksOut:
    """The platform's signing keys (a JWK Set): the key that signs now and those it
    replaced, which still verify what they signed (feeds, receipts, audit checkpoints)."""
    return JwksOut.model_validate(svc.signer.jwks())


@router.put("/api/buyers/webhook")
def register_webhook(
    body: WebhookIn,
    actor: Actor = requires(Permission.WEBHOOK_MANAGE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> WebhookStatusOut:
    """Push each new revocation notice to ``url`` (signed, retried; the feed stays)."""
    market.register_webhook(unit, svc.webhooks, actor, body.url, dev_mode=svc.settings.dev_mode)
    return WebhookStatusOut.model_validate(market.webhook_status(unit, actor))


@router.get("/api/buyers/webhook")
def webhook_status(
    actor: Actor = requires(Permission.WEBHOOK_MANAGE), unit: UnitOfWork = unit_of_work()
) -> WebhookStatusOut:
    """The organisation's webhook and the log of every push attempt, newest first."""
    return WebhookStatusOut.model_validate(market.webhook_status(unit, actor))


@router.delete("/api/buyers/webhook")
def remove_webhook(
    actor: Actor = requires(Permission.WEBHOOK_MANAGE), unit: UnitOfWork = unit_of_work()
) -> WebhookStatusOut:
    market.remove_webhook(unit, actor)
    return WebhookStatusOut.model_validate(market.webhook_status(unit, actor))


@router.get("/api/buyers/revocations")
def deletion_choices(
    actor: Actor = requires(Permission.DELETION_ATTEST), unit: UnitOfWork = unit_of_work()
) -> dict[str, DeletionChoiceOut]:
    """For each notice (by its ``content_sha256``): the snapshots an attestation must name
    (downloaded, holding the item) and the model answers the licences allow."""
    return {
        sha: DeletionChoiceOut(snapshots=[c.snapshot_id for c in c_["held"]], models=c_["models"])
        for sha, c_ in market.deletion_choices(unit, actor).items()
    }


@router.post("/api/buyers/revocations/acknowledge")
def acknowledge(
    body: HashesIn,
    actor: Actor = requires(Permission.DELETION_ATTEST),
    unit: UnitOfWork = unit_of_work(),
) -> AcknowledgedOut:
    notices = market.acknowledge(unit, actor, body.content_sha256)
    return AcknowledgedOut(acknowledged=[n.content_sha256 for n in notices])


@router.post("/api/buyers/attestations", status_code=201)
def attest(
    body: AttestIn,
    actor: Actor = requires(Permission.DELETION_ATTEST),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> AttestedOut:
    """Attest deletion; the answer carries the statement signed by the platform."""
    done = market.attest_deletion(
        unit,
        actor,
        body.content_sha256,
        body.statement,
        signer=svc.signer,
        base_url=svc.settings.base_url,
        snapshots=body.snapshots,
        copies=body.copies,
        models=body.models,
    )
    return AttestedOut(
        attested=[
            AttestedNoticeOut(content_sha256=n.content_sha256, late=n.late, at=n.attested_at)
            for n in done.notices
            if n.attested_at
        ],
        signed_statement=done.signed_statement,
        statement=done.claims,
    )


@router.get("/api/items/{item_id}/passport")
def item_passport(
    item_id: RowId,
    actor: Actor = requires(Permission.PASSPORT_READ),
    unit: UnitOfWork = unit_of_work(),
) -> PassportOut:
    return PassportOut.model_validate(trust.item_passport(unit, actor, item_id))
