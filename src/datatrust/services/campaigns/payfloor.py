"""The pay floor, rechecked against measured effort (DESIGN.md §5 Money, issue 6 §4).

A campaign opens only when its rate meets the floor for the effort it *states*. Once
``RECHECK_AFTER`` submissions have been measured (task start → upload), the floor is
checked again against the *measured* median effort (``domain.payfloor.recheck_floor``).

What counts, so that no one contributor can set the rate (and drain escrow):

- only submissions whose item was accepted (by the pipeline, waiting for review, or
  listed): rejected work, and work not processed yet, is not measured;
- only a task start at most ``STALE_START`` (24 h) older than the upload: an older start
  is never linked, so holding a task open for days measures nothing;
- each measurement is capped at ``EFFORT_CAP_FACTOR`` (4) × the campaign's stated
  minutes per unit;
- one measurement per contributor: the upper median of their own submissions
  (``domain.payfloor.contributor_efforts``); the campaign's effort is the upper median of
  those.

The recheck is queued when a submission is linked and at least ``RECHECK_AFTER``
qualifying submissions exist, and after every acceptance (``campaigns`` queues it; it
does nothing while fewer qualify). When the rate falls short:

1. the campaign's rate becomes the required rate (``campaign_pay_terms.required_rate_minor``
   records it), so every item accepted from now on is paid at it;
2. the campaign is paused: no new task starts or uploads, with an error saying why;
3. every contributor already paid at the old rate receives the difference from escrow,
   keyed ``floor-topup:<item_id>:<rate>`` (a re-run pays once), as far as escrow holds it;
4. when the buyer tops up escrow to cover the rest of the quota at the new rate (and any
   difference not yet paid), the campaign reopens (``top_up_campaign``).

Each step writes its audit event (``payfloor:recheck``, ``campaign:pause``,
``payfloor:topup``, ``campaign:resume``). The recheck runs once per campaign, as an outbox
job enqueued by the submission that reaches the threshold, and is safe to run twice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from datatrust.domain import payfloor as rules
from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import (
    Campaign,
    CampaignPayTerms,
    PayBasis,
    TaskStart,
    units_per_item,
)
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import Conflict
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.money import Money
from datatrust.domain.payfloor import PayFloors
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize, can
from datatrust.services import money
from datatrust.services.accounts import actor_label
from datatrust.services.campaigns import campaigns
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import UnitOfWork

RECHECK_AFTER = rules.DEFAULT_RECHECK_AFTER
RECHECK_JOB = campaigns.PAY_FLOOR_RECHECK_JOB
STALE_START = timedelta(hours=24)
EFFORT_CAP_FACTOR = 4
MEASURED = (ItemStatus.ACCEPTED, ItemStatus.LISTED)


# --------------------------------------------------------------------------- measuring


def start_task(uow: UnitOfWork, actor: Actor, campaign_id: int) -> TaskStart:
    """The caller starts working on a campaign's task: the clock for measured effort.

    Refused (``Conflict``, naming why) when the campaign does not take work now: not
    open, quota filled, or paused by a pay-floor recheck; ``NotFound`` when the caller
    may not see it."""
    authorize(actor, Permission.ITEM_CREATE)
    campaign = campaigns.get_campaign(uow, actor, campaign_id)
    problems = campaigns.check_campaign_takes_work(uow, campaign.id or 0)
    if problems:
        raise Conflict(problems, {"problems": [str(p) for p in problems]})
    start = TaskStart(campaign_id=campaign.id or 0, user_id=actor.user_id or 0)
    uow.add(start)
    uow.flush()
    uow.record(AuditTag.TASK_START, actor_label(actor), "campaign", campaign.id, start_id=start.id)
    uow.commit()
    return start


def link_submission(uow: UnitOfWork, item: Item) -> None:
    """Link an upload that just arrived in a campaign to its contributor's latest unused
    task start of the last ``STALE_START`` (if any), and queue the recheck if enough
    submissions qualify. Called in the upload's transaction; does not commit."""
    if item.campaign_id is None:
        return
    arrived = as_utc(item.created_at)
    # skip_locked: two uploads arriving together cannot claim the same start (the second
    # would break the unique task_starts.item_id after its file was stored).
    unused = [
        s
        for s in uow.all(
            TaskStart,
            order_by="-id",
            skip_locked=True,
            campaign_id=item.campaign_id,
            user_id=item.owner_id,
            item_id=None,
        )
        if arrived - STALE_START <= as_utc(s.started_at) <= arrived
    ]
    if not unused:
        return
    unused[0].item_id = item.id
    uow.flush()
    queue_recheck_if_due(uow, item.campaign_id)


