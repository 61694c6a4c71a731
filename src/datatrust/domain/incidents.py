"""Incidents: a personal-data breach, the people and buyers it touched, and the clock.

GDPR Art. 33/34, India's DPDP Rules and POPIA s22 all expect the regulator (and, where the
risk is high, the people affected) to hear of a breach within 72 hours of its discovery;
``deadline`` is that moment. An incident names what it touched either as items or as a
time window (with the kinds of data, or all kinds): the service turns that into the items
accessed or delivered in the window, their contributors and the buyers that held them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import as_utc, utcnow

NOTIFY_WITHIN = timedelta(hours=72)
# Reminders to the operators while nobody has been told: every this often, and at least
# one in the last hours before the deadline.
REMIND_EVERY = timedelta(hours=12)
LANGUAGES = ("en", "hi", "zu")


class IncidentState(StrEnum):
    OPEN = "open"  # recorded, assessed; nobody told yet
    NOTIFIED = "notified"  # contributors and buyers told
    CLOSED = "closed"


@dataclass(eq=False)
class Incident:
    title: str
    description: str
    discovered_at: datetime
    opened_by: int
    item_ids: list[int] = field(default_factory=list)  # the scope, when named by item
    window_start: datetime | None = None  # or the scope as a time window …
    window_end: datetime | None = None
    kinds: list[str] = field(default_factory=list)  # … of these kinds (empty: every kind)
    state: IncidentState = IncidentState.OPEN
    affected_items: list[int] = field(default_factory=list)
    affected_users: list[int] = field(default_factory=list)
    affected_orgs: list[int] = field(default_factory=list)
    opened_at: datetime = field(default_factory=utcnow)
    notified_at: datetime | None = None
    reminded_at: datetime | None = None
    closed_at: datetime | None = None
    id: int | None = None

    @property
    def deadline(self) -> datetime:
        return as_utc(self.discovered_at) + NOTIFY_WITHIN

    def overdue(self, now: datetime) -> bool:
        return self.notified_at is None and as_utc(now) > self.deadline

    def needs_reminder(self, now: datetime) -> bool:
        """Nobody told yet, and no reminder for ``REMIND_EVERY`` (or none at all)."""
        if self.state is not IncidentState.OPEN:
            return False
        last = self.reminded_at or self.opened_at
        return as_utc(now) - as_utc(last) >= REMIND_EVERY or (
            self.reminded_at is None and self.deadline - as_utc(now) <= REMIND_EVERY
        )


@dataclass(eq=False)
class Notice:
    """An in-app notice to one person (``user_id``) or one buyer organisation (``org_id``),
    in the words of ``language``."""

    incident_id: int
    language: str
    subject: str
    body: str
    user_id: int | None = None
    org_id: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    read_at: datetime | None = None
    id: int | None = None

    @property
    def owner_id(self) -> int | None:  # the policy's ownership check for a person's notice
        return self.user_id


# The notices, per language. %(title)s is the operator's own description (as written);
# %(discovered)s a date; %(items)d how many of the reader's items it touched.
CONTRIBUTOR_NOTICE: dict[str, tuple[str, str]] = {
    "en": (
        "A security incident touched your data",
        "On %(discovered)s we found a security incident: %(title)s. It touched %(items)d of "
        "your items. You can see which in each item's data passport. We are sorry. You can "
        "withdraw consent for any item, or delete your account, at any time.",
    ),
    "hi": (
        "एक सुरक्षा घटना का असर आपके डेटा पर पड़ा",
        "%(discovered)s को हमें एक सुरक्षा घटना का पता चला: %(title)s। इसका असर आपके "
        "%(items)d आइटम पर पड़ा। किन पर पड़ा, यह हर आइटम के डेटा पासपोर्ट में दिखता है। हमें "
        "खेद है। आप कभी भी किसी भी आइटम की सहमति वापस ले सकते हैं या अपना खाता मिटा सकते हैं।",
    ),
    "zu": (
        "Isigameko sokuphepha sithinte imininingwane yakho",
        "Ngo-%(discovered)s sithole isigameko sokuphepha: %(title)s. Sithinte izinto zakho "
        "ezingu-%(items)d. Ungabona ukuthi yiziphi kuphasipoti yedatha yento ngayinye. "
        "Siyaxolisa. Ungahoxisa imvume yanoma iyiphi into, noma ususe i-akhawunti yakho, "
        "noma nini.",
    ),
}
BUYER_NOTICE = (
    "A security incident touched items you hold",
    "On %(discovered)s we found a security incident: %(title)s. It touched %(items)d items "
    "your organisation received. Check where your copies are and tell us of any misuse.",
)


def contributor_notice(
    language: str, title: str, discovered_at: datetime, items: int
) -> tuple[str, str]:
    subject, body = CONTRIBUTOR_NOTICE.get(language, CONTRIBUTOR_NOTICE["en"])
    return subject, body % _values(title, discovered_at, items)


def buyer_notice(title: str, discovered_at: datetime, items: int) -> tuple[str, str]:
    subject, body = BUYER_NOTICE
    return subject, body % _values(title, discovered_at, items)


def _values(title: str, discovered_at: datetime, items: int) -> dict[str, Any]:
    return {"title": title, "discovered": as_utc(discovered_at).date().isoformat(), "items": items}
