"""Notifications: what a person is told when something that concerns them happens, in the
in-app inbox and, unless they turned it off for that kind, by mail.

A ``Notification`` keeps the facts its sentence needs (``params``: ids, a task's title, an
amount as the ledger moved it, a date), never the sentence: it is written in the reader's
language each time it is shown or mailed (``services.notifications.describe``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import utcnow


class NoticeKind(StrEnum):
    ITEM_ACCEPTED = "item_accepted"  # a contributor's item passed review and was paid
    ITEM_REJECTED = "item_rejected"  # ... or did not pass review
    PAYOUT_PAID = "payout_paid"  # a payout was sent
    PAYOUT_FAILED = "payout_failed"  # a payout was refused; the money is back
    VETTING_DECIDED = "vetting_decided"  # a buyer organisation approved, rejected, suspended
    DELETION_REQUESTED = "deletion_requested"  # a buyer holds a withdrawn item: delete it
    DELETION_ATTESTED = "deletion_attested"  # a buyer attested deleting a person's item


# Who can receive each kind (the preferences a person is offered).
CONTRIBUTOR_KINDS = (
    NoticeKind.ITEM_ACCEPTED,
    NoticeKind.ITEM_REJECTED,
    NoticeKind.PAYOUT_PAID,
    NoticeKind.PAYOUT_FAILED,
    NoticeKind.DELETION_ATTESTED,
)
BUYER_KINDS = (NoticeKind.VETTING_DECIDED, NoticeKind.DELETION_REQUESTED)


@dataclass(eq=False)
class Notification:
    user_id: int
    kind: NoticeKind
    params: dict[str, Any]
    created_at: datetime = field(default_factory=utcnow)
    read_at: datetime | None = None
    id: int | None = None

    @property
    def owner_id(self) -> int:
        return self.user_id


@dataclass(eq=False)
class NotificationSetting:
    """A person's choice for one kind; without a row, mail is on."""

    user_id: int
    kind: NoticeKind
    by_mail: bool
    id: int | None = None

    @property
    def owner_id(self) -> int:
        return self.user_id
