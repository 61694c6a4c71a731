"""Campaigns: create (buyers and operators), open, close, read, coverage, and review."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from datatrust.bootstrap import Services
from datatrust.domain.campaigns import Campaign
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import campaigns
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import MoneyOut, Out
from datatrust.web.deps import RowId, api_router, requires, services, stream, unit_of_work

router = api_router(prefix="/api/campaigns", tags=["campaigns"])


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    rate_minor: int = Field(description="Pay per accepted item or minute, in minor units.")
    currency: str = Field(max_length=3)
    quota: int
    pay_basis: str = "per_item"
    description: str = Field(default="", max_length=5000)
    spec: dict[str, Any] = Field(default_factory=dict)
    review_window_days: int = 7
    licence_template: str = Field(default="training_only", max_length=100)
    review_mode: str = "peer"
    coverage_bonus_minor: int = 0
    expected_minutes_per_item: int | None = Field(
        default=None, description="Effort per unit of pay; the pay floor is checked against it."
    )
    country: str | None = Field(default=None, max_length=2)


class CampaignOut(BaseModel):
    id: int
    title: str
    description: str
    kind: str
    state: str
    spec: dict[str, Any]
    pay_basis: str
    rate_minor: int
    currency: str
    coverage_bonus_minor: int
    quota: int
    review_window_days: int
    review_mode: str
    licence_template: str
    org_id: RowId | None
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None


class TaskStartOut(Out):
    id: int
    campaign_id: int
    started_at: datetime


class FloorStateOut(Out):
    """The campaign's pay-floor state; the escrow fields only for those who manage it."""

    campaign_id: int
    paused: bool
    rate: MoneyOut
    rechecked_at: datetime | None
    measured_submissions: int | None
    median_effort_seconds: int | None
    escrow_balance: MoneyOut | None = None
    needed_to_reopen: MoneyOut | None = None
    shortfall: MoneyOut | None = None


class CoverageOut(Out):
    campaign_id: int
    cells: dict[str, int] = Field(description="Accepted ambient recordings per H3 cell.")
    uncovered: list[str] = Field(description="The campaign's wanted cells with none yet.")
    coverage_bonus_minor: int
    currency: str


class ReviewEntryOut(Out):
    item_id: int
    kind: str
    quality: dict[str, Any]
    removed_summary: list[str]
    removed: dict[str, Any]
    duration_seconds: int | None
    up: int
    down: int


class ReviewOutcomeOut(Out):
    item_id: int
    up: int
    down: int
    decision: str | None = Field(description="accept, reject, or null while votes are due.")
    status: str


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up: bool
    note: str = Field(default="", max_length=500)


def campaign_out(c: Campaign) -> CampaignOut:
    return CampaignOut(
        id=c.id or 0,
        title=c.title,
        description=c.description,
        kind=c.kind.value,
        state=c.state.value,
        spec=c.spec,
        pay_basis=c.pay_basis.value,
        rate_minor=c.rate_minor,
        currency=c.currency,
        coverage_bonus_minor=c.coverage_bonus_minor,
        quota=c.quota,
        review_window_days=c.review_window_days,
        review_mode=c.review_mode.value,
        licence_template=c.licence_template,
        org_id=c.org_id,
        created_at=c.created_at,
        opened_at=c.opened_at,
        closed_at=c.closed_at,
    )


@router.post("", status_code=201)
def create(
    body: CampaignIn,
    actor: Actor = requires(Permission.CAMPAIGN_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> CampaignOut:
    return campaign_out(campaigns.create_campaign(unit, actor, **body.model_dump()))


@router.get("")
def list_all(
    actor: Actor = requires(Permission.CAMPAIGN_READ), unit: UnitOfWork = unit_of_work()
) -> list[CampaignOut]:
    return [campaign_out(c) for c in campaigns.list_campaigns(unit, actor)]


@router.get("/{campaign_id}")
def get_one(
    campaign_id: RowId,
    actor: Actor = requires(Permission.CAMPAIGN_READ),
    unit: UnitOfWork = unit_of_work(),
) -> CampaignOut:
    return campaign_out(campaigns.get_campaign(unit, actor, campaign_id))


@router.post("/{campaign_id}/open")
def open_(
    campaign_id: RowId,
    actor: Actor = requires(Permission.CAMPAIGN_CREATE),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> CampaignOut:
    floors = svc.policy.pay_floors
    return campaign_out(campaigns.open_campaign(unit, actor, campaign_id, floors))


@router.post("/{campaign_id}/close")
def close(
    campaign_id: RowId,
    actor: Actor = requires(Permission.CAMPAIGN_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> CampaignOut:
    return campaign_out(campaigns.close_campaign(unit, actor, campaign_id))


@router.post("/{campaign_id}/start", status_code=201)
def start_task(
    campaign_id: RowId,
    actor: Actor = requires(Permission.ITEM_CREATE),
    unit: UnitOfWork = unit_of_work(),
) -> TaskStartOut:
    """Start the campaign's task: upload time minus this start is the measured effort the
    pay floor is rechecked against."""
    start = campaigns.start_task(unit, actor, campaign_id)
    return TaskStartOut(
        id=start.id or 0, campaign_id=start.campaign_id, started_at=start.started_at
    )


@router.get("/{campaign_id}/pay-floor", response_model_exclude_unset=True)
def pay_floor(
    campaign_id: RowId,
    actor: Actor = requires(Permission.CAMPAIGN_READ),
    unit: UnitOfWork = unit_of_work(),
) -> FloorStateOut:
    return FloorStateOut.model_validate(campaigns.floor_state(unit, actor, campaign_id).as_dict())


@router.get("/{campaign_id}/coverage")
def coverage(
    campaign_id: RowId,
    actor: Actor = requires(Permission.CAMPAIGN_READ),
    unit: UnitOfWork = unit_of_work(),
) -> CoverageOut:
    return CoverageOut.model_validate(campaigns.campaign_coverage(unit, actor, campaign_id))


@router.get("/{campaign_id}/review")
def review_queue(
    campaign_id: RowId,
    actor: Actor = requires(Permission.REVIEW),
    unit: UnitOfWork = unit_of_work(),
) -> list[ReviewEntryOut]:
    return [ReviewEntryOut(**e.__dict__) for e in campaigns.review_queue(unit, actor, campaign_id)]


@router.get("/{campaign_id}/review/{item_id}/preview")
def review_preview(
    campaign_id: RowId,
    item_id: RowId,
    actor: Actor = requires(Permission.REVIEW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> StreamingResponse:
    """The de-identified version of an item waiting for the caller's review."""
    shown = campaigns.open_review_preview(unit, svc.storage, actor, campaign_id, item_id)
    return stream(shown.chunks, shown.content_type)


@router.post("/{campaign_id}/review/{item_id}")
def review(
    campaign_id: RowId,
    item_id: RowId,
    body: ReviewIn,
    actor: Actor = requires(Permission.REVIEW),
    svc: Services = Depends(services),
    unit: UnitOfWork = unit_of_work(),
) -> ReviewOutcomeOut:
    outcome = campaigns.submit_review(
        unit, actor, campaign_id, item_id, up=body.up, note=body.note, storage=svc.storage
    )
    return ReviewOutcomeOut(**outcome.__dict__)