def queue_recheck_if_due(uow: UnitOfWork, campaign_id: int) -> None:
    """Queue the campaign's recheck once ``RECHECK_AFTER`` submissions qualify (see the
    module docstring), unless it was rechecked already. Does not commit."""
    campaign = uow.get(Campaign, campaign_id)
    terms = uow.get(CampaignPayTerms, campaign_id)
    if campaign is None or terms is None or terms.rechecked_at is not None:
        return
    measured = sum(len(e) for e in measured_efforts(uow, campaign).values())
    if measured >= RECHECK_AFTER:
        uow.enqueue(
            RECHECK_JOB,
            {"campaign_id": campaign_id},
            key=f"{RECHECK_JOB}:{campaign_id}:{measured}",
        )


def measured_efforts(uow: UnitOfWork, campaign: Campaign) -> dict[int, list[int]]:
    """Seconds of effort per unit of pay of each qualifying submission, by contributor:
    upload time minus task start, for items accepted or listed (see the module
    docstring); for a per-minute campaign divided by the recording's minutes. At least
    1 s; not capped yet (``domain.payfloor.contributor_efforts`` caps)."""
    starts = [s for s in uow.all(TaskStart, order_by="id", campaign_id=campaign.id) if s.item_id]
    if not starts:
        return {}
    arrived = {
        i.id: i
        for i in uow.all(Item, id__in=[s.item_id for s in starts], status__in=list(MEASURED))
    }
    efforts: dict[int, list[int]] = defaultdict(list)
    for start in starts:
        item = arrived.get(start.item_id)
        if item is None:
            continue
        took = as_utc(item.created_at) - as_utc(start.started_at)
        if took > STALE_START:  # linked before the rule; never measured
            continue
        seconds = int(took.total_seconds())
        if campaign.pay_basis is PayBasis.PER_MINUTE:
            if not item.duration_seconds:
                continue
            seconds = seconds * 60 // int(item.duration_seconds)
        efforts[item.owner_id].append(max(seconds, 1))
    return dict(efforts)


# --------------------------------------------------------------------------- the recheck


def recheck_pay_floor(
    uow: UnitOfWork,
    campaign_id: int,
    floors: PayFloors,
    *,
    now: datetime | None = None,
) -> rules.FloorRecheck | None:
    """Recheck a campaign's rate against its measured median effort, once.

    Returns None (and changes nothing) while fewer than ``RECHECK_AFTER`` submissions
    qualify (see the module docstring), for a campaign without pay terms, or one already
    rechecked. Otherwise records the outcome; below the floor it raises the rate, pauses
    the campaign and pays already-paid contributors the difference. Commits."""
    now = now or utcnow()
    campaign = uow.get_for_update(Campaign, campaign_id)
    terms = uow.get(CampaignPayTerms, campaign_id)
    if campaign is None or terms is None or terms.rechecked_at is not None:
        return None
    floor = floors.floor_for(terms.country)
    by_contributor = measured_efforts(uow, campaign)
    cap = EFFORT_CAP_FACTOR * terms.expected_minutes_per_item * 60
    result = rules.recheck_floor(
        campaign.rate,
        floor,
        rules.contributor_efforts(by_contributor, cap),
        after=RECHECK_AFTER,
        submissions=sum(len(e) for e in by_contributor.values()),
    )
    if result is None:
        return None
    terms.rechecked_at = now
    terms.measured_submissions = result.submissions
    terms.median_effort_seconds = result.median_effort_seconds
    uow.record(
        AuditTag.PAYFLOOR_RECHECK,
        "system",
        "campaign",
        campaign.id,
        submissions=result.submissions,
        median_effort_seconds=result.median_effort_seconds,
        measured_rate_minor=result.measured_rate.amount_minor,
        floor_minor=floor.amount_minor,
        currency=floor.currency,
        meets_floor=result.meets_floor,
    )
    if not result.meets_floor:
        old_rate = campaign.rate_minor
        campaign.rate_minor = result.required_pay_per_unit.amount_minor
        terms.required_rate_minor = campaign.rate_minor
        terms.paused_at = now
        uow.record(
            AuditTag.CAMPAIGN_PAUSE,
            "system",
            "campaign",
            campaign.id,
            reason="below the pay floor at the measured effort",
            old_rate_minor=old_rate,
            new_rate_minor=campaign.rate_minor,
        )
        uow.flush()
        campaigns.pay_floor_topups(uow, campaign)
    uow.commit()
    return result


@job(RECHECK_JOB)
def recheck_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    """Outbox job queued by the submission that reaches ``RECHECK_AFTER``. Idempotent."""
    recheck_pay_floor(uow, int(payload["campaign_id"]), ctx.services.policy.pay_floors)


# --------------------------------------------------------------------------- reopening


