"""Operator pages: buyer vetting, campaigns, review, payouts, settings and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, Form, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from datatrust.bootstrap import Services
from datatrust.domain.clock import as_utc
from datatrust.domain.errors import DomainError, NotFound
from datatrust.domain.items import ItemKind
from datatrust.domain.permissions import Permission, can
from datatrust.services import accounts, campaigns, money, trust
from datatrust.services.ports import UnitOfWork
from datatrust.services.trust import verify_audit_log
from datatrust.web.deps import RowId, services, unit_of_work
from datatrust.web.pages.common import (
    Page,
    field_errors,
    page_requires,
    page_router,
    render,
    review_queue_page,
    review_vote,
    show_money,
    task_view,
)

router = page_router()


@router.get("/operator/vetting")
def vetting_queue(
    page: Page = page_requires(Permission.ORG_VET), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    orgs = accounts.list_organisations(unit, page.actor)
    return render(page, "vetting.html", orgs=orgs, errors={}, form={})


@router.post("/operator/vetting/{org_id}")
def decide(
    org_id: RowId,
    page: Page = page_requires(Permission.ORG_VET),
    unit: UnitOfWork = unit_of_work(),
    decision: str = Form(""),
    reason: str = Form(""),
) -> Response:
    try:
        accounts.decide_organisation(unit, page.actor, org_id, decision, reason)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        orgs = accounts.list_organisations(unit, page.actor)
        return render(
            page,
            "vetting.html",
            422,
            orgs=orgs,
            errors={org_id: field_errors(page, exc, "reason")},
            form={org_id: {"reason": reason, "decision": decision}},
        )
    return RedirectResponse(f"/operator/vetting#org-{org_id}", status_code=303)


@router.get("/operator/campaigns")
def operator_campaigns(
    page: Page = page_requires(Permission.INSTANCE_MANAGE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    floors = svc.policy.pay_floors
    shown = [task_view(page, c, unit, floors) for c in campaigns.list_campaigns(unit, page.actor)]
    return render(page, "campaigns.html", tasks=shown)


def _review_page(
    page: Page, unit: UnitOfWork, campaign_id: RowId, status: int = 200, errors: Any = None
) -> HTMLResponse:
    campaign = campaigns.get_campaign(unit, page.actor, campaign_id)
    queue = [(campaign, e) for e in campaigns.review_queue(unit, page.actor, campaign_id)]
    where = {"campaign": str(campaign_id)}
    return review_queue_page(page, status, queue, "/operator/review", where, errors, peer=False)


@router.get("/operator/review")
def review(
    page: Page = page_requires(Permission.REVIEW), unit: UnitOfWork = unit_of_work()
) -> Response:
    """The items of one campaign (``?campaign=``) waiting for a decision; without one,
    the campaigns to choose from (each links its queue), or a contributor's peer review."""
    asked = page.request.query_params.get("campaign", "")
    if not asked.isdigit():
        chooser = (
            "/operator/campaigns" if can(page.actor, Permission.INSTANCE_MANAGE) else "/review"
        )
        return RedirectResponse(chooser, status_code=303)
    return _review_page(page, unit, int(asked))


