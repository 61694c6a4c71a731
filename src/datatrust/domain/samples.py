"""Evaluation samples: which item an organisation was shown before buying, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from datatrust.domain.clock import utcnow


@dataclass(eq=False)
class EvaluationSample:
    """One item shown to an organisation in an evaluation sample."""

    org_id: int
    item_id: int
    order_id: int
    requested_by: int
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None
