"""Orders: a buyer declares a use, sees what it may take and why the rest is left out,
gets a quote, and buys. A purchase makes one agreement per item.

Who may order: a member of an *approved* organisation. A pending, rejected or suspended
organisation is refused, and the refusal is audited (``buyer:refuse``) in a transaction of
its own, because the caller's transaction is about to be rolled back by the error.

What may be ordered: a use (action, purpose, industry, territory, period, declared uses)
whose purpose and industry the organisation declared in its ``intended_uses`` and whose
industry the instance does not deny (``InstancePolicy.denied_industries``). Anything else is
refused with an error naming the problem, and audited (``order:refuse``).

What is selected: every listed item whose licence permits exactly that use for the whole
declared period, judged by ``licences.selectable_items`` (fails closed), with
the count of items left out per reason code. An item whose licence ends inside the period
is left out with ``licence_ends_within_period``.

Money: integers in minor units. Each item's price is its licence's price (with any
exclusivity surcharge; per-minute prices times the started minutes). The ledger
(``money.record_sale``) takes the platform fee *off the top* of what the buyer pays and
gives the rest to the items in proportion to their prices, so the quote grosses the item
prices up: total = ceil(items × 100 / (100 − fee %)), fee = total − items. Then each item
gets (almost always exactly) its price, and its contributor the licence's royalty share of
it. Totals are per currency; the shares booked by the ledger are what agreements keep.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from datatrust.domain.accounts import Organisation, OrgStatus
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.consent import ConsentEvent, ConsentEventType, ConsentRecord, LicenceOffer
from datatrust.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Problem,
)
from datatrust.domain.ids import id_of
from datatrust.domain.items import CatalogueEntry, CatalogueFilter, Item, ItemStatus
from datatrust.domain.licence import Licence, ReasonCode, ReplicaUse, Use
from datatrust.domain.licence import Organisation as LicenceOrg
from datatrust.domain.money import Money
from datatrust.domain.odrl import Agreement, agreement_to_odrl
from datatrust.domain.orders import AgreementRow, Order, covers, gross_up
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.domain.policy import InstancePolicy
from datatrust.domain.purposes import ACTIONS, INDUSTRIES, OUTPUTS, PURPOSES, TASKS
from datatrust.domain.snapshots import Revocation
from datatrust.domain.territories import is_known_territory
from datatrust.pipeline.regions import (
    REGION_RESOLUTION,
    cell_ranges,
    is_region,
    region_cell,
    within,
)
from datatrust.services.accounts import actor_label
from datatrust.services.licensing import (
    MODEL_ACTIONS,
    RECIPIENTS_CHANGED_JOB,
    Publication,
    Selection,
    approved_for,
    parse_replica_use,
    request_approvals,
    selectable_items,
)
from datatrust.services.listing import paged
from datatrust.services.money import record_sale
from datatrust.services.ports import UnitOfWork, by_ids

log = logging.getLogger(__name__)

MAX_PERIOD_DAYS = 5 * 366


# --- the buyer's organisation ------------------------------------------------------------


Refusal = TypeVar("Refusal", bound=DomainError)


def refuse(
    uow: UnitOfWork,
    actor: Actor,
    tag: AuditTag,
    subject_type: str,
    subject_id: object,
    error: Refusal,
    **data: Any,
) -> Refusal:
    """Audit a refusal in a transaction of its own and return ``error`` to raise.

    Whatever the caller had pending is rolled back first: a refused request changes
    nothing but the audit log.
    """
    uow.rollback()
    uow.record(
        tag,
        actor_label(actor),
        subject_type,
        subject_id,
        reason=error.message,
        code=error.code,
        **data,
    )
    uow.commit()
    return error


def approved_org(
    uow: UnitOfWork, actor: Actor, permission: Permission, *, allow_suspended: bool = False
) -> Organisation:
    """The caller's organisation, if it may act as a buyer now; else refused and audited.

    ``allow_suspended`` is for what a suspended buyer must still do: read its revocation
    feed and attest deletion (suspension must never stop a buyer from complying).
    """
    authorize(actor, permission)
    org = uow.get(Organisation, actor.org_id) if actor.org_id else None
    if org is None:
        raise refuse(
            uow,
            actor,
            AuditTag.BUYER_REFUSE,
            "user",
            actor.user_id,
            PermissionDenied(Problem(None, "organisation.register_to_buy")),
            permission=permission.value,
        )
    ok = org.status is OrgStatus.APPROVED or (allow_suspended and org.status is OrgStatus.SUSPENDED)
    if not ok:
        state = {"state": org.status.value, "reason": org.status_reason or ""}
        code = "organisation.state_reason" if org.status_reason else "organisation.state"
        raise refuse(
            uow,
            actor,
            AuditTag.BUYER_REFUSE,
            "org",
            org.id,
            PermissionDenied(Problem(None, code, state)),
            permission=permission.value,
            status=org.status.value,
        )
    return org


# --- declared uses -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeclaredUse:
    """What a buyer says it will do, for how long. ``use`` is evaluated at ``starts_at``;
    the licence must also last until ``ends_at``."""

    use: Use
    starts_at: datetime
    ends_at: datetime


def use_to_dict(declared: DeclaredUse) -> dict[str, Any]:
    use = declared.use
    return {
        "action": use.action,
        "purpose": use.purpose,
        "industry": use.industry,
        "territory": use.territory,
        "declared_uses": sorted(use.declared_uses),
        "task": use.task,
        "outputs": sorted(use.outputs),
        "replica": use.replica.to_dict() if use.replica is not None else None,
        "starts_at": declared.starts_at.isoformat(),
        "ends_at": declared.ends_at.isoformat(),
        "recipient_org": {"id": use.recipient_org.id, "name": use.recipient_org.name},
    }


def use_from_dict(
    data: Mapping[str, Any], at: datetime | None = None, recipient: LicenceOrg | None = None
) -> Use:
    """The stored use, starting at ``at`` (default: its start) and running to its end.

    ``recipient`` replaces the stored recipient: a build or delivery judges the
    organisation that actually receives the data, not the one named when it was ordered.
    """
    org = data["recipient_org"]
    ends = data.get("ends_at")
    return Use(
        action=data["action"],
        purpose=data["purpose"],
        industry=data["industry"],
        territory=data["territory"],
        recipient_org=recipient or LicenceOrg(org["id"], org["name"]),
        at=as_utc(at or datetime.fromisoformat(data["starts_at"])),
        declared_uses=frozenset(data.get("declared_uses", [])),
        task=data.get("task"),
        outputs=frozenset(data.get("outputs", [])),
        until=as_utc(datetime.fromisoformat(ends)) if isinstance(ends, str) else None,
        replica=_stored_replica(data.get("replica")),
    )


def _stored_replica(data: Any) -> ReplicaUse | None:
    if not isinstance(data, Mapping):
        return None
    return ReplicaUse(
        frozenset(data.get("languages", [])),
        data.get("category"),
        frozenset(data.get("channels", [])),
    )


def _time(value: Any, name: str, problems: list[Problem]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            pass
    problems.append(Problem(name, "date_time_invalid"))
    return None


def parse_declared_use(
    data: Mapping[str, Any],
    org: Organisation,
    *,
    now: datetime | None = None,
    require_model: bool = True,
) -> DeclaredUse:
    """A declared use from request fields; ``InvalidInput`` naming every problem.

    Fields: ``action``, ``purpose``, ``industry``, ``territory`` (codes), ``starts_at``
    (default now), ``ends_at`` (required, after the start, within 5 years),
    ``declared_uses`` (codes), ``task`` and ``outputs`` (what the resulting model will do
    and output; both required for an action that yields a model), ``replica`` (where a
    replica will be used: languages, category, channels). Unknown codes are problems here:
    an order for a use nobody can evaluate is a mistake worth naming, not an empty
    selection. ``require_model`` False is for browsing the catalogue only.
    """
    now = as_utc(now or utcnow())
    problems: list[Problem] = []
    values: dict[str, str] = {}
    for name, vocabulary in (("action", ACTIONS), ("purpose", PURPOSES), ("industry", INDUSTRIES)):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(name, "required"))
        elif value not in vocabulary:
            problems.append(Problem(name, "unknown_code", {"given": value}))
        else:
            values[name] = value
    territory = data.get("territory")
    if not isinstance(territory, str) or not is_known_territory(territory):
        problems.append(Problem("territory", "use.territory_unknown", {"given": repr(territory)}))
    starts = _time(data.get("starts_at"), "starts_at", problems) or now
    ends = _time(data.get("ends_at"), "ends_at", problems)
    if data.get("ends_at") is None:
        problems.append(Problem("ends_at", "use.ends_at_required"))
    elif ends is not None:
        if ends <= starts:
            problems.append(Problem("ends_at", "ends_after_start"))
        elif ends - starts > timedelta(days=MAX_PERIOD_DAYS):
            problems.append(Problem("ends_at", "use.too_long", {"years": MAX_PERIOD_DAYS // 365}))
    declared = data.get("declared_uses") or []
    if not isinstance(declared, list) or not all(isinstance(u, str) for u in declared):
        problems.append(Problem("declared_uses", "list_of_codes"))
        declared = []
    task = data.get("task") or None
    outputs = data.get("outputs") or []
    if not isinstance(outputs, list) or not all(o in OUTPUTS for o in outputs):
        problems.append(Problem("outputs", "use.output_codes"))
        outputs = []
    if require_model and values.get("action") in MODEL_ACTIONS:
        # What the model will do is part of the use (issue 16 §2): without it, "computer
        # vision training" could hide face recognition.
        if task is None:
            problems.append(Problem("task", "use.task_required"))
        if not outputs:
            problems.append(Problem("outputs", "use.outputs_required"))
    if task is not None and task not in TASKS:
        problems.append(Problem("task", "unknown_code", {"given": task}))
    replica = parse_replica_use(data.get("replica"), problems)
    if problems:
        raise InvalidInput(problems)
    assert ends is not None and isinstance(territory, str)
    use = Use(
        action=values["action"],
        purpose=values["purpose"],
        industry=values["industry"],
        territory=territory,
        recipient_org=LicenceOrg(str(org.id), org.legal_name),
        at=starts,
        declared_uses=frozenset(declared),
        task=task,
        outputs=frozenset(outputs),
        until=ends,
        replica=replica,
    )
    return DeclaredUse(use, starts, ends)


def check_use_is_allowed(org: Organisation, use: Use, denied_industries: Sequence[str]) -> None:
    """Refuse uses the organisation did not declare, and industries the instance denies."""
    problems: list[Problem] = []
    denied = INDUSTRIES.matching(use.industry, denied_industries)
    if denied:
        params = {"industry": use.industry, "denied": list(denied)}
        problems.append(Problem("industry", "use.industry_denied", params))
    intended = org.intended_uses or {}
    purposes = [p for p in intended.get("purposes", []) if isinstance(p, str)]
    industries = [i for i in intended.get("industries", []) if isinstance(i, str)]
    if not PURPOSES.matching(use.purpose, purposes):
        params = {"purpose": use.purpose, "declared": purposes}
        problems.append(Problem("purpose", "use.purpose_undeclared", params))
    if not INDUSTRIES.matching(use.industry, industries):
        params = {"industry": use.industry, "declared": list(industries)}
        problems.append(Problem("industry", "use.industry_undeclared", params))
    if problems:
        raise InvalidInput(problems)


# --- selection and quote ------------------------------------------------------------------


def select_for_use(
    uow: UnitOfWork,
    declared: DeclaredUse,
    *,
    now: datetime | None = None,
    denied_industries: Iterable[str] = (),
) -> Selection:
    """Listed items whose licence permits ``declared.use`` from its start until its end,
    and how many were left out for each reason code.

    The rules are ``licences.selectable_items`` (the one definition: failing closed on a
    missing or invalid licence, missing consent, consent under other terms, any denying
    reason, the instance's denied industries), judged at the server's ``now``; an item
    whose licence ends before the period does is left out with
    ``licence_ends_within_period``.
    """
    org_id = declared.use.recipient_org.id
    approved = approved_for(uow, int(org_id), use_to_dict(declared)) if org_id.isdigit() else ()
    selection = selectable_items(
        uow,
        declared.use,
        now,
        until=declared.ends_at,
        denied_industries=denied_industries,
        replica_approved=approved,
    )
    return not_told_to_delete(uow, int(org_id), selection) if org_id.isdigit() else selection


# Why an item is left out of a buyer's selection when that buyer was told to delete it.
TOLD_TO_DELETE = "told_to_delete"


def not_told_to_delete(uow: UnitOfWork, org_id: int, selection: Selection) -> Selection:
    """``selection`` without the items ``org_id`` was told to delete (counted under
    ``told_to_delete``). A notice stands for good, one per buyer and item, and no build
    for that buyer ships the item again: after consent given again the item is on offer
    to others, but never sold to a buyer that must delete it."""
    candidates = [*selection.item_ids, *selection.awaiting_approval]
    told = {
        r.item_id
        for r in by_ids(uow, Revocation, candidates, "item_id", org_id=org_id, superseded_at=None)
    }
    # Received under a consent record that is no longer the item's (withdrawn, and consent
    # given again): that buyer must delete them even while the withdrawal's notice job
    # has not run yet, so it never buys them afresh meanwhile.
    told |= uow.holdings.under_earlier_consent(org_id, candidates)
    if not told:
        return selection
    left_out = [i for i in selection.item_ids if i in told]
    reasons = dict(selection.reasons)
    reasons[TOLD_TO_DELETE] = len(told)
    return Selection(
        [i for i in selection.item_ids if i not in told],
        selection.excluded + len(left_out),
        dict(sorted(reasons.items())),
        [i for i in selection.awaiting_approval if i not in told],
        selection.terms,
    )


@dataclass(frozen=True)
class Line:
    item_id: int
    price: Money
    fee: Money
    contributor_share: Money
    royalty_percent: int = 0


def price_line(item: Item, terms: Licence, fee_percent: int) -> Line:
    """The price of one item under ``terms``; the fee on top; the contributor's share."""
    units = 1
    if terms.price_unit == "minute":
        units = max(1, -(-(item.duration_seconds or 0) // 60))
    price = Money(terms.price_with_surcharge_minor * units, terms.currency)
    return Line(
        id_of(item),
        price,
        Money(gross_up(price.amount_minor, fee_percent), price.currency) - price,
        price.percent(terms.royalty_share_percent),
        terms.royalty_share_percent,
    )


def quote_for(lines: list[Line], fee_percent: int = 0) -> dict[str, Any]:
    """Totals per currency: items, platform fee, what the buyer pays, contributors' share."""
    totals: dict[str, dict[str, int]] = {}
    for line in lines:
        t = totals.setdefault(
            line.price.currency, {"items": 0, "items_minor": 0, "contributors_minor": 0}
        )
        t["items"] += 1
        t["items_minor"] += line.price.amount_minor
        t["contributors_minor"] += line.contributor_share.amount_minor
    for t in totals.values():
        t["total_minor"] = gross_up(t["items_minor"], fee_percent)
        t["fee_minor"] = t["total_minor"] - t["items_minor"]
    return {
        "currencies": dict(sorted(totals.items())),
        "items": len(lines),
        "platform_fee_percent": fee_percent,
    }


def _lines(
    uow: UnitOfWork, items: list[Item], fee_percent: int, known: Mapping[int, Licence]
) -> list[Line]:
    """Each item priced under its offer's licence: from ``known`` (by offer id, what the
    selection judged) where it is there, else read."""
    missing = {i.licence_id for i in items} - set(known)
    terms = {**known, **{id_of(o): o.terms() for o in by_ids(uow, LicenceOffer, missing)}}
    lines = []
    for item in items:
        assert item.licence_id is not None, "a selected item has a licence"
        lines.append(price_line(item, terms[item.licence_id], fee_percent))
    return lines


# --- what the buyer already holds ----------------------------------------------------------

HELD_REASON = "already_licensed"


def held_agreements(
    uow: UnitOfWork, org_id: int, use: Mapping[str, Any], items: list[Item]
) -> dict[int, AgreementRow]:
    """item id → the organisation's earliest agreement still in force that covers ``use``.

    In force: taken under the offer and the consent the item stands under now (a
    withdrawal, an expiry or new terms end it: the item is then bought afresh) and
    covering the use and its whole period (``covers``). ``items`` are items the use may
    select now, so a withdrawn item never reaches this far.
    """
    current = {i.id: i for i in items}
    found: dict[int, AgreementRow] = {}
    rows = by_ids(uow, AgreementRow, current, attr="item_id", org_id=org_id)
    for row in sorted(rows, key=lambda r: r.id or 0):
        item = current[row.item_id]
        if (
            row.item_id not in found
            and row.offer_id == item.licence_id
            and row.consent_id == item.consent_id
            and covers(row.use, use)
        ):
            found[row.item_id] = row
    return found


def held_out(held: Mapping[int, AgreementRow]) -> list[dict[str, Any]]:
    """The quote's ``held`` list: each item already licensed, under which agreement, until
    when, and why it costs nothing."""
    return [
        {
            "item_id": item_id,
            "agreement_id": row.id,
            "order_id": row.order_id,
            "until": row.use.get("ends_at"),
            "reason": HELD_REASON,
            "why": (
                f"already licensed to your organisation for this use until "
                f"{str(row.use.get('ends_at', ''))[:10]} under agreement {row.id} "
                f"(order {row.order_id}); it is not charged again"
            ),
        }
        for item_id, row in sorted(held.items())
    ]


# --- the services ------------------------------------------------------------------------


def declare_order(
    uow: UnitOfWork,
    actor: Actor,
    data: Mapping[str, Any],
    *,
    policy: InstancePolicy,
    now: datetime | None = None,
) -> Order:
    """Declare a use and get its selection, breakdown and quote (stored as an order).

    Refused and audited (``order:refuse``): a use that does not parse (unknown purpose,
    action, industry, territory; bad period), an industry the instance denies, a purpose or
    industry the organisation did not declare. Each selected item gets ``item:select``.
    """
    org = approved_org(uow, actor, Permission.ORDER_CREATE)
    try:
        declared = parse_declared_use(data, org, now=now)
        check_use_is_allowed(org, declared.use, policy.denied_industries)
    except InvalidInput as exc:
        raise refuse(
            uow,
            actor,
            AuditTag.ORDER_REFUSE,
            "org",
            org.id,
            exc,
            problems=[str(p) for p in exc.problems],  # the audit keeps text
            use={k: data.get(k) for k in ("action", "purpose", "industry", "territory")},
        ) from None
    selection = select_for_use(uow, declared, now=now, denied_industries=policy.denied_industries)
    chosen = sorted(by_ids(uow, Item, selection.item_ids), key=id_of)
    use = use_to_dict(declared)
    held = held_agreements(uow, id_of(org), use, chosen)
    new = [i for i in chosen if i.id not in held]
    fee_percent = policy.platform_fee_percent
    lines = _lines(uow, new, fee_percent, selection.terms)
    order = Order(
        org_id=id_of(org),
        created_by=actor.uid,
        use=use,
        item_ids=[id_of(i) for i in new],
        excluded=selection.excluded,
        reasons=selection.reasons,
        quote={**quote_for(lines, fee_percent), "held": held_out(held)},
    )
    uow.add(order)
    uow.flush()
    if selection.awaiting_approval:
        request_approvals(
            uow,
            actor,
            org_id=id_of(org),
            org_name=org.legal_name,
            order_id=order.id,
            use=use,
            item_ids=selection.awaiting_approval,
        )
    uow.record(
        AuditTag.ORDER_DECLARE,
        actor_label(actor),
        "order",
        order.id,
        org_id=org.id,
        use=order.use,
        selected=len(order.item_ids),
        held=sorted(held),
        excluded=order.excluded,
        reasons=order.reasons,
    )
    use_summary = _use_summary(order.use)
    for item_id in order.item_ids:
        uow.record(
            AuditTag.ITEM_SELECT,
            actor_label(actor),
            "item",
            item_id,
            order_id=order.id,
            org_id=org.id,
            org_name=org.legal_name,
            use=use_summary,
        )
    uow.commit()
    return order


def _use_summary(use: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("action", "purpose", "industry", "territory", "starts_at", "ends_at")
    return {k: use[k] for k in keys}


def get_order(uow: UnitOfWork, actor: Actor, order_id: int) -> Order:
    order = uow.get(Order, order_id)
    authorize(actor, Permission.ORDER_READ, order or MISSING)
    assert order is not None
    return order


def list_orders(uow: UnitOfWork, actor: Actor) -> list[Order]:
    org = approved_org(uow, actor, Permission.ORDER_READ, allow_suspended=True)
    return uow.all(Order, org_id=org.id, order_by="-id")


def purchase_order(
    uow: UnitOfWork,
    actor: Actor,
    order_id: int,
    *,
    policy: InstancePolicy,
    now: datetime | None = None,
) -> tuple[Order, list[AgreementRow]]:
    """Buy a quoted order: one agreement per item, the sale recorded, ``item:sell`` each.

    Every item is evaluated again now (a withdrawal since the quote must win); items no
    longer allowed are left out and the order's quote is restated. Buying twice is a
    ``Conflict``. ``money.record_sale`` books the sale in
    the same transaction.
    """
    order = uow.get_for_update(Order, order_id)
    authorize(actor, Permission.ORDER_CREATE, order or MISSING)
    assert order is not None
    org = approved_org(uow, actor, Permission.ORDER_CREATE)
    # One purchase per organisation at a time: two quotes for the same use bought at once
    # would each see the other's items as not yet held and charge them twice.
    uow.get_for_update(Organisation, org.id)
    if order.bought:
        raise Conflict(
            Problem(None, "order.already_bought", {"order": order.id}), {"order_id": order.id}
        )
    moment = as_utc(now or utcnow())
    fee_percent = policy.platform_fee_percent
    still = _still_allowed(uow, order, org, moment, policy.denied_industries)
    # Items bought since the quote (another order for the same use) are held now.
    held = {
        **{h["item_id"]: h for h in order.quote.get("held", [])},
        **{h["item_id"]: h for h in held_out(held_agreements(uow, id_of(org), order.use, still))},
    }
    still = [i for i in still if i.id not in held]
    if not still:
        why = (
            Conflict(
                Problem(None, "order.all_held"),
                {"order_id": order.id, "held": sorted(held)},
            )
            if held
            else Conflict(Problem(None, "order.none_buyable"))
        )
        raise refuse(uow, actor, AuditTag.ORDER_REFUSE, "order", order.id, why)
    offers = {id_of(o): o for o in by_ids(uow, LicenceOffer, {i.licence_id for i in still})}
    agreements: list[AgreementRow] = []
    lines: list[Line] = []
    use_summary = _use_summary(order.use)
    for item in still:
        offer_id = item.licence_id
        assert offer_id is not None  # only licensed items are ever selected
        terms = offers[offer_id].terms()
        line = price_line(item, terms, fee_percent)
        lines.append(line)
        agreement = AgreementRow(
            order_id=id_of(order),
            org_id=id_of(org),
            item_id=id_of(item),
            contributor_id=item.owner_id,
            offer_id=offer_id,
            consent_id=item.consent_id,
            licence=terms.to_dict(),
            use=order.use,
            price_minor=line.price.amount_minor,
            fee_minor=line.fee.amount_minor,
            contributor_share_minor=line.contributor_share.amount_minor,
            currency=line.price.currency,
            content_sha256=item.deidentified_sha256 or item.original_sha256,
            agreed_at=moment,
        )
        uow.add(agreement)
        agreements.append(agreement)
    uow.flush()
    order.item_ids = [a.item_id for a in agreements]
    order.quote = {**quote_for(lines, fee_percent), "held": [held[k] for k in sorted(held)]}
    order.mark_purchased(moment)
    _record_sale(uow, actor, order, agreements, lines, fee_percent)
    for agreement in agreements:
        uow.record(
            AuditTag.ITEM_SELL,
            actor_label(actor),
            "item",
            agreement.item_id,
            order_id=order.id,
            agreement_id=agreement.id,
            org_id=org.id,
            org_name=org.legal_name,
            use=use_summary,
            price_minor=agreement.price_minor,
            fee_minor=agreement.fee_minor,
            contributor_share_minor=agreement.contributor_share_minor,
            currency=agreement.currency,
        )
    uow.record(
        AuditTag.ORDER_PURCHASE,
        actor_label(actor),
        "order",
        order.id,
        org_id=org.id,
        items=len(agreements),
        quote=order.quote,
    )
    if agreements:
        # Each contributor's consent receipt names who received the data: a new receipt,
        # after commit, listing this buyer too (ISO/IEC TS 27560 third-party disclosure).
        uow.enqueue(
            RECIPIENTS_CHANGED_JOB,
            {"org_id": org.id, "item_ids": sorted(a.item_id for a in agreements)},
            key=f"{RECIPIENTS_CHANGED_JOB}:order:{order.id}",
        )
    uow.commit()
    return order, agreements


def _still_allowed(
    uow: UnitOfWork,
    order: Order,
    org: Organisation,
    now: datetime,
    denied_industries: Iterable[str],
) -> list[Item]:
    """The order's items that its use may still take now, by the same rules as the
    selection (``licences.selectable_items``, restricted to the order's items), for the
    organisation that buys (the licensee the agreements will name)."""
    use = use_from_dict(order.use, recipient=LicenceOrg(str(org.id), org.legal_name))
    ends = as_utc(datetime.fromisoformat(order.use["ends_at"]))
    still = not_told_to_delete(
        uow,
        id_of(org),
        selectable_items(
            uow,
            use,
            now,
            until=ends,
            among=order.item_ids,
            denied_industries=denied_industries,
            replica_approved=approved_for(uow, id_of(org), order.use),
        ),
    )
    return sorted(by_ids(uow, Item, still.item_ids), key=id_of)


def _record_sale(
    uow: UnitOfWork,
    actor: Actor,
    order: Order,
    agreements: list[AgreementRow],
    lines: list[Line],
    fee_percent: int,
) -> None:
    """Book the sale in the ledger, one entry per currency (keyed by order, so never twice),
    and keep on each agreement the fee part and contributor share the ledger booked.
    """
    by_currency: dict[str, list[tuple[AgreementRow, Line]]] = {}
    for agreement, line in zip(agreements, lines, strict=True):
        by_currency.setdefault(line.price.currency, []).append((agreement, line))
    for currency, pairs in sorted(by_currency.items()):
        price = Money(order.quote["currencies"][currency]["total_minor"], currency)
        split = record_sale(
            uow,
            order.org_id,
            price,
            [(a.contributor_id, ln.price, ln.royalty_percent, a.item_id) for a, ln in pairs],
            f"order-{order.id}-{currency}",
            platform_fee_percent=fee_percent,
            actor=actor_label(actor),
        )
        for (agreement, _), sale_line in zip(pairs, split.lines, strict=True):
            agreement.contributor_share_minor = sale_line.contributor_share.amount_minor


def agreements_of(uow: UnitOfWork, actor: Actor, order_id: int) -> list[AgreementRow]:
    order = get_order(uow, actor, order_id)
    return uow.all(AgreementRow, order_id=order.id, order_by="id")


def agreement_odrl(
    uow: UnitOfWork,
    actor: Actor,
    agreement_id: int,
    publication: Publication,
    *,
    licence_version: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """One agreement as ODRL 2.2 JSON-LD: the contributor assigner, the buyer assignee,
    the item the target of every rule. With ``licence_version`` (the licence id and
    version of the agreement's IRI, ``InstanceIris.agreement``) an agreement made under
    another licence version is ``NotFound``, so only its own IRI resolves."""
    row = uow.get(AgreementRow, agreement_id)
    authorize(actor, Permission.ORDER_READ, row or MISSING)
    assert row is not None
    if licence_version is not None:
        terms = row.terms()
        if (terms.id, terms.version) != licence_version:
            raise NotFound(Problem(None, "agreement.other_version", {"agreement": agreement_id}))
    use = use_from_dict(row.use)
    agreement = Agreement(
        licence=row.terms(),
        assignee=use.recipient_org,
        use=use,
        agreed_at=row.agreed_at,
        id=row.id or 0,
    )
    return agreement_to_odrl(
        agreement,
        publication.iris,
        assigner=publication.person(row.contributor_id),
        target=publication.iris.item(row.item_id),
    )


# --- the catalogue -------------------------------------------------------------------------

CATALOGUE_SAMPLE = 5


# The reasons that judge one facet of a use. A catalogue search judges only the facets the
# buyer chose (one facet alone narrows the list); an order declares and judges them all.
FACET_REASONS: dict[str, frozenset[ReasonCode]] = {
    "action": frozenset({ReasonCode.ACTION_UNKNOWN, ReasonCode.ACTION_NOT_PERMITTED}),
    "purpose": frozenset(
        {
            ReasonCode.PURPOSE_UNKNOWN,
            ReasonCode.PURPOSE_NOT_PERMITTED,
            ReasonCode.PURPOSE_PROHIBITED,
        }
    ),
    "industry": frozenset(
        {
            ReasonCode.INDUSTRY_UNKNOWN,
            ReasonCode.INDUSTRY_PROHIBITED,
            ReasonCode.INDUSTRY_DENIED_BY_INSTANCE,
        }
    ),
    "territory": frozenset(
        {
            ReasonCode.TERRITORY_UNKNOWN,
            ReasonCode.TERRITORY_NOT_COVERED,
            ReasonCode.TERRITORY_EXCLUDED,
        }
    ),
}
# A stand-in for a facet left empty, so the chosen ones are checked as an order's are;
# the stand-in itself is never judged (its reasons are in ``FACET_REASONS``).
_STAND_IN = {"action": "train", "purpose": "model_training", "industry": "technology"}


def _catalogue_use(
    filters: Mapping[str, Any], org: Organisation, moment: datetime
) -> tuple[Use, frozenset[ReasonCode]]:
    """The use a catalogue search judges listed items by (a day's use of the facets the
    buyer chose, stand-ins for the others) and the reason codes it leaves unjudged (those
    of the facets not chosen). A chosen facet with an unknown code is an ``InvalidInput``
    naming it."""
    chosen = {k: filters[k] for k in FACET_REASONS if filters.get(k)}
    data = {**_STAND_IN, "territory": "GB", **chosen}
    data["ends_at"] = (moment + timedelta(days=1)).isoformat()
    # Browsing filters by the licence's terms; an order states the model.
    use = parse_declared_use(data, org, now=moment, require_model=False).use
    left = [k for k in FACET_REASONS if k not in chosen]
    # An empty stand-in implies no use, so only the chosen facets imply any.
    blanks: dict[str, Any] = dict.fromkeys(left, "")
    use = replace(use, **blanks)
    return use, frozenset().union(*(FACET_REASONS[k] for k in left))


def _priced_within(terms: Licence, filters: Mapping[str, Any]) -> bool:
    """Whether an offer's ``terms`` meet the search's ``max_price_minor`` (and, with it,
    its ``currency``); any offer does when no price is asked for."""
    if filters.get("max_price_minor") is None:
        return True
    return terms.price_with_surcharge_minor <= int(filters["max_price_minor"]) and not (
        filters.get("currency") and terms.currency != filters["currency"]
    )


def _catalogue_filter(filters: Mapping[str, Any], priced: frozenset[int] | None) -> CatalogueFilter:
    """The filters a search narrows the items on offer by in the database: ``priced``
    the offers whose price it admits (None: any)."""
    shortest, longest = filters.get("min_duration"), filters.get("max_duration")
    quality, region = filters.get("min_quality"), filters.get("region")
    return CatalogueFilter(
        kind=filters.get("kind") or None,
        language=filters.get("language") or None,
        min_duration=None if shortest is None else int(shortest),
        max_duration=None if longest is None else int(longest),
        min_quality=None if quality is None else float(quality),
        cells=cell_ranges(str(region)) if region else None,
        licence_ids=priced,
    )


def _terms_of(uow: UnitOfWork, selection: Selection, ids: Iterable[int]) -> dict[int, Licence]:
    """The terms of the licence offers ``ids``: as ``selection`` judged them, without
    reading the offers again (it judged the offer of every item it selected); an offer it
    did not judge, or found invalid, is read (and its terms raise as they always did)."""
    wanted = set(ids)
    judged = {k: terms for k in wanted if (terms := selection.terms.get(k)) is not None}
    unread = by_ids(uow, LicenceOffer, wanted - judged.keys())
    return judged | {id_of(offer): offer.terms() for offer in unread}


def catalogue(
    uow: UnitOfWork,
    actor: Actor,
    filters: Mapping[str, Any],
    *,
    now: datetime | None = None,
    page: int | None = None,
) -> dict[str, Any]:
    """Counts, facets, aggregates and a small de-identified sample of the items on offer;
    with ``page`` (from 1), that page of all of them instead (``listing.PAGE_SIZE`` a
    page, in the same de-identified form), and ``page`` and ``pages``.

    An item is on offer when ``licences.selectable_items`` (the one definition an order's
    selection uses too) would select it for a day's use of the facets chosen (``action``,
    ``purpose``, ``industry``, ``territory``; the others are not judged). Further filters
    (all optional): ``kind``, ``language``, ``min_duration``/``max_duration`` (seconds),
    ``region`` (an H3 cell; items inside it), ``min_quality``, ``max_price_minor`` with
    ``currency``. Nothing raw and no item ids are returned: the sample shows kind,
    duration, a coarse region, language, quality, price and terms. A ``region`` finer than
    ``REGION_RESOLUTION`` (or not an H3 cell) is an ``InvalidInput``: searching by it
    would reveal the finer cell an item is stored under.
    """
    org = approved_org(uow, actor, Permission.CATALOGUE_READ)
    if filters.get("region") and not is_region(filters["region"]):
        limit = {"maximum": REGION_RESOLUTION}
        raise InvalidInput(Problem("region", "catalogue.region_too_fine", limit))
    moment = as_utc(now or utcnow())
    use, unjudged = _catalogue_use(filters, org, moment)
    selection = selectable_items(uow, use, moment, unjudged=unjudged)
    on_offer = selection.item_ids
    # The database narrows by the item columns, the area (ranges of the cell column)
    # included; no item or report is loaded. A price is in each offer's terms, so with a
    # price asked for, the offers of the items on offer are judged first (a few, against
    # many items) and the database keeps the items of the offers that pass.
    listed = str(ItemStatus.LISTED)
    priced = None
    licences: dict[int, Licence] = {}
    if filters.get("max_price_minor") is not None:
        licences = _terms_of(uow, selection, uow.selection.licences_of(listed, on_offer))
        priced = frozenset(k for k, terms in licences.items() if _priced_within(terms, filters))
    entries = uow.selection.entries(listed, on_offer, _catalogue_filter(filters, priced))
    missing = {e.licence_id for e in entries if e.licence_id is not None} - licences.keys()
    licences |= _terms_of(uow, selection, missing)
    region = filters.get("region")
    matched: list[tuple[CatalogueEntry, Licence]] = []
    for item in entries:
        assert item.licence_id is not None  # only licensed items are ever on offer
        # The ranges hold every canonical cell inside the area; this keeps the exact
        # rule for any stored cell that is not canonical.
        if region and not within(item.h3_cell, region):
            continue
        matched.append((item, licences[item.licence_id]))
    facets: dict[str, Counter[str]] = {
        "kind": Counter(),
        "language": Counter(),
        "region": Counter(),
        "licence": Counter(),
        "currency": Counter(),
    }
    prices: dict[str, list[int]] = {}
    total_duration = 0
    for item, terms in matched:
        facets["kind"][item.kind.value] += 1
        facets["language"][item.language or "unknown"] += 1
        facets["region"][region_cell(item.h3_cell) or "unknown"] += 1
        facets["licence"][terms.title] += 1
        facets["currency"][terms.currency] += 1
        prices.setdefault(terms.currency, []).append(terms.price_with_surcharge_minor)
        total_duration += item.duration_seconds or 0
    shown = paged(matched, page) if page is not None else None
    sample = [
        {
            "kind": item.kind.value,
            "duration_seconds": item.duration_seconds,
            "region": region_cell(item.h3_cell),
            "language": item.language,
            "quality": item.quality_score,
            "price_minor": terms.price_with_surcharge_minor,
            "currency": terms.currency,
            "price_unit": terms.price_unit,
            "licence": {
                "title": terms.title,
                "permitted_purposes": sorted(terms.permitted_purposes),
                "permitted_actions": sorted(terms.permitted_actions),
                "valid_until": terms.valid_until.isoformat(),
            },
        }
        for item, terms in (shown.rows if shown else matched[:CATALOGUE_SAMPLE])
    ]
    pages = {"page": shown.page, "pages": shown.pages} if shown else {}
    return {
        **pages,
        "count": len(matched),
        "facets": {name: dict(sorted(c.items())) for name, c in facets.items()},
        "aggregates": {
            "total_duration_seconds": total_duration,
            "price_minor": {
                cur: {"min": min(v), "max": max(v), "sum": sum(v), "count": len(v)}
                for cur, v in sorted(prices.items())
            },
        },
        "sample": sample,
    }


def notice_ends_at(uow: UnitOfWork, agreement: AgreementRow) -> datetime | None:
    """When a withdrawal takes effect for this agreement's buyer: the withdrawal of the
    consent the agreement was made under plus the licence's ``withdrawal_notice_days``.
    None when nothing was withdrawn or no notice was promised (the withdrawal is effective
    at once), so callers fail closed on anything else."""
    days = notice_days(agreement)
    if days <= 0 or agreement.consent_id is None:
        return None
    withdrawn = uow.all(
        ConsentEvent,
        consent_id=agreement.consent_id,
        type=ConsentEventType.WITHDRAWN,
        order_by="-seq",
        limit=1,
    )
    return as_utc(withdrawn[0].at) + timedelta(days=days) if withdrawn else None


def notice_ends_from(agreement: AgreementRow, made_under: ConsentRecord | None) -> datetime | None:
    """``notice_ends_at`` from the record of the consent the agreement was made under
    (``agreement.consent_id``), already read with its events: no statement, for callers
    that judge many agreements at once. ``made_under`` None: no withdrawal is known."""
    days = notice_days(agreement)
    if days <= 0 or agreement.consent_id is None or made_under is None:
        return None
    assert made_under.id == agreement.consent_id, "the record the agreement was made under"
    withdrawn = [e for e in made_under.events if e.type == ConsentEventType.WITHDRAWN]
    latest = max(withdrawn, key=lambda e: e.seq, default=None)
    return as_utc(latest.at) + timedelta(days=days) if latest is not None else None


def notice_days(agreement: AgreementRow) -> int:
    """The days of notice the agreement's licence promised after a withdrawal (0: none)."""
    return int(agreement.licence.get("withdrawal_notice_days", 0) or 0)