@dataclass(frozen=True)
class FloorState:
    campaign_id: int
    paused: bool
    rate: Money
    rechecked_at: datetime | None
    measured_submissions: int | None
    median_effort_seconds: int | None
    escrow: Money
    needed: Money  # what escrow must hold to reopen (zero when not paused)
    shows_escrow: bool = True  # False for readers who do not manage the campaign

    @property
    def shortfall(self) -> Money:
        if self.needed > self.escrow:
            return self.needed - self.escrow
        return Money.zero(self.needed.currency)

    def as_dict(self) -> dict[str, Any]:
        """The public shape; the escrow fields only when ``shows_escrow``."""
        shown: dict[str, Any] = {
            "campaign_id": self.campaign_id,
            "paused": self.paused,
            "rate": money.money_out(self.rate),
            "rechecked_at": self.rechecked_at.isoformat() if self.rechecked_at else None,
            "measured_submissions": self.measured_submissions,
            "median_effort_seconds": self.median_effort_seconds,
        }
        if self.shows_escrow:
            shown["escrow_balance"] = money.money_out(self.escrow)
            shown["needed_to_reopen"] = money.money_out(self.needed)
            shown["shortfall"] = money.money_out(self.shortfall)
        return shown


def _state(uow: UnitOfWork, campaign: Campaign, unpaid: Money | None = None) -> FloorState:
    terms = uow.get(CampaignPayTerms, campaign.id)
    paused = bool(terms and terms.paused)
    escrow = money.escrow_balance(uow, campaign.id or 0, campaign.currency)
    needed = Money.zero(campaign.currency)
    if paused:
        if unpaid is None:
            unpaid = sum(
                (owed for _, _, owed in campaigns.topups_due(uow, campaign)),
                Money.zero(campaign.currency),
            )
        needed = rules.escrow_to_reopen(
            campaign.rate * units_per_item(campaign),
            campaign.coverage_bonus,
            campaign.quota,
            uow.count(Item, campaign_id=campaign.id, status=ItemStatus.LISTED),
            unpaid,
        )
    return FloorState(
        campaign.id or 0,
        paused,
        campaign.rate,
        terms.rechecked_at if terms else None,
        terms.measured_submissions if terms else None,
        terms.median_effort_seconds if terms else None,
        escrow,
        needed,
    )


def floor_state(uow: UnitOfWork, actor: Actor, campaign_id: int) -> FloorState:
    """The campaign's pay-floor state (whoever may see the campaign): paused or not, its
    rate and the recheck's measurements; what escrow holds and must hold to reopen only
    for those who manage it (its organisation's members, operators), not for other
    buyers or contributors (``shows_escrow``)."""
    campaign = campaigns.get_campaign(uow, actor, campaign_id)
    state = _state(uow, campaign)
    return replace(state, shows_escrow=can(actor, Permission.CAMPAIGN_CREATE, campaign.manager))


def reopen_if_covered(uow: UnitOfWork, campaign: Campaign, *, actor: str = "system") -> bool:
    """Reopen a paused campaign once escrow covers the rest of its quota at the new rate
    (plus bonuses) and every difference still owed, paying those differences first.
    Returns whether it is taking work. Does not commit."""
    terms = uow.get(CampaignPayTerms, campaign.id)
    if terms is None or not terms.paused:
        return True
    unpaid = campaigns.pay_floor_topups(uow, campaign)
    state = _state(uow, campaign, unpaid)
    if state.escrow < state.needed or unpaid.is_positive:
        return False
    terms.paused_at = None
    uow.record(
        AuditTag.CAMPAIGN_RESUME,
        actor,
        "campaign",
        campaign.id,
        rate_minor=campaign.rate_minor,
        escrow_minor=state.escrow.amount_minor,
    )
    return True


@dataclass(frozen=True)
class TopUp:
    funding: money.EscrowFunding
    state: FloorState
    required: Money  # what opening needs: quota × rate (× units) plus a bonus per item

    @property
    def covered(self) -> bool:
        return self.state.escrow >= (self.state.needed if self.state.paused else self.required)


def top_up_campaign(
    uow: UnitOfWork,
    rail: money.PaymentRail,
    actor: Actor,
    campaign_id: int,
    amount: Money,
    idempotency_key: str,
) -> TopUp:
    """Fund a campaign's escrow (``money.fund_campaign_escrow``: same rules, same key),
    then reopen it if a pay-floor recheck paused it and escrow now covers the rest.

    A campaign whose escrow cannot be sized (a per-minute one stored without
    ``spec.max_duration_s``) is refused with ``InvalidInput`` *before* anything is
    charged."""
    found = uow.get(Campaign, campaign_id)
    authorize(actor, Permission.ESCROW_FUND, found or MISSING)
    assert found is not None
    money.required_escrow(found)  # raises before the charge, not after it
    funding = money.fund_campaign_escrow(uow, rail, actor, campaign_id, amount, idempotency_key)
    campaign = uow.get_for_update(Campaign, campaign_id)
    assert campaign is not None  # funding found it
    reopen_if_covered(uow, campaign, actor=actor_label(actor))
    state = _state(uow, campaign)
    uow.commit()
    return TopUp(funding, state, money.required_escrow(campaign))
