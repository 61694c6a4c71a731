"""The incident register (operators) and the notices it sends (contributors, buyers)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from datatrust.domain.clock import as_utc
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import trust
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import Out, Strict
from datatrust.web.deps import RowId, api_router, requires, unit_of_work

router = api_router(prefix="/api", tags=["incidents"])


class IncidentIn(Strict):
    title: str = Field(max_length=300, description="What happened, in a line.")
    description: str = Field(default="", max_length=10000)
    discovered_at: datetime = Field(description="When it was found: the 72-hour clock starts.")
    item_ids: list[RowId] = Field(default_factory=list, description="The items it touched, or…")
    window_start: datetime | None = Field(default=None, description="…a time window")
    window_end: datetime | None = None
    kinds: list[str] = Field(default_factory=list, description="Kinds of data (empty: all).")


class CloseIn(Strict):
    note: str = Field(default="", max_length=500)


class IncidentOut(BaseModel):
    id: int
    title: str
    description: str
    state: str
    discovered_at: datetime
    deadline: datetime
    hours_left: float
    notified_at: datetime | None
    closed_at: datetime | None
    affected_items: list[int]
    contributors: int
    buyers: int
    notices: int


class NoticeOut(BaseModel):
    id: int
    incident_id: RowId
    language: str
    subject: str
    body: str
    created_at: datetime


def _out(view: trust.IncidentView) -> IncidentOut:
    i = view.incident
    return IncidentOut(
        id=i.id or 0,
        title=i.title,
        description=i.description,
        state=i.state.value,
        discovered_at=as_utc(i.discovered_at),
        deadline=i.deadline,
        hours_left=view.hours_left,
        notified_at=as_utc(i.notified_at) if i.notified_at else None,
        closed_at=as_utc(i.closed_at) if i.closed_at else None,
        affected_items=i.affected_items,
        contributors=len(i.affected_users),
        buyers=len(i.affected_orgs),
        notices=view.notices,
    )


@router.post("/incidents", status_code=201)
def open_incident(
    body: IncidentIn,
    actor: Actor = requires(Permission.INCIDENT_MANAGE),
    unit: UnitOfWork = unit_of_work(),
) -> IncidentOut:
    """Record an incident; who it touched is worked out from the access log."""
    made = trust.open_incident(unit, actor, **body.model_dump())
    return _out(trust.get_incident(unit, actor, made.id or 0))


@router.get("/incidents")
def list_incidents(
    actor: Actor = requires(Permission.INCIDENT_MANAGE), unit: UnitOfWork = unit_of_work()
) -> list[IncidentOut]:
    return [_out(v) for v in trust.list_incidents(unit, actor)]


@router.get("/incidents/{incident_id}")
def get_incident(
    incident_id: RowId,
    actor: Actor = requires(Permission.INCIDENT_MANAGE),
    unit: UnitOfWork = unit_of_work(),
) -> IncidentOut:
    return _out(trust.get_incident(unit, actor, incident_id))


@router.post("/incidents/{incident_id}/notify")
def notify(
    incident_id: RowId,
    actor: Actor = requires(Permission.INCIDENT_MANAGE),
    unit: UnitOfWork = unit_of_work(),
) -> IncidentOut:
    """Send the notices: each contributor touched (their language), each buyer that held
    a touched item. Once."""
    trust.notify_incident(unit, actor, incident_id)
    return _out(trust.get_incident(unit, actor, incident_id))


@router.post("/incidents/{incident_id}/close")
def close(
    incident_id: RowId,
    body: CloseIn,
    actor: Actor = requires(Permission.INCIDENT_MANAGE),
    unit: UnitOfWork = unit_of_work(),
) -> IncidentOut:
    trust.close_incident(unit, actor, incident_id, note=body.note)
    return _out(trust.get_incident(unit, actor, incident_id))


class IncidentScopeOut(Out):
    item_ids: list[int]
    window_start: datetime | None
    window_end: datetime | None
    kinds: list[str]


class RegulatorReportOut(Out):
    """Counts and dates, no names (GDPR Art. 33(3), DPDP Rules, POPIA s22)."""

    format: str
    incident_id: int
    title: str
    description: str
    state: str
    discovered_at: datetime
    opened_at: datetime
    notification_deadline: datetime
    notified_at: datetime | None
    notified_within_72_hours: bool
    scope: IncidentScopeOut
    data_categories: list[str]
    records_affected: int
    data_subjects_affected: int
    recipients_affected: int
    notices_sent: int
    closed_at: datetime | None


@router.get("/incidents/{incident_id}/report")
def regulator_report(
    incident_id: RowId,
    actor: Actor = requires(Permission.INCIDENT_MANAGE),
    unit: UnitOfWork = unit_of_work(),
) -> RegulatorReportOut:
    """The report for the regulator (JSON): counts and dates, no names. Audited."""
    return RegulatorReportOut.model_validate(trust.regulator_report(unit, actor, incident_id))


@router.get("/notices")
def my_notices(
    actor: Actor = requires(Permission.NOTICE_READ), unit: UnitOfWork = unit_of_work()
) -> list[NoticeOut]:
    """Notices about incidents that touched the caller's data (a buyer: its organisation's)."""
    return [
        NoticeOut(
            id=n.id or 0,
            incident_id=n.incident_id,
            language=n.language,
            subject=n.subject,
            body=n.body,
            created_at=as_utc(n.created_at),
        )
        for n in trust.my_notices(unit, actor)
    ]
