"""Invitations to the other participants of a chat or call: one per person, known only
by a pseudonymised label, answered once (confirmed or declined) or left to expire."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from datatrust.domain.clock import as_utc, utcnow

INVITATION_LIFETIME = timedelta(days=30)


class InvitationState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


@dataclass(eq=False)
class ParticipantInvitation:
    """One other participant of one item. ``owner_id`` is the contributor's (the policy
    lets only them list it); the participant is known only by ``label``."""

    item_id: int
    owner_id: int
    label: str
    nonce: str
    token_hash: str
    state: InvitationState = InvitationState.PENDING
    expires_at: datetime = field(default_factory=lambda: utcnow() + INVITATION_LIFETIME)
    decided_at: datetime | None = None
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    def expired(self, now: datetime) -> bool:
        return self.state is InvitationState.PENDING and now >= as_utc(self.expires_at)
