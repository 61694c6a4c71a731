"""Orders and agreements: what a buyer declared and selected, and each item's licence it
took (one ``AgreementRow`` per item, keeping the exact terms agreed). Replica approvals
belong here too: a contributor's yes or no to one replica use by one organisation, asked
for by an order. Stored records; the rules that fill them are ``services.orders`` and
``services.replica_approvals``. Beside them, the two pure rules both of those and the
licence summary share: whether a use already held ``covers`` a wanted one, and what one
unit of a licence costs and pays (``gross_up``, ``unit_pay``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain import ledger
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.licence import Licence
from datatrust.domain.licence_text import Amount, UnitPay
from datatrust.domain.money import Money


class OrderState(StrEnum):
    """An order is ``quoted`` until it is bought, then ``purchased`` for good."""

    QUOTED = "quoted"
    PURCHASED = "purchased"


ORDER_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    OrderState.QUOTED: frozenset({OrderState.PURCHASED}),
    OrderState.PURCHASED: frozenset(),
}


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
    state: OrderState = OrderState.QUOTED
    created_at: datetime = field(default_factory=utcnow)
    purchased_at: datetime | None = None
    id: int | None = None

    @property
    def bought(self) -> bool:
        """Purchased: it cannot be bought again, and snapshots can be built from it."""
        return self.state == OrderState.PURCHASED

    def mark_purchased(self, at: datetime) -> None:
        """Bought at ``at``: ``quoted`` → ``purchased``; ``Conflict``
        (``order.already_bought``) when it was bought already."""
        if OrderState.PURCHASED not in ORDER_TRANSITIONS.get(self.state, frozenset()):
            raise Conflict(
                Problem(None, "order.already_bought", {"order": self.id}), {"order_id": self.id}
            )
        self.state = OrderState.PURCHASED
        self.purchased_at = at


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
    # When the agreed licence ends: ``licence["valid_until"]`` as a column (migration
    # 0033), set from the terms when the agreement is made, so the deadline check finds
    # ended agreements in SQL rather than parsing every held row's licence. None only
    # where the terms name no readable end; the check takes such an agreement as ended.
    valid_until: datetime | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.valid_until = licence_end(self.licence)

    def terms(self) -> Licence:
        return Licence.from_dict(self.licence)


def licence_end(licence: Mapping[str, Any]) -> datetime | None:
    """The moment a licence's JSON (``Licence.to_dict``) says it ends, in UTC; None when
    it names none or one that does not read as a moment."""
    try:
        return as_utc(datetime.fromisoformat(str(licence["valid_until"])))
    except (KeyError, ValueError):
        return None


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


# --- what a use already held grants, and what one unit costs -------------------------------

_SAME_USE_KEYS = ("action", "purpose", "industry", "territory")


def covers(held_use: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Whether an agreement taken for ``held_use`` already grants ``wanted`` (both
    ``use_to_dict`` shapes): the same action, purpose, industry and territory, for the same
    recipient and model task, every declared use and output of ``wanted`` among its own,
    over a period that contains
    the wanted one. Anything less (another territory, a day longer) is a new use, priced
    in full: a partial overlap is never discounted."""
    try:
        return (
            all(held_use[k] == wanted[k] for k in _SAME_USE_KEYS)
            and str(held_use["recipient_org"]["id"]) == str(wanted["recipient_org"]["id"])
            and set(wanted.get("declared_uses", [])) <= set(held_use.get("declared_uses", []))
            # What the model does is part of the use: another task is a new use.
            and held_use.get("task") == wanted.get("task")
            and set(wanted.get("outputs", [])) <= set(held_use.get("outputs", []))
            # Where a replica is used is part of the use: a new language is a new use.
            and held_use.get("replica") == wanted.get("replica")
            and as_utc(datetime.fromisoformat(held_use["starts_at"]))
            <= as_utc(datetime.fromisoformat(wanted["starts_at"]))
            and as_utc(datetime.fromisoformat(held_use["ends_at"]))
            >= as_utc(datetime.fromisoformat(wanted["ends_at"]))
        )
    except (KeyError, TypeError, ValueError):  # an agreement we cannot read grants nothing
        return False


def gross_up(items_minor: int, fee_percent: int) -> int:
    """What the buyer pays so that ``fee_percent`` off the top leaves ``items_minor``."""
    if fee_percent >= 100:
        raise InvalidInput(Problem("fee_percent", "order.fee_too_high"))
    return -(-items_minor * 100 // (100 - fee_percent))


def unit_pay(terms: Licence, fee_percent: int) -> UnitPay:
    """What one unit of ``terms`` (an item, or a minute for a per-minute licence) costs and
    pays, exactly as a one-unit order is charged and booked: the buyer pays the unit price
    with its surcharges grossed up by the platform fee (``gross_up``, as ``quote_for``
    charges), and ``ledger.sale`` divides it as ``money.record_sale`` books it (the fee off
    the top, the contributor's royalty share of the rest, the remainder to the platform).
    The licence summary states these figures (issue 16 §6)."""
    currency = terms.currency
    price = Money(terms.price_with_surcharge_minor, currency)
    paid = Money(gross_up(price.amount_minor, fee_percent), currency)
    if paid.is_zero:
        zero = Amount(0, currency)
        return UnitPay(terms.price_unit, zero, zero, zero, zero)
    split = ledger.sale(
        "buyer",
        paid,
        fee_percent,
        [("contributor", price, terms.royalty_share_percent)],
        key="licence-summary",
    )
    share = split.lines[0].contributor_share
    return UnitPay(
        terms.price_unit,
        paid=Amount(paid.amount_minor, currency),
        fee=Amount(split.platform_fee.amount_minor, currency),
        platform=Amount((paid - share).amount_minor, currency),
        share=Amount(share.amount_minor, currency),
    )
