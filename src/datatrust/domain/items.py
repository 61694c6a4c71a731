"""Items: one contribution (photo, video, audio, voice, call, chat) and its artefacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import utcnow


class ItemKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    AMBIENT = "ambient"
    VOICE = "voice"
    CALL = "call"
    CHAT = "chat"


class ItemStatus(StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    PROCESSED = "processed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    LISTED = "listed"
    WITHDRAWN = "withdrawn"


@dataclass(eq=False)
class Item:
    owner_id: int
    kind: ItemKind
    filename: str
    content_type: str
    size: int
    original_key: str
    original_sha256: str
    status: ItemStatus = ItemStatus.RECEIVED
    title: str = ""
    campaign_id: int | None = None
    deidentified_key: str | None = None
    deidentified_sha256: str | None = None
    h3_cell: str | None = None
    duration_seconds: int | None = None
    report: dict[str, Any] = field(default_factory=dict)
    # The licence offer the item is offered under, and the consent record that lets it be
    # used; both None until the contributor attaches a licence and gives consent.
    licence_id: int | None = None
    consent_id: int | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    @property
    def selectable(self) -> bool:
        """Only listed items can enter a buyer's selection."""
        return self.status is ItemStatus.LISTED
