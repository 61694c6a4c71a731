"""Orders and agreements: what a buyer declared and selected, and each item's licence it
took (one ``AgreementRow`` per item, keeping the exact terms agreed). Replica approvals
belong here too: a contributor's yes or no to one replica use by one organisation, asked
for by an order. Stored records; the rules that fill them are ``services.orders`` and
``services.replica_approvals``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from datatrust.domain.clock import utcnow
from datatrust.domain.licence import Licence


@dataclass(eq=False)
class Order:
    """A declared use, its selection and quote; ``purchased`` once bought.

    ``use`` is ``use_to_dict``'s JSON; ``item_ids`` the selection; ``reasons`` the count of
    excluded items per reason code; ``quote`` what ``quote_for`` returned.
    """

    org_id: int
    created_by: int
    use: dict[str, Any]
    item_ids: list[int]
    excluded: int
    reasons: dict[str, int]
    quote: dict[str, Any]
    state: str = "quoted"
    created_at: datetime = field(default_factory=utcnow)
    purchased_at: datetime | None = None
    id: int | None = None


@dataclass(eq=False)
class AgreementRow:
    """One item's licence taken by one organisation for one declared use.

    ``licence`` keeps the exact terms agreed (``Licence.to_dict``), so a later revision of
    the offer never changes what this buyer agreed to. ``contributor_id`` is deliberately
    not called ``owner_id``: the policy reads ``org_id``, and the buyer's organisation is
    who may read an agreement (the contributor reads its sale in the passport).
    """

    order_id: int
    org_id: int
    item_id: int
    contributor_id: int
    offer_id: int
    consent_id: int | None
    licence: dict[str, Any]
    use: dict[str, Any]
    price_minor: int
    fee_minor: int
    contributor_share_minor: int
    currency: str
    content_sha256: str
    agreed_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    def terms(self) -> Licence:
        return Licence.from_dict(self.licence)


PENDING = "pending"


APPROVED = "approved"


REFUSED = "refused"


@dataclass(eq=False)
class ReplicaApproval:
    """One request to a contributor to approve one replica use of one item by one
    organisation. ``use`` is ``orders.use_to_dict``'s JSON; ``org_name`` is kept so the
    contributor reads who asks, never an id."""

    item_id: int
    owner_id: int
    org_id: int
    org_name: str
    use: dict[str, Any]
    order_id: int | None = None
    state: str = PENDING
    requested_at: datetime = field(default_factory=utcnow)
    decided_at: datetime | None = None
    id: int | None = None
