"""Buyer pages: organisation, catalogue, declared uses (orders), snapshots and the
revocation feed."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from fastapi import Depends, Form, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from datatrust import i18n
from datatrust.bootstrap import Services
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, DomainError, PermissionDenied
from datatrust.domain.permissions import Permission
from datatrust.domain.purposes import ACTIONS, INDUSTRIES, OUTPUTS, PURPOSES, TASKS
from datatrust.services import accounts, market
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import RowId, services, unit_of_work
from datatrust.web.pages.common import (
    Page,
    field_errors,
    page_number,
    page_requires,
    page_router,
    render,
    show_problem,
)

router = page_router()


@router.get("/buyer/organisation")
def organisation(
    page: Page = page_requires(Permission.ORG_CREATE), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    orgs = accounts.list_organisations(unit, page.actor)
    return render(page, "organisation.html", orgs=orgs, form={}, errors={})


@router.post("/buyer/organisation")
def register_organisation(
    page: Page = page_requires(Permission.ORG_CREATE),
    unit: UnitOfWork = unit_of_work(),
    legal_name: str = Form(""),
    country: str = Form(""),
    website: str = Form(""),
    contact_email: str = Form(""),
    intended_use: str = Form(""),
) -> Response:
    form = {
        "legal_name": legal_name,
        "country": country,
        "website": website,
        "contact_email": contact_email,
        "intended_use": intended_use,
    }
    try:
        accounts.register_organisation(
            unit,
            page.actor,
            legal_name=legal_name,
            country=country.strip().upper(),
            website=website,
            contact_email=contact_email.strip(),
            intended_uses={"description": intended_use.strip()} if intended_use.strip() else {},
        )
    except DomainError as exc:
        return render(
            page,
            "organisation.html",
            422,
            orgs=[],
            form=form,
            errors=field_errors(page, exc, "legal_name"),
        )
    return RedirectResponse("/buyer/organisation", status_code=303)


def _codes(vocabulary: Any) -> list[str]:
    codes = vocabulary.codes() if callable(vocabulary.codes) else vocabulary.codes
    return sorted(codes)


USE_FIELDS = ("action", "purpose", "industry", "territory")
CATALOGUE_FILTERS = ("kind", "language", "licence", *USE_FIELDS)


def _use_choices() -> dict[str, list[str]]:
    return {
        "action": _codes(ACTIONS),
        "purpose": _codes(PURPOSES),
        "industry": _codes(INDUSTRIES),
        "task": _codes(TASKS),
        "outputs": _codes(OUTPUTS),
    }


@router.get("/buyer/catalogue")
def buyer_catalogue(
    page: Page = page_requires(Permission.CATALOGUE_READ), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    """Listed items by facet: each facet value is a link that narrows the search."""
    params = page.request.query_params
    filters = {k: params[k] for k in ("kind", "language", *USE_FIELDS) if params.get(k)}
    try:
        found = market.catalogue(unit, page.actor, filters, page=page_number(page))
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return render(
            page,
            "catalogue.html",
            422,
            found=None,
            filters=filters,
            errors=field_errors(page, exc, "action"),
            choices=_use_choices(),
        )
    return render(
        page, "catalogue.html", found=found, filters=filters, errors={}, choices=_use_choices()
    )


def _orders_page(page: Page, unit: UnitOfWork, status: int = 200, **extra: Any) -> HTMLResponse:
    ends = (utcnow() + timedelta(days=365)).date().isoformat()
    return render(
        page,
        "orders.html",
        status,
        orders=market.list_orders(unit, page.actor),
        choices=_use_choices(),
        form=extra.pop("form", None) or {"ends_at": ends, "territory": "GB"},
        errors=extra.pop("errors", {}),
    )


@router.get("/buyer/orders")
def buyer_orders(
    page: Page = page_requires(Permission.ORDER_READ), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    return _orders_page(page, unit)


@router.post("/buyer/orders")
def declare_use(
    page: Page = page_requires(Permission.ORDER_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    action: str = Form(""),
    purpose: str = Form(""),
    industry: str = Form(""),
    territory: str = Form(""),
    ends_at: str = Form(""),
    task: str = Form(""),
    outputs: list[str] = Form([]),
) -> Response:
    form = {
        "action": action,
        "purpose": purpose,
        "industry": industry,
        "territory": territory.strip().upper(),
        "ends_at": ends_at,
        "task": task,
        "outputs": [o for o in outputs if o],
    }
    data = {**form, "ends_at": f"{ends_at}T00:00:00+00:00" if len(ends_at) == 10 else ends_at}
    try:
        order = market.declare_order(
            unit,
            page.actor,
            data,
            policy=svc.policy,
        )
    except DomainError as exc:
        if exc.status in (401, 404):
            raise
        return _orders_page(page, unit, 422, form=form, errors=field_errors(page, exc, "form"))
    return RedirectResponse(f"/buyer/orders/{order.id}", status_code=303)


@router.get("/buyer/orders/{order_id}")
def buyer_order(
    order_id: RowId,
    page: Page = page_requires(Permission.ORDER_READ),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    return render(page, "order.html", order=market.get_order(unit, page.actor, order_id))


@router.post("/buyer/orders/{order_id}/sample")
def sample(
    order_id: RowId,
    page: Page = page_requires(Permission.SAMPLE_REQUEST),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    items: int = Form(3),
) -> HTMLResponse:
    """A watermarked evaluation sample of the order before buying (``samples``), shown on
    a page of its own; a refusal (the organisation's limit, nothing to preview) in words."""
    try:
        got = market.request_sample(
            unit,
            svc.storage,
            page.actor,
            order_id,
            items=items,
            limit=svc.settings.evaluation_sample_limit,
        )
    except Conflict as exc:
        seen = exc.details or {}
        if "limit" in seen:
            text = page._(
                "Your organisation may see %(limit)s items in samples and has seen %(used)s."
            ) % {"limit": seen["limit"], "used": seen["used"]}
        else:
            text = page._("Nothing in this order can be previewed: samples show photos and chats.")
        order = market.get_order(unit, page.actor, order_id)
        return render(page, "order.html", 409, order=order, sample_error=text)
    previews = [
        {**shown, "text": base64.b64decode(shown["data_base64"]).decode("utf-8", "replace")}
        if shown["kind"] == "chat"
        else shown
        for shown in got["items"]
    ]
    return render(page, "sample.html", order_id=order_id, sample=got, previews=previews)


@router.post("/buyer/orders/{order_id}/purchase")
def buy(
    order_id: RowId,
    page: Page = page_requires(Permission.ORDER_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    market.purchase_order(
        unit,
        page.actor,
        order_id,
        policy=svc.policy,
    )
    return RedirectResponse(f"/buyer/orders/{order_id}", status_code=303)


@router.post("/buyer/orders/{order_id}/snapshots")
def build(
    order_id: RowId,
    page: Page = page_requires(Permission.SNAPSHOT_BUILD),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    market.build_snapshot(
        unit,
        page.actor,
        order_id,
        cipher=svc.storage.cipher,
        policy=svc.policy,
    )
    return RedirectResponse("/buyer/snapshots", status_code=303)


@router.get("/buyer/snapshots")
def buyer_snapshots(
    page: Page = page_requires(Permission.SNAPSHOT_DOWNLOAD),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    """Each ready snapshot with signed download links (valid an hour)."""
    secret = svc.settings.secret_key.get_secret_value()
    shown = []
    for snap in market.list_snapshots(unit, page.actor):
        links, refused = {}, None
        try:
            if snap.ready:
                links = market.download_links(unit, page.actor, secret, snap.id)["files"]
        except PermissionDenied as exc:  # its use or licence ended, or items withdrawn
            refused = "; ".join(show_problem(page, p) for p in exc.problems)
        shown.append({"snapshot": snap, "files": links, "refused": refused})
    refresh = not all(s["snapshot"].ready for s in shown)
    return render(page, "snapshots.html", snapshots=shown, refresh=refresh)


def _(msgid: str) -> str:
    """Marks a msgid for extraction; the page translates it with ``page._``."""
    return msgid


# What a buyer did with models trained on a withdrawn item (``revocations.MODEL_ACTIONS``).
MODEL_WORDS = i18n.MODEL_WORDS


# The template's modalities in words (msgids).
MODALITY_LABELS = {
    "text": _("Text"),
    "image": _("Images"),
    "audio": _("Audio"),
    "video": _("Video"),
}


@router.get("/buyer/snapshots/{snapshot_id}/compliance")
def compliance_page(
    snapshot_id: RowId,
    page: Page = page_requires(Permission.SNAPSHOT_DOWNLOAD),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    """The snapshot's compliance pack (its stored compliance.json) as a readable page."""
    pack = market.read_compliance_pack(unit, svc.storage, page.actor, snapshot_id)
    return render(page, "compliance.html", pack=pack, modality_labels=MODALITY_LABELS)


def _feed_page(page: Page, svc: Services, unit: UnitOfWork, status: int = 200, **extra: Any) -> Any:
    feed = market.revocation_feed(unit, svc.signer, page.actor, svc.settings.base_url)
    return render(
        page,
        "feed.html",
        status,
        notices=feed["claims"]["revoked"],
        late=market.late_notices(unit, page.actor),
        choices=market.deletion_choices(unit, page.actor),
        model_words=MODEL_WORDS,
        errors=extra.pop("errors", {}),
        form=extra.pop("form", {}),
    )


@router.get("/buyer/feed")
def buyer_feed(
    page: Page = page_requires(Permission.FEED_READ),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    return _feed_page(page, svc, unit)


@router.post("/buyer/feed/attest")
def attest(
    page: Page = page_requires(Permission.DELETION_ATTEST),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    content_sha256: list[str] = Form([]),  # every hash of one notice (``content_hashes``)
    statement: str = Form(""),
    snapshots: list[int] = Form([]),
    copies: str = Form(""),  # one copy a line
    models: str = Form(""),
) -> Response:
    try:
        market.attest_deletion(
            unit,
            page.actor,
            content_sha256,
            statement,
            signer=svc.signer,
            base_url=svc.settings.base_url,
            snapshots=snapshots,
            copies=copies.splitlines(),
            models=models or None,
        )
    except DomainError as exc:
        if exc.status in (401, 404):
            raise
        first = content_sha256[0] if content_sha256 else ""  # the notice's own hash
        errors = {first: field_errors(page, exc, "statement")}
        form = {first: {"statement": statement, "copies": copies, "models": models}}
        return _feed_page(page, svc, unit, 422, errors=errors, form=form)
    return RedirectResponse("/buyer/feed", status_code=303)


def _webhook_page(page: Page, unit: UnitOfWork, status: int = 200, **extra: Any) -> Any:
    shown = market.webhook_status(unit, page.actor)
    return render(
        page,
        "webhook.html",
        status,
        webhook=shown["webhook"],
        deliveries=shown["deliveries"],
        errors=extra.pop("errors", {}),
        form=extra.pop("form", {}),
    )


@router.get("/buyer/webhook")
def buyer_webhook(
    page: Page = page_requires(Permission.WEBHOOK_MANAGE), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    """Where revocation notices are pushed, and every attempt to push them."""
    return _webhook_page(page, unit)


@router.post("/buyer/webhook")
def register_webhook(
    page: Page = page_requires(Permission.WEBHOOK_MANAGE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    url: str = Form(""),
) -> Response:
    try:
        market.register_webhook(unit, svc.webhooks, page.actor, url, dev_mode=svc.settings.dev_mode)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return _webhook_page(
            page, unit, 422, errors=field_errors(page, exc, "url"), form={"url": url}
        )
    return RedirectResponse("/buyer/webhook", status_code=303)
