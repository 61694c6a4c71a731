"""Campaign pages for the people who run campaigns (a buyer's organisation, or the
operator for the platform's own): create one with its hourly rate checked against the
pay floor as the terms are typed, fund its escrow, open it, close it (showing what came
back), and follow its progress and review queue.

Every figure comes from the service that decides it: the hourly rate and the least rate
that meets the floor from ``campaigns.check_terms`` (what ``pay_floor_check`` judges an
opening by), escrow from the ledger through ``campaigns.campaign_progress``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from fastapi import Depends, Form, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from datatrust.bootstrap import Services
from datatrust.domain.campaigns import PayBasis, ReviewMode
from datatrust.domain.errors import DomainError, InvalidInput
from datatrust.domain.items import ItemKind
from datatrust.domain.licence import TEMPLATES
from datatrust.domain.money import CurrencyMismatch, Money
from datatrust.domain.permissions import Permission
from datatrust.services import campaigns, money
from datatrust.services.ports import UnitOfWork
from datatrust.web.deps import RowId, services, unit_of_work
from datatrust.web.pages.common import (
    Page,
    currency_choices,
    field_errors,
    page_requires,
    page_router,
    render,
    show_money,
    task_view,
)

router = page_router()

# The fields of the campaign form, and what a new form starts with.
FORM_DEFAULTS = {
    "title": "",
    "description": "",
    "kind": "ambient",
    "pay_basis": "per_item",
    "rate": "",
    "currency": "USD",
    "quota": "50",
    "expected_minutes": "5",
    "coverage_bonus": "",
    "max_duration_s": "",
    "review_mode": "operator",
    "licence_template": "training_only",
}


def _check(page: Page, svc: Services, form: dict[str, str]) -> dict[str, Any] | None:
    """The typed terms against the pay floor, in the reader's words; None until a rate and
    an effort are typed (or when they cannot be read, which the form then says)."""
    try:
        rate = Money.parse(form.get("rate", ""), form.get("currency", "") or "USD")
        minutes = int(form.get("expected_minutes", ""))
        if minutes < 1:
            return None
        check = campaigns.check_terms(rate, minutes, None, svc.policy.pay_floors)
    except (InvalidInput, ValueError, CurrencyMismatch):
        return None
    return {
        "ok": check.meets_floor,
        "hourly": show_money(page, check.hourly_rate),
        "floor": show_money(page, check.floor),
        "least": show_money(page, check.minimum_rate_per_item),
    }


def _form_page(
    page: Page, svc: Services, form: dict[str, str], status: int = 200, errors: Any = None
) -> HTMLResponse:
    return render(
        page,
        "campaign_new.html",
        status,
        form=form,
        errors=errors or {},
        check=_check(page, svc, form),
        kinds=[k.value for k in ItemKind],
        bases=[b.value for b in PayBasis],
        modes=[m.value for m in ReviewMode],
        templates=[(name, t["title"]) for name, t in TEMPLATES.items()],
        currencies=currency_choices(page),
    )


@router.get("/campaigns")
def managed(
    page: Page = page_requires(Permission.CAMPAIGN_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    floors = svc.policy.pay_floors
    shown = [
        task_view(page, c, unit, floors) for c in campaigns.list_managed_campaigns(unit, page.actor)
    ]
    return render(page, "campaigns.html", tasks=shown)


@router.get("/campaigns/new")
def new_campaign(
    page: Page = page_requires(Permission.CAMPAIGN_CREATE), svc: Services = Depends(services)
) -> HTMLResponse:
    """The form; with its fields in the query (the "check" button, or the page's script
    asking for the check alone with ``?part=check``) the pay-floor check of those terms."""
    asked = {k: v for k, v in page.request.query_params.items() if k in FORM_DEFAULTS}
    form = {**FORM_DEFAULTS, **asked}
    if page.request.query_params.get("part") == "check":
        return render(page, "campaign_check.html", check=_check(page, svc, form))
    return _form_page(page, svc, form)


def _minor(text: str, currency: str, field: str) -> int:
    """Major units typed in a form ("1.50") as minor units, the problem named by field."""
    if not text.strip():
        return 0
    try:
        return Money.parse(text, currency).amount_minor
    except InvalidInput as exc:
        raise InvalidInput(
            exc.message, problems=[f"{field}: write an amount such as 1.50"]
        ) from exc


def _typed(amount: Money) -> str:
    """An amount as a person types it into the form ("80.00"): what ``Money.parse`` reads."""
    digits = get_currency_precision(amount.currency)
    return f"{Decimal(amount.amount_minor).scaleb(-digits):.{digits}f}"


def _whole(text: str, field: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise InvalidInput("not a number", problems=[f"{field}: a whole number"])
    return int(text.strip())


@router.post("/campaigns")
def create(
    page: Page = page_requires(Permission.CAMPAIGN_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    title: str = Form(""),
    description: str = Form(""),
    kind: str = Form(""),
    pay_basis: str = Form(""),
    rate: str = Form(""),
    currency: str = Form("USD"),
    quota: str = Form(""),
    expected_minutes: str = Form(""),
    coverage_bonus: str = Form(""),
    max_duration_s: str = Form(""),
    review_mode: str = Form(""),
    licence_template: str = Form(""),
) -> Response:
    form = {
        "title": title,
        "description": description,
        "kind": kind,
        "pay_basis": pay_basis,
        "rate": rate,
        "currency": currency.strip().upper() or "USD",
        "quota": quota,
        "expected_minutes": expected_minutes,
        "coverage_bonus": coverage_bonus,
        "max_duration_s": max_duration_s,
        "review_mode": review_mode,
        "licence_template": licence_template,
    }
    try:
        longest = _whole(max_duration_s, "max_duration_s")
        created = campaigns.create_campaign(
            unit,
            page.actor,
            title=title,
            description=description,
            kind=kind,
            pay_basis=pay_basis,
            rate_minor=_minor(rate, form["currency"], "rate"),
            currency=form["currency"],
            quota=_whole(quota, "quota") or 0,
            expected_minutes_per_item=_whole(expected_minutes, "expected_minutes"),
            coverage_bonus_minor=_minor(coverage_bonus, form["currency"], "coverage_bonus"),
            spec={"max_duration_s": longest} if longest else {},
            review_mode=review_mode,
            licence_template=licence_template,
        )
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        unit.rollback()
        errors = {FIELDS.get(k, k): v for k, v in field_errors(page, exc, "title").items()}
        return _form_page(page, svc, form, 422, errors)
    return RedirectResponse(f"/campaigns/{created.id}", status_code=303)


# The services' field names, by the form's.
FIELDS = {
    "rate_minor": "rate",
    "coverage_bonus_minor": "coverage_bonus",
    "expected_minutes_per_item": "expected_minutes",
    "spec.max_duration_s": "max_duration_s",
}


def _campaign_page(
    page: Page, svc: Services, unit: UnitOfWork, campaign_id: RowId, status: int = 200, **extra: Any
) -> HTMLResponse:
    progress = campaigns.campaign_progress(unit, page.actor, campaign_id, svc.policy.pay_floors)
    return render(
        page,
        "campaign.html",
        status,
        p=progress,
        task=task_view(page, progress.campaign, unit, svc.policy.pay_floors),
        key=uuid.uuid4().hex,
        suggested=_typed(progress.shortfall) if progress.shortfall.is_positive else "",
        errors=extra.pop("errors", {}),
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    campaign_id: RowId,
    page: Page = page_requires(Permission.CAMPAIGN_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> HTMLResponse:
    return _campaign_page(page, svc, unit, campaign_id)


@router.post("/campaigns/{campaign_id}/fund")
def fund(
    campaign_id: RowId,
    page: Page = page_requires(Permission.ESCROW_FUND),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
    amount: str = Form(""),
    idempotency_key: str = Form(""),
) -> Response:
    campaign = campaigns.campaign_progress(
        unit, page.actor, campaign_id, svc.policy.pay_floors
    ).campaign
    try:
        value = Money(_minor(amount, campaign.currency, "amount"), campaign.currency)
        money.fund_campaign_escrow(
            unit,
            svc.payment_rail,
            page.actor,
            campaign_id,
            value,
            idempotency_key or uuid.uuid4().hex,
        )
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        unit.rollback()
        errors = field_errors(page, exc, "amount")
        return _campaign_page(
            page, svc, unit, campaign_id, 422, errors=errors, form={"amount": amount}
        )
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/open")
def open_(
    campaign_id: RowId,
    page: Page = page_requires(Permission.CAMPAIGN_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    try:
        campaigns.open_campaign(unit, page.actor, campaign_id, svc.policy.pay_floors)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        unit.rollback()
        if exc.code == "conflict" and "campaign.escrow_short" not in exc.codes:
            # Not the escrow: the campaign moved meanwhile (a page open in two tabs);
            # the problem says from which state, in the reader's words.
            errors = field_errors(page, exc, "open")
        else:
            errors = {"open": [page._(OPEN_REFUSALS.get(exc.code, "It cannot open yet."))]}
        return _campaign_page(page, svc, unit, campaign_id, 422, errors=errors)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


# Why a campaign cannot open, by the error's code (msgids; the catalogues translate them,
# tests/web/test_pages_campaigns.py reads them in Hindi): the page shows the figures beside it.
OPEN_REFUSALS = {
    "invalid_input": "Its rate is below the pay floor for the effort it states: raise the rate "
    "to at least the amount shown.",
    "conflict": "Its escrow does not cover the quota yet: fund the amount still missing.",
}


@router.post("/campaigns/{campaign_id}/close")
def close(
    campaign_id: RowId,
    page: Page = page_requires(Permission.CAMPAIGN_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    campaigns.close_campaign(unit, page.actor, campaign_id)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/pause")
def pause(
    campaign_id: int,
    page: Page = page_requires(Permission.CAMPAIGN_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    campaigns.pause_campaign(unit, page.actor, campaign_id)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/resume")
def resume(
    campaign_id: int,
    page: Page = page_requires(Permission.CAMPAIGN_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> Response:
    try:
        campaigns.resume_campaign(unit, page.actor, campaign_id, svc.policy.pay_floors)
    except InvalidInput:
        unit.rollback()
        below_floor = OPEN_REFUSALS["invalid_input"]  # a msgid; not a literal in _()
        errors = {"open": [page._(below_floor)]}
        return _campaign_page(page, svc, unit, campaign_id, 422, errors=errors)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