@router.post("/operator/review")
def decide_item(
    page: Page = page_requires(Permission.REVIEW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    campaign_id: str = Form(""),
    item_id: str = Form(""),
    decision: str = Form(""),
    note: str = Form(""),
) -> Response:
    form = (campaign_id, item_id, decision, note)
    errors = review_vote(page, unit, form, ("accept", "reject"), svc.storage)
    if errors:
        return _review_page(page, unit, int(campaign_id), 422, errors)
    return RedirectResponse(f"/operator/review?campaign={campaign_id}", status_code=303)


@router.get("/operator/payouts")
def payouts_page(page: Page = page_requires(Permission.PAYOUT_RUN)) -> HTMLResponse:
    queued = page.request.query_params.get("queued", "")
    return render(page, "payouts.html", queued=queued if queued.isdigit() else None)


@router.post("/operator/payouts")
def run_payouts(
    page: Page = page_requires(Permission.PAYOUT_RUN), unit: UnitOfWork = unit_of_work()
) -> Response:
    waiting = money.schedule_payout_batch(unit, page.actor)
    return RedirectResponse(f"/operator/payouts?queued={waiting}", status_code=303)


@router.get("/operator/settings")
def instance_settings(
    page: Page = page_requires(Permission.INSTANCE_MANAGE), svc: Services = Depends(services)
) -> HTMLResponse:
    """Read-only: the instance's pay floor, platform fee, denied industries, the map's
    tile server (none by default), and any media tool this machine lacks (as ``/health``
    and the start-up log name it), said at the top of the page."""
    policy = svc.policy
    return render(
        page,
        "settings.html",
        floor=show_money(page, policy.pay_floors.floor_for(None)),
        fee=policy.platform_fee_percent,
        denied=sorted(policy.denied_industries),
        map_tiles=svc.settings.map_tile_url,
        missing_tools=sorted(svc.missing_media_tools()),
    )


@router.get("/operator/audit")
def audit_status(
    page: Page = page_requires(Permission.AUDIT_VERIFY), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    return render(page, "audit.html", report=verify_audit_log(unit, page.actor))


# --- incidents (issue 14 §6) ----------------------------------------------------------------


def _incidents_page(
    page: Page,
    unit: UnitOfWork,
    status: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        page,
        "incidents.html",
        status,
        views=trust.list_incidents(unit, page.actor),
        kinds=[k.value for k in ItemKind],
        errors=errors or {},
        form=form or {},
    )


@router.get("/operator/incidents")
def incident_register(
    page: Page = page_requires(Permission.INCIDENT_MANAGE), unit: UnitOfWork = unit_of_work()
) -> HTMLResponse:
    return _incidents_page(page, unit)


@router.post("/operator/incidents")
def open_incident(
    page: Page = page_requires(Permission.INCIDENT_MANAGE),
    unit: UnitOfWork = unit_of_work(),
    title: str = Form(""),
    description: str = Form(""),
    discovered_at: str = Form(""),
    item_ids: str = Form(""),
    window_start: str = Form(""),
    window_end: str = Form(""),
    kinds: list[str] = Form([]),
) -> Response:
    typed = {
        "title": title,
        "description": description,
        "discovered_at": discovered_at,
        "item_ids": item_ids,
        "window_start": window_start,
        "window_end": window_end,
    }
    errors: dict[str, list[str]] = {}
    moments = {}
    for name in ("discovered_at", "window_start", "window_end"):
        moments[name] = _moment(typed[name])
        if (typed[name] and moments[name] is None) or (name == "discovered_at" and not typed[name]):
            errors[name] = [page._("A date and time, such as 2026-12-02 14:30.")]
    ids = [p.strip() for p in item_ids.split(",") if p.strip()]
    if not all(p.isdigit() for p in ids):
        errors["item_ids"] = [page._("Item numbers, separated by commas")]
    if not errors:
        try:
            trust.open_incident(
                unit,
                page.actor,
                title=title,
                description=description,
                discovered_at=moments["discovered_at"],  # type: ignore[arg-type]
                item_ids=[int(p) for p in ids],
                window_start=moments["window_start"],
                window_end=moments["window_end"],
                kinds=kinds,
            )
            return RedirectResponse("/operator/incidents", status_code=303)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            errors = field_errors(page, exc)
    return _incidents_page(page, unit, 422, errors, typed)


@router.post("/operator/incidents/{incident_id}")
def incident_step(
    incident_id: RowId,
    page: Page = page_requires(Permission.INCIDENT_MANAGE),
    unit: UnitOfWork = unit_of_work(),
    step: str = Form(""),
) -> Response:
    if step == "notify":
        trust.notify_incident(unit, page.actor, incident_id)
    elif step == "close":
        trust.close_incident(unit, page.actor, incident_id)
    else:
        raise NotFound(f"no step {step!r}")
    return RedirectResponse(f"/operator/incidents#incident-{incident_id}", status_code=303)


def _moment(text: str) -> datetime | None:
    """A ``datetime-local`` field's value, read as UTC; None if empty or not a time."""
    try:
        return as_utc(datetime.fromisoformat(text.strip())) if text.strip() else None
    except ValueError:
        return None
