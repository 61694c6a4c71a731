"""Campaigns: create, open, close, read; coverage of ambient audio per H3 cell; review.

Reviewing: in a ``peer`` campaign other contributors vote on each accepted item (listed at
two up-votes with more up than down, rejected by the mirror rule); in an ``operator``
campaign one operator's vote decides. Either way the reviewer sees only the de-identified
version, never the original, and never who contributed it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import h3

from datatrust.domain.accounts import Organisation, OrgStatus
from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import (
    PEER_MIN_UP_VOTES,
    Campaign,
    CampaignPayTerms,
    CampaignState,
    PayBasis,
    ReviewMode,
    ReviewVote,
    peer_verdict,
    units_per_item,
)
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Problem,
)
from datatrust.domain.ids import id_of
from datatrust.domain.items import (
    UNDECIDED_REVIEWS,
    Item,
    ItemKind,
    ItemStatus,
    ReviewDecider,
    ReviewState,
)
from datatrust.domain.ledger import AccountRef
from datatrust.domain.money import CurrencyMismatch, Money
from datatrust.domain.notifications import NoticeKind
from datatrust.domain.payfloor import PayFloorCheck, PayFloors, check_pay_floor
from datatrust.domain.permissions import MISSING, Actor, Permission, Role, authorize, can
from datatrust.services import money
from datatrust.services.accounts import actor_label, money_params, notify
from datatrust.services.jobs import JobContext, job
from datatrust.services.listing import Paged, matches, paged, paged_by_query
from datatrust.services.ports import UnitOfWork
from datatrust.services.storage import EncryptedStorage

log = logging.getLogger(__name__)

COVERED = (ItemStatus.ACCEPTED, ItemStatus.LISTED)
# Queued by every acceptance in a campaign with pay terms; handled by the pay-floor
# service (``payfloor.recheck_job``), which imports this module, never the other way.
E = TypeVar("E", bound=StrEnum)

PAY_FLOOR_RECHECK_JOB = "payfloor.recheck"
MAX_EXPECTED_MINUTES = 24 * 60


def _enum(enum_cls: type[E], value: str, name: str, problems: list[Problem]) -> E | None:
    try:
        return enum_cls(value)
    except ValueError:
        problems.append(Problem(name, "one_of", {"choices": [m.value for m in enum_cls]}))
        return None


def create_campaign(
    uow: UnitOfWork,
    actor: Actor,
    *,
    title: str,
    kind: str,
    rate_minor: int,
    currency: str,
    quota: int,
    pay_basis: str = "per_item",
    description: str = "",
    spec: dict[str, Any] | None = None,
    review_window_days: int = 7,
    licence_template: str = "training_only",
    review_mode: str = "peer",
    coverage_bonus_minor: int = 0,
    expected_minutes_per_item: int | None = None,
    country: str | None = None,
) -> Campaign:
    """A new campaign in ``draft``, run by the caller's organisation (a buyer, whose
    organisation must be approved) or by the platform (an operator).

    ``expected_minutes_per_item`` (effort per unit of pay) is needed before it can open:
    the pay floor is checked against it; ``country`` picks a per-country floor."""
    authorize(actor, Permission.CAMPAIGN_CREATE)
    org_id = None
    if actor.role is not Role.OPERATOR:
        org = uow.get(Organisation, actor.org_id) if actor.org_id else None
        if org is None or org.status is not OrgStatus.APPROVED:
            raise PermissionDenied(Problem(None, "campaign.org_not_approved"))
        org_id = org.id
    problems: list[Problem] = []
    item_kind = _enum(ItemKind, kind, "kind", problems)
    basis = _enum(PayBasis, pay_basis, "pay_basis", problems)
    mode = _enum(ReviewMode, review_mode, "review_mode", problems)
    if expected_minutes_per_item is not None and (
        type(expected_minutes_per_item) is not int
        or not 1 <= expected_minutes_per_item <= MAX_EXPECTED_MINUTES
    ):
        limits = {"minimum": 1, "maximum": MAX_EXPECTED_MINUTES}
        problems.append(Problem("expected_minutes_per_item", "between", limits))
    if country is not None and (len(country) != 2 or not country.isalpha()):
        problems.append(Problem("country", "organisation.country_invalid"))
    if problems:
        raise InvalidInput(problems)
    # Each value _enum could not read added a problem.
    assert item_kind is not None and basis is not None and mode is not None
    campaign = Campaign(
        created_by=actor.user_id or 0,
        org_id=org_id,
        title=title.strip(),
        description=description.strip()[:5000],
        kind=item_kind,
        spec=dict(spec or {}),
        pay_basis=basis,
        rate_minor=rate_minor,
        currency=currency,
        quota=quota,
        review_window_days=review_window_days,
        licence_template=licence_template,
        review_mode=mode,
        coverage_bonus_minor=coverage_bonus_minor,
    )
    uow.add(campaign)
    uow.flush()
    if expected_minutes_per_item is not None:
        uow.add(
            CampaignPayTerms(
                campaign_id=campaign.id or 0,
                expected_minutes_per_item=expected_minutes_per_item,
                country=country.upper() if country else None,
            )
        )
    uow.record(
        AuditTag.CAMPAIGN_CREATE,
        actor_label(actor),
        "campaign",
        campaign.id,
        kind=item_kind.value,
        org_id=org_id,
    )
    uow.commit()
    return campaign


def _managed(uow: UnitOfWork, actor: Actor, campaign_id: int) -> Campaign:
    campaign = uow.get_for_update(Campaign, campaign_id)
    authorize(actor, Permission.CAMPAIGN_CREATE)
    if campaign is None or not can(actor, Permission.CAMPAIGN_CREATE, campaign.manager):
        raise NotFound(Problem(None, "campaign.not_found"))
    return campaign


def open_campaign(uow: UnitOfWork, actor: Actor, campaign_id: int, floors: PayFloors) -> Campaign:
    """draft → open: contributors can see it and upload to it.

    Refused (``PermissionDenied``) while the organisation running it is not approved
    (suspended or rejected); (``InvalidInput``) while the campaign states no expected
    effort or its rate does not meet the pay floor for that effort, and (``Conflict``)
    while its escrow holds less than ``quota × rate + quota × coverage bonus`` (a platform
    campaign's is funded by an operator). Those two errors name the shortfall."""
    campaign = _managed(uow, actor, campaign_id)
    opened = campaign.allow("open")
    money.check_org_runs_campaigns(uow, campaign)
    _check_pay_floor(uow, campaign, floors)
    _check_escrow(uow, campaign)
    campaign.move_to(opened)
    uow.record(AuditTag.CAMPAIGN_OPEN, actor_label(actor), "campaign", campaign.id)
    uow.commit()
    return campaign


def pay_floor_check(uow: UnitOfWork, campaign: Campaign, floors: PayFloors) -> PayFloorCheck | None:
    """The campaign's current rate checked against the pay floor for the effort it states
    (``expected_minutes_per_item``): its hourly rate, the floor, the least rate that meets
    it. None when the campaign states no effort (it cannot open then). Opening a campaign
    and every page that shows its hourly rate use this, so the two never differ."""
    terms = uow.get(CampaignPayTerms, campaign.id)
    if terms is None:
        return None
    return check_terms(campaign.rate, terms.expected_minutes_per_item, terms.country, floors)


def check_terms(
    rate: Money, expected_minutes: int, country: str | None, floors: PayFloors
) -> PayFloorCheck:
    """A rate for ``expected_minutes`` of effort against the floor for ``country``: what
    ``pay_floor_check`` judges a campaign by, for terms not yet saved (the campaign form's
    live check). ``CurrencyMismatch`` for a rate in another currency than the floor."""
    return check_pay_floor(rate, expected_minutes, country, floors)


def _check_pay_floor(uow: UnitOfWork, campaign: Campaign, floors: PayFloors) -> None:
    check = pay_floor_check(uow, campaign, floors)
    if check is None:
        raise InvalidInput(Problem("expected_minutes_per_item", "campaign.effort_required"))
    terms = uow.get(CampaignPayTerms, campaign.id)
    assert terms is not None  # pay_floor_check found them
    if not check.meets_floor:
        unit = "item" if campaign.pay_basis is PayBasis.PER_ITEM else "minute"
        params = {
            "rate": campaign.rate,
            "minutes": terms.expected_minutes_per_item,
            "hourly": check.hourly_rate,
            "floor": check.floor,
            "minimum": check.minimum_rate_per_item,
            "more": check.minimum_rate_per_item - campaign.rate,
        }
        raise InvalidInput(
            Problem("rate_minor", f"campaign.below_pay_floor_per_{unit}", params),
            shortfall_minor=(check.minimum_rate_per_item - campaign.rate).amount_minor,
        )


def _check_escrow(uow: UnitOfWork, campaign: Campaign) -> None:
    # Platform campaigns too: an operator funds them (money.fund_campaign_escrow).
    needed = money.required_escrow(campaign)
    held = money.escrow_balance(uow, campaign.id or 0, campaign.currency)
    if held < needed:
        params = {"held": held, "needed": needed, "quota": campaign.quota, "rate": campaign.rate}
        raise Conflict(
            Problem(None, "campaign.escrow_short", params | {"more": needed - held}),
            {
                "escrow_balance": money.money_out(held),
                "required": money.money_out(needed),
                "shortfall": money.money_out(needed - held),
            },
        )


def close_campaign(uow: UnitOfWork, actor: Actor, campaign_id: int) -> Campaign:
    """→ closed: no more uploads; items already received are still processed and reviewed.

    What is left in escrow returns to the buyer, less what the items still waiting for
    review may be owed; that part returns once the last of them is decided."""
    campaign = _managed(uow, actor, campaign_id)
    campaign.move_to(campaign.allow("close"))
    uow.record(AuditTag.CAMPAIGN_CLOSE, actor_label(actor), "campaign", campaign.id)
    release_escrow_left(uow, campaign, actor=actor_label(actor))
    uow.commit()
    return campaign


def pause_campaign(uow: UnitOfWork, actor: Actor, campaign_id: int) -> Campaign:
    """open → paused: no new uploads, and it leaves contributors' task lists; work already
    received is still reviewed and paid from escrow, which stays held."""
    campaign = _managed(uow, actor, campaign_id)
    campaign.move_to(campaign.allow("pause"))
    uow.record(AuditTag.CAMPAIGN_PAUSE, actor_label(actor), "campaign", campaign.id)
    uow.commit()
    return campaign


def resume_campaign(uow: UnitOfWork, actor: Actor, campaign_id: int, floors: PayFloors) -> Campaign:
    """paused → open, its pay checked against the floor as an opening is (and refused, as
    an opening is, while its organisation is not approved). Escrow is not
    checked again for the whole quota (work already paid used some of it): each
    acceptance is still refused when escrow cannot pay it."""
    campaign = _managed(uow, actor, campaign_id)
    resumed = campaign.allow("resume")
    money.check_org_runs_campaigns(uow, campaign)
    _check_pay_floor(uow, campaign, floors)
    campaign.move_to(resumed)
    uow.record(AuditTag.CAMPAIGN_RESUME, actor_label(actor), "campaign", campaign.id)
    uow.commit()
    return campaign


_IN_FLIGHT = [ItemStatus.RECEIVED, ItemStatus.VALIDATED, ItemStatus.PROCESSED]


def item_pay(campaign: Campaign, item: Item) -> Money:
    """What an accepted item earns for the work: the rate in its terms (or the campaign's,
    if a pay-floor recheck raised it since) per item, or per minute counted by the second
    (rounded up to the currency's minor unit). A coverage
    bonus is paid apart (``coverage_bonus_for``)."""
    return pay_at(campaign, item, max(_terms_rate_of(campaign, item), campaign.rate_minor))


def _terms_rate_of(campaign: Campaign, item: Item) -> int:
    """The rate in ``item``'s terms (the campaign's, for an item accepted without any)."""
    return campaign.rate_minor if item.terms_rate_minor is None else item.terms_rate_minor


def pay_at(campaign: Campaign, item: Item, rate_minor: int) -> Money:
    """``item``'s pay at ``rate_minor``: per item, or per minute of recording counted by the
    second and rounded up to the minor unit (8 s at 50 cents a minute: 7 cents)."""
    if campaign.pay_basis is PayBasis.PER_MINUTE:
        return Money(-(-rate_minor * int(item.duration_seconds or 0) // 60), campaign.currency)
    return Money(rate_minor, campaign.currency)


def coverage_bonus_for(uow: UnitOfWork, campaign: Campaign, item: Item) -> Money:
    """The coverage bonus an accepted ambient item earns: the campaign's bonus when the
    pipeline found its H3 cell uncovered and still no other item from that cell has been
    listed (the first one accepted gets it); zero otherwise. A cell's bonus is paid once
    ever, under the key ``coverage_bonus_key(cell)``: on PostgreSQL two acceptances racing
    for the same cell cannot both post it (the key is unique), and a cell whose first item
    was later withdrawn does not pay again."""
    promised = item.terms_bonus_minor or 0
    if not promised or item.kind is not ItemKind.AMBIENT or not item.h3_cell:
        return Money.zero(campaign.currency)
    if uow.ledger.entry(coverage_bonus_key(item.h3_cell)) is not None:
        return Money.zero(campaign.currency)
    others = uow.count(Item, kind=ItemKind.AMBIENT, status=ItemStatus.LISTED, h3_cell=item.h3_cell)
    if others - (item.status is ItemStatus.LISTED) > 0:
        return Money.zero(campaign.currency)
    return Money(min(promised, campaign.coverage_bonus_minor), campaign.currency)


def coverage_bonus_key(h3_cell: str) -> str:
    return f"coverage-bonus:{h3_cell}"


def topups_due(uow: UnitOfWork, campaign: Campaign) -> list[tuple[Item, str, Money]]:
    """(item, entry key, amount) for every item paid below the campaign's current rate
    whose difference is not booked yet."""
    ledger = uow.ledger
    due = []
    for item in uow.all(Item, order_by="id", campaign_id=campaign.id, status=ItemStatus.LISTED):
        key = f"floor-topup:{item.id}:{campaign.rate_minor}"
        paid = ledger.entry(f"item-pay:{item.id}")
        if paid is None or ledger.entry(key) is not None:
            continue
        payable = AccountRef.contributor_payable(item.owner_id, campaign.currency)
        owed = item_pay(campaign, item) - _paid_for_work(campaign, item, paid.amount_for(payable))
        if owed.is_positive:
            due.append((item, key, owed))
    return due


def _paid_for_work(campaign: Campaign, item: Item, paid: Money) -> Money:
    """What an ``item-pay:<id>`` entry paid for the work alone. Items accepted before the
    coverage bonus had its own entry were paid their terms' rate *plus* the promised
    bonus in that one entry (and have no ``bonus_paid_minor``); the bonus part is not work
    pay, so a top-up must not count it."""
    promised = Money(item.terms_bonus_minor or 0, campaign.currency)
    if promised.is_positive and item.bonus_paid_minor is None:
        at_terms = pay_at(campaign, item, _terms_rate_of(campaign, item))
        if paid == at_terms + promised:
            return at_terms
    return paid


def pay_floor_topups(uow: UnitOfWork, campaign: Campaign) -> Money:
    """Pay every item already paid below the campaign's current rate the difference from
    escrow (``floor-topup:<item>:<rate>``, once each), as far as escrow holds it; returns
    what is still owed for want of escrow. Does not commit."""
    escrow = AccountRef.escrow(campaign.id or 0, campaign.currency)
    unpaid = Money.zero(campaign.currency)
    for item, key, owed in topups_due(uow, campaign):
        if uow.ledger.balance(escrow) < owed:
            unpaid = unpaid + owed
            continue
        money.pay_from_escrow(
            uow,
            campaign.id or 0,
            item.owner_id,
            owed,
            item.id or 0,
            key=key,
            kind="floor_topup",
            memo=f"Pay-floor top-up for item {item.id} (rate now {campaign.rate})",
            tag=AuditTag.PAYFLOOR_TOPUP,
            rate_minor=campaign.rate_minor,
        )
    return unpaid


def _queue_pay_floor_recheck(uow: UnitOfWork, campaign_id: int, item_id: int) -> None:
    """Work was accepted: the pay-floor service rechecks the campaign's rate against its
    measured effort after commit (``payfloor.recheck_job``, which does nothing until
    enough submissions qualify or once it has rechecked), for campaigns with pay terms
    not rechecked yet. Does not commit."""
    terms = uow.get(CampaignPayTerms, campaign_id)
    if terms is not None and terms.rechecked_at is None:
        key = f"{PAY_FLOOR_RECHECK_JOB}:{campaign_id}:item:{item_id}"
        uow.enqueue(PAY_FLOOR_RECHECK_JOB, {"campaign_id": campaign_id}, key=key)


def release_escrow_left(uow: UnitOfWork, campaign: Campaign, *, actor: str = "system") -> Money:
    """For a closed campaign, return escrow to the buyer (the platform, for its own
    campaigns), keeping what items still waiting for review (or still in the pipeline, at
    the most an item can earn) may be owed. Pay-floor top-ups owed to work already paid
    are paid first, and what escrow cannot pay of them yet is kept too. Once nothing is
    pending, the rest returns. Idempotent; does not commit."""
    if campaign.state is not CampaignState.CLOSED:
        return Money.zero(campaign.currency)
    keep = pay_floor_topups(uow, campaign) + _kept_for_pending(uow, campaign)
    return money.close_campaign_escrow(
        uow,
        campaign.id or 0,
        campaign.org_id,
        currency=campaign.currency,
        keep=keep,
        final=not keep.is_positive,
        actor=actor,
    )


def _kept_for_pending(uow: UnitOfWork, campaign: Campaign) -> Money:
    """What closing keeps in escrow for work not decided yet: each item waiting for review
    its pay and promised bonus, each item still in the pipeline the most an item can earn."""
    keep = Money.zero(campaign.currency)
    for item in _undecided(uow, campaign.id or 0):
        if _waiting(item, campaign.id or 0):
            promised = Money(item.terms_bonus_minor or 0, campaign.currency)
            keep = keep + item_pay(campaign, item) + promised
    in_flight = uow.count(Item, campaign_id=campaign.id, status__in=_IN_FLIGHT)
    if in_flight:
        most = max(campaign.rate_minor, _terms_rate(uow, campaign))
        keep = keep + Money(
            (most * units_per_item(campaign) + campaign.coverage_bonus_minor) * in_flight,
            campaign.currency,
        )
    return keep


def returned_if_closed(uow: UnitOfWork, campaign: Campaign) -> Money:
    """What closing ``campaign`` now would give back at once (``release_escrow_left``'s
    rule, read-only): escrow held, less the pay-floor top-ups owed to work already paid
    (closing pays them from escrow or keeps them) and what pending work may be owed;
    never below zero."""
    held = money.escrow_balance(uow, campaign.id or 0, campaign.currency)
    owed = sum((due for _, _, due in topups_due(uow, campaign)), Money.zero(campaign.currency))
    left = held - owed - _kept_for_pending(uow, campaign)
    return left if left.is_positive else Money.zero(campaign.currency)


def _terms_rate(uow: UnitOfWork, campaign: Campaign) -> int:
    terms = uow.get(CampaignPayTerms, campaign.id)
    return (terms.required_rate_minor or 0) if terms else 0


def _visible(actor: Actor, campaign: Campaign) -> bool:
    if can(actor, Permission.CAMPAIGN_CREATE, campaign.manager):
        return True
    return campaign.state is CampaignState.OPEN and can(actor, Permission.CAMPAIGN_READ)


def get_campaign(uow: UnitOfWork, actor: Actor, campaign_id: int) -> Campaign:
    """Open campaigns are visible to every signed-in reader; drafts and closed ones only to
    the organisation running them (and operators)."""
    authorize(actor, Permission.CAMPAIGN_READ)
    campaign = uow.get(Campaign, campaign_id)
    if campaign is None or not _visible(actor, campaign):
        raise NotFound(Problem(None, "campaign.not_found"))
    return campaign


def list_campaigns(uow: UnitOfWork, actor: Actor) -> list[Campaign]:
    authorize(actor, Permission.CAMPAIGN_READ)
    return [c for c in uow.all(Campaign, order_by="-id") if _visible(actor, c)]


def open_tasks(
    uow: UnitOfWork, actor: Actor, *, query: str = "", kind: str = "", page: int = 1
) -> Paged[Campaign]:
    """The open campaigns, newest first, for anyone, signed in or not: what a person
    browses before signing up. Narrowed to the words of ``query`` (title or
    description) and one ``kind`` when given (an unknown kind matches nothing).

    State, kind and the paging are the database's; words are matched here, among the
    campaigns those leave (as every list searches words: ``listing.matches``)."""
    authorize(actor, Permission.PUBLIC_READ)
    where: dict[str, Any] = {"state": CampaignState.OPEN}
    if kind:
        if kind not in {k.value for k in ItemKind}:
            return paged([], page)
        where["kind"] = ItemKind(kind)
    if not query.split():
        return paged_by_query(
            uow.count(Campaign, **where),
            page,
            lambda offset, limit: uow.all(
                Campaign, order_by="-id", offset=offset, limit=limit, **where
            ),
        )
    found = [
        c
        for c in uow.all(Campaign, order_by="-id", **where)
        if matches(query, c.title, c.description)
    ]
    return paged(found, page)


def get_task(uow: UnitOfWork, actor: Actor, campaign_id: int) -> Campaign:
    """An open campaign as a task: anyone may read it, before signing up or without being
    one who takes tasks (a buyer, an operator); one who can take it (``item:create``)
    reads it as ``get_campaign`` lets them."""
    if can(actor, Permission.ITEM_CREATE):
        return get_campaign(uow, actor, campaign_id)
    authorize(actor, Permission.PUBLIC_READ)
    campaign = uow.get(Campaign, campaign_id)
    if campaign is None or campaign.state is not CampaignState.OPEN:
        raise NotFound(Problem(None, "campaign.not_found"))
    return campaign


def list_managed_campaigns(uow: UnitOfWork, actor: Actor) -> list[Campaign]:
    """The campaigns the caller runs: its organisation's (a buyer), every one (an operator)."""
    authorize(actor, Permission.CAMPAIGN_CREATE)
    return [
        c
        for c in uow.all(Campaign, order_by="-id")
        if can(actor, Permission.CAMPAIGN_CREATE, c.manager)
    ]


@dataclass(frozen=True)
class CampaignProgress:
    """Where a campaign stands, for the people who run it: its work by stage and its
    escrow, each figure from the rule or the ledger that decides it."""

    campaign: Campaign
    accepted: int  # accepted and paid (listed), or decided for acceptance
    pending_review: int  # accepted by the checks, waiting for reviewers (or for escrow)
    in_checks: int  # still being checked by the pipeline
    rejected: int
    escrow_held: Money  # what escrow holds now (the ledger's balance)
    escrow_needed: Money  # what opening needs (``money.required_escrow``)
    returned: Money  # what closing gave back to whoever funded it (the release entries)
    returned_if_closed: Money  # what closing now would give back at once (zero once closed)
    pay_floor: PayFloorCheck | None  # ``pay_floor_check``; None without an effort
    org_approved: bool  # ``money.org_runs_campaigns``: may it be funded, opened, resumed
    actions: tuple[str, ...]  # ``Campaign.actions_while``: the ones its page may offer

    @property
    def shortfall(self) -> Money:
        short = self.escrow_needed - self.escrow_held
        return short if short.is_positive else Money.zero(short.currency)


def campaign_progress(
    uow: UnitOfWork, actor: Actor, campaign_id: int, floors: PayFloors
) -> CampaignProgress:
    """A campaign's progress for the organisation running it (and operators); NotFound
    for anyone else. Read-only."""
    authorize(actor, Permission.CAMPAIGN_CREATE)
    campaign = uow.get(Campaign, campaign_id)
    if campaign is None or not can(actor, Permission.CAMPAIGN_CREATE, campaign.manager):
        raise NotFound(Problem(None, "campaign.not_found"))
    found = uow.all(Item, campaign_id=campaign.id)
    waiting = sum(_waiting(i, campaign_id) for i in found)
    decided = sum(i.status is ItemStatus.ACCEPTED for i in found) - waiting
    try:
        check = pay_floor_check(uow, campaign, floors)
    except CurrencyMismatch:  # priced in another currency than the floor: no check
        check = None
    approved = money.org_runs_campaigns(uow, campaign)
    return CampaignProgress(
        campaign=campaign,
        accepted=decided + sum(i.status is ItemStatus.LISTED for i in found),
        pending_review=waiting,
        in_checks=sum(i.status in _IN_FLIGHT for i in found),
        rejected=sum(i.status is ItemStatus.REJECTED for i in found),
        escrow_held=money.escrow_balance(uow, campaign_id, campaign.currency),
        escrow_needed=money.required_escrow(campaign),
        returned=money.escrow_returned(uow, campaign_id, campaign.currency),
        returned_if_closed=Money.zero(campaign.currency)
        if campaign.finished
        else returned_if_closed(uow, campaign),
        pay_floor=check,
        org_approved=approved,
        actions=campaign.actions_while(approved),
    )


def check_campaign_takes_work(uow: UnitOfWork, campaign_id: int) -> list[Problem]:
    """Why a campaign takes no new work now (empty when it does): not open, quota filled,
    or paused by a pay-floor recheck until its buyer tops up escrow."""
    return _takes_work(uow, campaign_id, uow.get(Campaign, campaign_id))


def _takes_work(uow: UnitOfWork, campaign_id: int, campaign: Campaign | None) -> list[Problem]:
    if campaign is None or campaign.state is not CampaignState.OPEN:
        return [Problem("campaign", "campaign.not_open", {"campaign": campaign_id})]
    filled = uow.count(Item, campaign_id=campaign_id, status__in=list(COVERED))
    if filled >= campaign.quota:
        return [Problem("campaign", "campaign.quota_filled", {"quota": campaign.quota})]
    terms = uow.get(CampaignPayTerms, campaign_id)
    if terms is not None and terms.paused:
        return [Problem("campaign", "campaign.paused_below_floor", {"rate": campaign.rate})]
    return []


def check_upload_campaign(uow: UnitOfWork, campaign_id: int, kind: ItemKind) -> list[Problem]:
    """Problems with uploading a ``kind`` item to a campaign (empty when fine)."""
    campaign = uow.get(Campaign, campaign_id)
    problems = _takes_work(uow, campaign_id, campaign)
    if not problems and campaign is not None and campaign.kind is not kind:
        wanted = {"kind": campaign.kind.value, "given_kind": kind.value}
        return [Problem("campaign", "campaign.other_kind", wanted)]
    return problems


# --------------------------------------------------------------------------- coverage


# A recorded cell is listed to anyone (the map, a task's page, the coverage API) only
# once this many different people have recordings in it. The bonus is paid per item's own
# cell (resolution 8, about 0.7 km²), so there is no coarser cell to show instead; a cell
# that one or two people recorded in would say where they record, often their street.
# Counted in people, not recordings (one person's ten recordings are still one person).
# k = 3: with two, each of the two learns the other's cell from the listing; with three,
# someone who knows their own recording is there still cannot tell which of the others
# recorded. The cost: a contributor may record in an unlisted cell whose bonus is already
# paid (the map and the task's page say so).
SHOWN_FROM_PEOPLE = 3


def _coverage_counts(
    uow: UnitOfWork, exclude_item: int | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """(every cell's accepted ambient recordings, the same for the cells with recordings
    from at least ``SHOWN_FROM_PEOPLE`` different people)."""
    counts: Counter[str] = Counter()
    people: dict[str, set[int]] = {}
    for item in uow.all(Item, kind=ItemKind.AMBIENT, status__in=list(COVERED)):
        if item.h3_cell and item.id != exclude_item:
            counts[item.h3_cell] += 1
            people.setdefault(item.h3_cell, set()).add(item.owner_id)
    shown = {c: n for c, n in counts.items() if len(people[c]) >= SHOWN_FROM_PEOPLE}
    return dict(counts), shown


def coverage(uow: UnitOfWork, *, exclude_item: int | None = None) -> dict[str, int]:
    """Accepted (or listed) ambient-audio items per H3 cell, across all campaigns: what
    the bonus is decided by. Never listed as it is: only the cells ``SHOWN_FROM_PEOPLE``
    people recorded in are (``_coverage_counts``)."""
    return _coverage_counts(uow, exclude_item)[0]


def campaign_coverage(uow: UnitOfWork, actor: Actor, campaign_id: int) -> dict[str, Any]:
    """Coverage per cell (cells fewer than ``SHOWN_FROM_PEOPLE`` people recorded in are
    left out), and which of the campaign's wanted cells have none yet (the ones a coverage
    bonus is still paid for)."""
    campaign = get_campaign(uow, actor, campaign_id)
    cells, shown = _coverage_counts(uow)
    wanted = list(campaign.spec.get("h3_cells") or [])
    return {
        "campaign_id": campaign.id,
        "cells": shown,
        "uncovered": [c for c in wanted if not cells.get(c)],
        "coverage_bonus_minor": campaign.coverage_bonus_minor,
        "currency": campaign.currency,
    }


@dataclass(frozen=True)
class PlaceNeed:
    """One H3 cell of a task's coverage: how many accepted recordings lie inside it (from
    any campaign) and the bonus a recording there can still earn: ``None`` once every
    cell the bonus is counted by (an item's own cell) inside it has a recording, since
    the bonus is paid once per such cell, ever."""

    cell: str
    recordings: int
    bonus: Money | None


@dataclass(frozen=True)
class CoverageNeed:
    """Where an open task that pays a coverage bonus wants recordings. ``wanted``: the
    places that can still earn the bonus (the cells the task names; a task naming none
    pays it in any cell nobody has recorded, so it lists none); ``recorded``: the places
    with no bonus left (among the named cells, or when it names none every recorded cell
    but those fewer than ``SHOWN_FROM_PEOPLE`` people recorded in); ``still_wanted``: the
    items the task takes before its quota is filled."""

    campaign: Campaign
    wanted: list[PlaceNeed]
    recorded: list[PlaceNeed]
    still_wanted: int

    @property
    def names_places(self) -> bool:
        return bool(self.campaign.spec.get("h3_cells"))


def _inside(area: str, covered: dict[str, int]) -> dict[str, int]:
    """The recorded cells that lie in ``area`` (the area itself, or cells finer than it
    whose parent at its resolution it is), as ``check_campaign_place`` decides it."""
    res = h3.get_resolution(area)
    return {
        cell: n
        for cell, n in covered.items()
        if cell == area or (h3.get_resolution(cell) > res and h3.cell_to_parent(cell, res) == area)
    }


def _place_need(area: str, covered: dict[str, int], bonus: Money) -> PlaceNeed:
    inside = _inside(area, covered)
    finest = max([h3.get_resolution(area), *(h3.get_resolution(c) for c in inside)])
    full = len(inside) >= h3.cell_to_children_size(area, finest) if inside else False
    return PlaceNeed(area, sum(inside.values()), None if full else bonus)


def pays_coverage_bonus(campaign: Campaign) -> bool:
    """An open ambient-sound task with a coverage bonus (the kind ``coverage_bonus_for``
    pays it on)."""
    return (
        campaign.state is CampaignState.OPEN
        and campaign.kind is ItemKind.AMBIENT
        and bool(campaign.coverage_bonus_minor)
    )


def coverage_need(
    uow: UnitOfWork,
    campaign: Campaign,
    counts: tuple[dict[str, int], dict[str, int]] | None = None,
) -> CoverageNeed:
    """Where ``campaign`` still pays its coverage bonus, counted the way the bonus is
    decided when an item is accepted (``coverage``, once per recorded cell); ``counts``:
    ``_coverage_counts(uow)``, when the caller has them already. A task naming no places
    lists only the recorded cells at least ``SHOWN_FROM_PEOPLE`` people recorded in; one
    naming places shows each of them (the places its buyer chose) with its bonus and
    recordings."""
    covered, shown = _coverage_counts(uow) if counts is None else counts
    named = list(dict.fromkeys(campaign.spec.get("h3_cells") or []))
    places = [_place_need(c, covered, campaign.coverage_bonus) for c in named] or [
        PlaceNeed(c, n, None) for c, n in shown.items()
    ]
    places.sort(key=lambda p: (-p.recordings, p.cell))
    filled = uow.count(Item, campaign_id=campaign.id, status__in=list(COVERED))
    return CoverageNeed(
        campaign,
        wanted=[p for p in places if p.bonus is not None],
        recorded=[p for p in places if p.bonus is None],
        still_wanted=max(campaign.quota - filled, 0),
    )


def coverage_needs(uow: UnitOfWork, actor: Actor) -> list[CoverageNeed]:
    """``coverage_need`` of every task the caller may see that pays a coverage bonus (for
    someone not signed in, the open tasks: where recordings are wanted is public, as the
    tasks are)."""
    if actor.is_authenticated:
        shown = list_campaigns(uow, actor)
    else:
        authorize(actor, Permission.PUBLIC_READ)
        shown = uow.all(Campaign, state=CampaignState.OPEN, order_by="-id")
    counts = _coverage_counts(uow)
    return [coverage_need(uow, c, counts) for c in shown if pays_coverage_bonus(c)]


# --------------------------------------------------------------------------- review


def _may_review(actor: Actor, campaign: Campaign) -> None:
    # Who reviews is the campaign's rule: contributors in peer campaigns, operators in any.
    authorize(actor, Permission.REVIEW)
    if actor.role is Role.OPERATOR:
        return
    if campaign.review_mode is not ReviewMode.PEER or actor.role is not Role.CONTRIBUTOR:
        raise NotFound(Problem(None, "campaign.not_found"))


def _undecided(uow: UnitOfWork, campaign_id: int) -> list[Item]:
    """The campaign's items whose review is not decided, in id order: only those are read
    (the review state is a column), never every item the campaign accepted."""
    return uow.reviews.waiting(campaign_id)


def _waiting(item: Item, campaign_id: int) -> bool:
    """Whether ``item`` of that campaign is accepted by the pipeline and its review is not
    decided yet (waiting for reviewers, or for escrow: ``ReviewState``)."""
    return (
        item.campaign_id == campaign_id
        and item.status is ItemStatus.ACCEPTED
        and item.review_state in UNDECIDED_REVIEWS
    )


@dataclass(frozen=True)
class ReviewEntry:
    item_id: int
    kind: str
    quality: dict[str, Any]
    removed_summary: list[str]
    removed: dict[str, Any]
    duration_seconds: int | None
    up: int
    down: int


def review_queue(uow: UnitOfWork, actor: Actor, campaign_id: int) -> list[ReviewEntry]:
    """Items waiting for review that the caller may review: never their own, never one
    they already voted on."""
    campaign = get_campaign(uow, actor, campaign_id)
    _may_review(actor, campaign)
    # Narrowed in the database: the reviewer's own items and the ones they voted on are
    # never read.
    waiting = uow.reviews.waiting(id_of(campaign), actor.user_id)
    tally = uow.reviews.tally([id_of(item) for item in waiting])
    entries = []
    for item in waiting:
        entries.append(
            ReviewEntry(
                item_id=item.id or 0,
                kind=item.kind.value,
                quality=item.report.get("quality", {}),
                removed_summary=item.report.get("removed_summary", []),
                removed=item.report.get("removed", {}),
                duration_seconds=item.duration_seconds,
                up=tally[id_of(item)].up,
                down=tally[id_of(item)].down,
            )
        )
    return entries


def peer_review_queue(uow: UnitOfWork, actor: Actor) -> list[tuple[Campaign, ReviewEntry]]:
    """Every item the calling contributor may vote on, across the open peer-reviewed
    campaigns, with its campaign: ``review_queue``'s rules (never their own, never twice)."""
    authorize(actor, Permission.REVIEW)
    return [
        (campaign, entry)
        for campaign in list_campaigns(uow, actor)
        if campaign.state is CampaignState.OPEN and campaign.review_mode is ReviewMode.PEER
        for entry in review_queue(uow, actor, campaign.id or 0)
    ]


def _reviewable(uow: UnitOfWork, actor: Actor, campaign_id: int, item_id: int) -> Item:
    campaign = get_campaign(uow, actor, campaign_id)
    _may_review(actor, campaign)
    item = uow.get_for_update(Item, item_id)
    if item is None or not _waiting(item, id_of(campaign)) or item.owner_id == actor.uid:
        raise NotFound(Problem(None, "review.no_such_item"))
    return item


@dataclass(frozen=True)
class ReviewPreview:
    content_type: str
    chunks: Iterator[bytes]


def open_review_preview(
    uow: UnitOfWork, storage: EncryptedStorage, actor: Actor, campaign_id: int, item_id: int
) -> ReviewPreview:
    """The de-identified version of an item waiting for the caller's review."""
    item = _reviewable(uow, actor, campaign_id, item_id)
    if not item.deidentified_key:
        raise NotFound(Problem(None, "review.no_such_item"))
    uow.record(AuditTag.ITEM_ACCESS, actor_label(actor), "item", item.id, what="review-preview")
    uow.commit()
    content_type = (item.report.get("output") or {}).get("content_type", "")
    return ReviewPreview(
        content_type or "application/octet-stream",
        storage.open(uow, item.owner_id, item.deidentified_key),
    )


@dataclass(frozen=True)
class ReviewProgress:
    """Where a campaign item's review stands, for its owner: the votes so far (up,
    down, and the up votes a peer review needs), when review ends (it is accepted then
    if nobody decided), and the pay acceptance brings, as ``item_pay`` reckons it, or
    what the ledger was told to pay once it was accepted (with any coverage bonus)."""

    peer: bool
    state: ReviewState
    up: int
    down: int
    needed: int
    due: datetime | None
    pay: Money
    bonus: Money


def review_progress(uow: UnitOfWork, actor: Actor, item_id: int) -> ReviewProgress | None:
    """The review of the caller's own item, or None when no campaign reviews it."""
    item = uow.get(Item, item_id)
    authorize(actor, Permission.ITEM_READ, item or MISSING)
    assert item is not None
    campaign = uow.get(Campaign, item.campaign_id) if item.campaign_id else None
    if campaign is None or item.review_state is None:
        return None
    votes = uow.reviews.tally([id_of(item)])[id_of(item)]
    accepted = item.review_state is ReviewState.ACCEPTED
    paid = item.paid_minor
    pay = Money(paid, campaign.currency) if accepted and paid else item_pay(campaign, item)
    return ReviewProgress(
        peer=campaign.review_mode is ReviewMode.PEER,
        state=item.review_state,
        up=votes.up,
        down=votes.down,
        needed=PEER_MIN_UP_VOTES,
        due=as_utc(item.review_due) if item.review_due else None,
        pay=pay,
        bonus=Money(item.bonus_paid_minor or 0, campaign.currency),
    )


@dataclass(frozen=True)
class ReviewOutcome:
    item_id: int
    up: int
    down: int
    decision: str | None  # accept, reject, or None while waiting for more votes
    status: str


def submit_review(
    uow: UnitOfWork,
    actor: Actor,
    campaign_id: int,
    item_id: int,
    *,
    up: bool,
    note: str = "",
    storage: EncryptedStorage | None = None,
) -> ReviewOutcome:
    """Record the caller's vote; list or reject the item once the votes decide it.

    A ``note`` describes someone's item: it is sealed under the item owner's key (with
    ``storage``, which a note needs: ``ValueError`` without it), so erasing the owner
    makes it unreadable too."""
    if note.strip() and storage is None:
        raise ValueError("a review note is sealed under the item owner's key: pass storage")
    item = _reviewable(uow, actor, campaign_id, item_id)
    if uow.one(ReviewVote, item_id=item.id, reviewer_id=actor.user_id) is not None:
        raise Conflict(Problem(None, "review.already_voted"))
    if not isinstance(up, bool):
        raise InvalidInput(Problem("up", "true_or_false"))
    if actor.role is Role.OPERATOR and not up and not note.strip():
        # The contributor reads this reason on the item's page instead of a generic text.
        raise InvalidInput(Problem("note", "review.reason_required"))
    uow.add(
        ReviewVote(
            item_id=item.id or 0,
            campaign_id=campaign_id,
            reviewer_id=actor.user_id or 0,
            up=up,
            note=storage.seal_text(uow, item.owner_id, note.strip()[:500]) if storage else "",
        )
    )
    uow.flush()
    votes = uow.reviews.tally([id_of(item)])[id_of(item)]
    ups, downs = votes.up, votes.down
    uow.record(AuditTag.ITEM_REVIEW, actor_label(actor), "item", item.id, up=up)
    if actor.role is Role.OPERATOR:
        decision: str | None = "accept" if up else "reject"
    else:
        decision = peer_verdict(ups, downs)
    if decision is not None:
        by = ReviewDecider.OPERATOR if actor.role is Role.OPERATOR else ReviewDecider.PEERS
        _decide(uow, item, decision, by=by)
    uow.commit()
    return ReviewOutcome(item.id or 0, ups, downs, decision, item.status.value)


def _decide(uow: UnitOfWork, item: Item, decision: str, *, by: ReviewDecider) -> bool:
    """Accept (list and pay from escrow) or reject a waiting item; returns whether it was
    decided. When escrow cannot pay an acceptance (a pay-floor recheck raised the rate
    past what escrow holds), a review is refused (``Conflict`` naming the shortfall),
    while acceptance by the review window leaves the item waiting, marked
    ``waiting_for_escrow``, for a later run once the buyer tops up (returns False)."""
    # Locked, and read afresh: a pay-floor recheck raising the rate commits first, so an
    # item accepted meanwhile is paid the new rate rather than missing its top-up.
    campaign = uow.get_for_update(Campaign, item.campaign_id) if item.campaign_id else None
    if decision == "accept" and campaign is not None:
        shortfall = _escrow_shortfall(uow, campaign, item)
        if shortfall is not None:
            if by is not ReviewDecider.REVIEW_WINDOW:
                raise Conflict(
                    Problem(None, "review.escrow_short", {"shortfall": shortfall}),
                    {"shortfall": money.money_out(shortfall)},
                )
            item.review_state = ReviewState.WAITING_FOR_ESCROW
            item.escrow_shortfall_minor = shortfall.amount_minor
            return False
    item.escrow_shortfall_minor = None
    item.review_state = ReviewState.ACCEPTED if decision == "accept" else ReviewState.REJECTED
    item.reviewed_by = by
    if decision == "accept":
        item.move_to(ItemStatus.LISTED)
        uow.record(AuditTag.ITEM_LIST, "system", "item", item.id, by=by.value)
        if campaign is not None:
            _queue_pay_floor_recheck(uow, campaign.id or 0, item.id or 0)
            # Paid in the same transaction as the acceptance: both happen or neither.
            owed = item_pay(campaign, item)
            if owed.is_positive:
                money.pay_accepted_item(uow, campaign.id or 0, item.owner_id, owed, item.id or 0)
                item.paid_minor = owed.amount_minor
            uow.flush()  # the item is listed now: the bonus check counts it as covering
            bonus = coverage_bonus_for(uow, campaign, item)
            if bonus.is_positive:
                money.pay_from_escrow(
                    uow,
                    campaign.id or 0,
                    item.owner_id,
                    bonus,
                    item.id or 0,
                    key=coverage_bonus_key(item.h3_cell or ""),
                    kind="coverage_bonus",
                    memo=f"Coverage bonus: item {item.id} is the first from cell {item.h3_cell}",
                    tag=AuditTag.COVERAGE_BONUS,
                    h3_cell=item.h3_cell,
                )
                item.bonus_paid_minor = bonus.amount_minor
            notify(
                uow,
                item.owner_id,
                NoticeKind.ITEM_ACCEPTED,
                item_id=item.id,
                task=campaign.title,
                bonus_minor=bonus.amount_minor,
                **money_params(owed),
            )
    else:
        item.move_to(ItemStatus.REJECTED)
        report = dict(item.report)
        reasons = list(report.get("reasons") or [])
        # The reviewers' own reasons (their down votes' notes, sealed under the owner's
        # key): the contributor reads them rather than only the generic sentence.
        notes = [v.note for v in uow.all(ReviewVote, item_id=item.id) if not v.up and v.note]
        reasons.append(
            {
                "code": "review_rejected",
                "message": "Reviewers found this does not meet the campaign's brief; "
                "read the brief and prompts again before the next upload.",
                "notes": notes,
            }
        )
        report["reasons"] = reasons
        report["verdict"] = "rejected"
        item.write_report(report)
        uow.record(AuditTag.ITEM_REJECT, "system", "item", item.id, by=by.value)
        task = campaign.title if campaign is not None else ""
        notify(uow, item.owner_id, NoticeKind.ITEM_REJECTED, item_id=item.id, task=task)
    if campaign is not None and campaign.state is CampaignState.CLOSED:
        uow.flush()
        release_escrow_left(uow, campaign)
    return True


def _escrow_shortfall(uow: UnitOfWork, campaign: Campaign, item: Item) -> Money | None:
    """How much more escrow must hold to pay ``item``'s acceptance (its pay and any
    coverage bonus it would earn), or None when it holds enough."""
    needed = item_pay(campaign, item) + coverage_bonus_for(uow, campaign, item)
    held = money.escrow_balance(uow, campaign.id or 0, campaign.currency)
    return needed - held if needed > held else None


REVIEW_WINDOW_PASSED = "review window passed"


def settle_overdue_reviews(uow: UnitOfWork, now: datetime | None = None) -> int:
    """Accept, list and pay every item whose review window ended without a decision (work
    not reviewed in time is accepted, DESIGN.md §5), each in its own transaction with its
    ``item:accept`` audit event (reason "review window passed"). Idempotent: an item is
    claimed by locking it and re-checking that it still waits, and its payment is keyed by
    item; returns how many were settled.

    One item cannot hold up the others: an item its campaign's escrow cannot pay stays
    waiting (``waiting_for_escrow``, see ``_decide``) and is settled by a later run once
    the buyer tops up; any other refusal of one item is logged, rolled back and skipped.

    The overdue items are found through ``ix_items_review_due`` (no report is read), and
    each is claimed by a conditional update that only an item still undecided and overdue
    passes, so two runs at once settle each item once."""
    now = as_utc(now or utcnow())
    settled = 0
    due_ids = uow.reviews.overdue(now)
    uow.commit()  # end the read; each item below is its own transaction
    for item_id in due_ids:
        try:
            settled += _settle_overdue(uow, item_id, now)
            uow.commit()
        except DomainError:
            log.exception("auto-approval of item %s failed; skipped until the next run", item_id)
            uow.rollback()
    return settled


def _settle_overdue(uow: UnitOfWork, item_id: int, now: datetime) -> bool:
    if not uow.reviews.claim_overdue(item_id, now):
        return False  # decided meanwhile, or settled by another run
    item = uow.get_for_update(Item, item_id)
    if item is None or item.campaign_id is None or not _waiting(item, item.campaign_id):
        return False
    if not _decide(uow, item, "accept", by=ReviewDecider.REVIEW_WINDOW):
        return False
    uow.record(AuditTag.ITEM_ACCEPT, "system", "item", item.id, reason=REVIEW_WINDOW_PASSED)
    return True


@job("items.auto_approve")
def auto_approve_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Outbox job (scheduled every few minutes, and ``datatrust jobs auto-approve``):
    accept and pay the items whose review window passed. Safe to run twice or at once."""
    settle_overdue_reviews(uow)
