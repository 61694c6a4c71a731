"""A buyer's webhook for pushed revocation notices, and the log of every attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(eq=False)
class Webhook:
    org_id: int
    url: str
    created_by: int
    created_at: datetime
    failures: int = 0  # failed attempts in a row; a success resets it
    alerted_at: datetime | None = None  # operators alerted for the current run of failures
    removed_at: datetime | None = None
    id: int | None = None


@dataclass(eq=False)
class WebhookDelivery:
    """One attempt to push one notice. ``ok``: the webhook answered 2xx in time."""

    webhook_id: int
    org_id: int
    notice_id: int
    seq: int
    attempt: int
    at: datetime
    ok: bool
    status: int | None = None
    error: str | None = None
    duration_ms: int = 0
    id: int | None = None
