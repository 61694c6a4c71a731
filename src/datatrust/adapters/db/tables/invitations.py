"""Tables for the other participants' invitations to consent to a chat or call (migration
0007), and the mapping of the service entity onto them."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, UniqueConstraint

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.invitations import InvitationState, ParticipantInvitation

participant_invitations = Table(
    "participant_invitations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", ForeignKey("items.id"), nullable=False, index=True),
    Column("owner_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("label", String(32), nullable=False),
    Column("nonce", String(64), nullable=False),
    # sha256 of the token: how a link finds its row (the token itself is never stored).
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("state", string_enum(InvitationState, "invitation_state"), nullable=False),
    Column("expires_at", TZ, nullable=False),
    Column("decided_at", TZ),
    Column("created_at", TZ, nullable=False),
    # One invitation per participant per item: a re-run job never invites twice.
    UniqueConstraint("item_id", "label", name="uq_participant_invitations_item_id_label"),
)


def map_participants() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(ParticipantInvitation, participant_invitations)
