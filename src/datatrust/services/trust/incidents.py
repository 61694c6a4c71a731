"""The incident register: an operator records a breach, the instance works out whom it
touched, a 72-hour clock runs from its discovery, and notices go out.

Every step is audited (``incident:*``). Each item touched gets an ``incident:affect``
event about it, so the item's data passport shows the incident to its contributor.
Who is touched:

- named items: those items;
- a time window: every item that the access log says was read, previewed, selected,
  sold, delivered or downloaded in it (of the given kinds, or of any kind);
- their contributors (erased ones excepted: nothing of theirs can be read, and they can
  no longer be reached), and every buyer organisation a snapshot delivered them to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from datatrust.domain.accounts import Organisation, User
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.incidents import (
    LANGUAGES,
    Incident,
    IncidentState,
    Notice,
    buyer_notice,
    contributor_notice,
)
from datatrust.domain.items import Item, ItemKind
from datatrust.domain.permissions import Actor, Permission, Role, authorize
from datatrust.domain.snapshots import SnapshotItem
from datatrust.services.accounts import actor_label, queue_mail
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import MailMessage, UnitOfWork

REMIND_JOB = "incidents.remind"
# What in the access log counts as the item being reached.
ACCESS_TAGS = (
    AuditTag.ITEM_ACCESS,
    AuditTag.ITEM_SELECT,
    AuditTag.ITEM_SELL,
    AuditTag.SNAPSHOT_DELIVER,
    AuditTag.SNAPSHOT_DOWNLOAD,
)


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    hours_left: float  # until the 72-hour deadline (negative: passed)
    notices: int
    overdue: bool = False  # nobody told and the deadline passed (``Incident.overdue``)


def open_incident(
    uow: UnitOfWork,
    actor: Actor,
    *,
    title: str,
    description: str,
    discovered_at: datetime,
    item_ids: list[int] | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    kinds: list[str] | None = None,
) -> Incident:
    """Record an incident and who it touched. The scope is ``item_ids``, or a window
    (``window_start`` to ``window_end``, optionally only ``kinds``). ``InvalidInput``
    names every problem: no title, a discovery in the future, no scope or both scopes, a
    window that ends before it starts, an unknown kind."""
    authorize(actor, Permission.INCIDENT_MANAGE)
    now = utcnow()
    problems: list[Problem] = []
    if not title.strip() or len(title) > 300:
        problems.append(Problem("title", "incident.title", {"maximum": 300}))
    if as_utc(discovered_at) > now:
        problems.append(Problem("discovered_at", "incident.discovered_in_future"))
    window = window_start is not None or window_end is not None
    if bool(item_ids) == window:
        problems.append(Problem("scope", "incident.scope"))
    if window and (window_start is None or window_end is None):
        problems.append(Problem("window", "incident.window_both"))
    elif (
        window_start is not None
        and window_end is not None
        and as_utc(window_end) < as_utc(window_start)
    ):
        problems.append(Problem("window", "incident.window_order"))
    known = {k.value for k in ItemKind}
    problems += [
        Problem("kinds", "unknown_code_of", {"given": k, "choices": sorted(known)})
        for k in kinds or []
        if k not in known
    ]
    if problems:
        raise InvalidInput(problems)

    if item_ids:
        touched = [i for i in _items(uow, sorted(set(item_ids)))]
    else:
        # No items named, so the checks above made both ends of the window present.
        assert window_start is not None and window_end is not None
        ids = uow.audit.items_touched_between(
            as_utc(window_start),
            as_utc(window_end),
            [str(t) for t in ACCESS_TAGS],
        )
        touched = [i for i in _items(uow, ids) if not kinds or i.kind.value in kinds]
    item_ids_touched = [id_of(i) for i in touched]
    owners = sorted({i.owner_id for i in touched})
    live = {u.id for u in _by_ids(uow, User, owners) if u.erased_at is None}
    orgs = sorted({s.org_id for i in item_ids_touched for s in uow.all(SnapshotItem, item_id=i)})
    incident = Incident(
        title=title.strip(),
        description=description.strip(),
        discovered_at=as_utc(discovered_at),
        opened_by=actor.user_id or 0,
        item_ids=sorted(set(item_ids or [])),
        window_start=window_start,
        window_end=window_end,
        kinds=sorted(set(kinds or [])),
        affected_items=item_ids_touched,
        affected_users=[u for u in owners if u in live],
        affected_orgs=orgs,
        opened_at=now,
    )
    uow.add(incident)
    uow.flush()
    who = actor_label(actor)
    uow.record(
        AuditTag.INCIDENT_OPEN,
        who,
        "incident",
        incident.id,
        discovered_at=incident.discovered_at.isoformat(),
        deadline=incident.deadline.isoformat(),
        items=len(item_ids_touched),
        contributors=len(incident.affected_users),
        buyers=len(orgs),
    )
    for item_id in item_ids_touched:
        uow.record(
            AuditTag.INCIDENT_AFFECT, who, "item", item_id, incident_id=incident.id, what=title
        )
    uow.commit()
    return incident


def notify_incident(uow: UnitOfWork, actor: Actor, incident_id: int) -> Incident:
    """Tell every contributor touched (in their language, in the app and by mail) and
    every buyer that held a touched item. Once: ``Conflict`` if already done or closed."""
    incident = _get(uow, actor, incident_id, lock=True)
    if incident.state is not IncidentState.OPEN:
        raise Conflict(
            Problem(
                None, "incident.already", {"incident": incident.id, "state": incident.state.value}
            )
        )
    now = utcnow()
    per_owner: dict[int, int] = {}
    for item in _items(uow, incident.affected_items):
        per_owner[item.owner_id] = per_owner.get(item.owner_id, 0) + 1
    sent = 0
    for user in _by_ids(uow, User, incident.affected_users):
        if user.erased_at is not None:
            continue
        language = user.language if user.language in LANGUAGES else "en"
        subject, body = contributor_notice(
            language, incident.title, incident.discovered_at, per_owner.get(user.id or 0, 0)
        )
        _notify(uow, incident, subject, body, language, user_id=user.id, email=user.email)
        sent += 1
    for org in _by_ids(uow, Organisation, incident.affected_orgs):
        held = {
            s.item_id
            for s in uow.all(SnapshotItem, org_id=org.id)
            if s.item_id in incident.affected_items
        }
        subject, body = buyer_notice(incident.title, incident.discovered_at, len(held))
        _notify(uow, incident, subject, body, "en", org_id=org.id, email=org.contact_email)
        sent += 1
    incident.state = IncidentState.NOTIFIED
    incident.notified_at = now
    uow.record(
        AuditTag.INCIDENT_NOTIFY,
        actor_label(actor),
        "incident",
        incident.id,
        notices=sent,
        within_deadline=now <= incident.deadline,
    )
    uow.commit()
    return incident


def _notify(
    uow: UnitOfWork,
    incident: Incident,
    subject: str,
    body: str,
    language: str,
    *,
    email: str,
    user_id: int | None = None,
    org_id: int | None = None,
) -> None:
    notice = Notice(
        incident_id=incident.id or 0,
        language=language,
        subject=subject,
        body=body,
        user_id=user_id,
        org_id=org_id,
    )
    uow.add(notice)
    if email:
        queue_mail(uow, MailMessage(email, subject, body))


def close_incident(uow: UnitOfWork, actor: Actor, incident_id: int, *, note: str = "") -> Incident:
    """Close it (after notifying, or when it turned out to touch nobody)."""
    incident = _get(uow, actor, incident_id, lock=True)
    if incident.state is IncidentState.CLOSED:
        raise Conflict(Problem(None, "incident.closed", {"incident": incident.id}))
    if incident.state is IncidentState.OPEN and (incident.affected_users or incident.affected_orgs):
        raise Conflict(Problem(None, "incident.notify_first"))
    incident.state = IncidentState.CLOSED
    incident.closed_at = utcnow()
    uow.record(
        AuditTag.INCIDENT_CLOSE, actor_label(actor), "incident", incident.id, note=note[:500]
    )
    uow.commit()
    return incident


def regulator_report(uow: UnitOfWork, actor: Actor, incident_id: int) -> dict[str, Any]:
    """What a regulator asks for (GDPR Art. 33(3), DPDP Rules, POPIA s22): the nature of
    the breach, when it was found and told, the categories and numbers of people and
    records, who else received the data. Counts, not names. The export is audited."""
    incident = _get(uow, actor, incident_id)
    kinds = sorted({i.kind.value for i in _items(uow, incident.affected_items)})
    report = {
        "format": "datatrust-incident-report/1",
        "incident_id": incident.id,
        "title": incident.title,
        "description": incident.description,
        "state": incident.state.value,
        "discovered_at": as_utc(incident.discovered_at).isoformat(),
        "opened_at": as_utc(incident.opened_at).isoformat(),
        "notification_deadline": incident.deadline.isoformat(),
        "notified_at": as_utc(incident.notified_at).isoformat() if incident.notified_at else None,
        "notified_within_72_hours": bool(
            incident.notified_at and as_utc(incident.notified_at) <= incident.deadline
        ),
        "scope": {
            "item_ids": incident.item_ids,
            "window_start": as_utc(incident.window_start).isoformat()
            if incident.window_start
            else None,
            "window_end": as_utc(incident.window_end).isoformat() if incident.window_end else None,
            "kinds": incident.kinds,
        },
        "data_categories": kinds,
        "records_affected": len(incident.affected_items),
        "data_subjects_affected": len(incident.affected_users),
        "recipients_affected": len(incident.affected_orgs),
        "notices_sent": uow.count(Notice, incident_id=incident.id),
        "closed_at": as_utc(incident.closed_at).isoformat() if incident.closed_at else None,
    }
    uow.record(AuditTag.INCIDENT_REPORT, actor_label(actor), "incident", incident.id)
    uow.commit()
    return report


def list_incidents(uow: UnitOfWork, actor: Actor) -> list[IncidentView]:
    authorize(actor, Permission.INCIDENT_MANAGE)
    now = utcnow()
    return [_view(uow, i, now) for i in uow.all(Incident, order_by="-id")]


def get_incident(uow: UnitOfWork, actor: Actor, incident_id: int) -> IncidentView:
    return _view(uow, _get(uow, actor, incident_id), utcnow())


def my_notices(uow: UnitOfWork, actor: Actor) -> list[Notice]:
    """The caller's notices, newest first; a buyer also sees its organisation's."""
    authorize(actor, Permission.NOTICE_READ)
    found = uow.all(Notice, user_id=actor.user_id, order_by="-id") if actor.user_id else []
    if actor.role is Role.BUYER and actor.org_id is not None:
        found += uow.all(Notice, org_id=actor.org_id, order_by="-id")
    return sorted(found, key=lambda n: -(n.id or 0))


def remind(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Remind the operators of every open incident nobody has been told of yet, every
    ``REMIND_EVERY`` and once more near the deadline. Returns how many were reminded."""
    now = now or utcnow()
    operators = uow.all(User, role=Role.OPERATOR)
    reminded = 0
    for incident in uow.all(Incident, state=IncidentState.OPEN, order_by="id"):
        if not incident.needs_reminder(now):
            continue
        hours = (incident.deadline - as_utc(now)).total_seconds() / 3600
        subject = f"Incident {incident.id}: {hours:.0f} hours left to notify"
        if hours < 0:
            subject = f"Incident {incident.id}: the 72-hour deadline passed {-hours:.0f} hours ago"
        for operator in operators:
            if operator.erased_at is None:
                queue_mail(uow, MailMessage(operator.email, subject, incident.title))
        incident.reminded_at = now
        uow.record(
            AuditTag.INCIDENT_REMIND,
            "system",
            "incident",
            incident.id,
            hours_left=round(hours, 1),
            overdue=hours < 0,
        )
        reminded += 1
    uow.commit()
    return reminded


@job(REMIND_JOB)
def remind_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Hourly (adapters.queue.SCHEDULE): ``remind``."""
    remind(uow)


def _get(uow: UnitOfWork, actor: Actor, incident_id: int, *, lock: bool = False) -> Incident:
    authorize(actor, Permission.INCIDENT_MANAGE)
    incident = (uow.get_for_update if lock else uow.get)(Incident, incident_id)
    if incident is None:
        raise NotFound(Problem(None, "incident.not_found", {"incident": incident_id}))
    return incident


def _view(uow: UnitOfWork, incident: Incident, now: datetime) -> IncidentView:
    left = (incident.deadline - as_utc(now)).total_seconds() / 3600
    notices = uow.count(Notice, incident_id=incident.id)
    return IncidentView(incident, round(left, 1), notices, incident.overdue(now))


def _items(uow: UnitOfWork, ids: list[int]) -> list[Item]:
    return _by_ids(uow, Item, ids)


def _by_ids(uow: UnitOfWork, cls: type, ids: list[int]) -> list[Any]:
    found: list[Any] = []
    for lo in range(0, len(ids), 5000):
        found.extend(uow.all(cls, order_by="id", id__in=ids[lo : lo + 5000]))
    return found
