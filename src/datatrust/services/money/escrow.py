"""Campaign escrow: what it must hold before a campaign opens, funding it through a
payment rail, paying accepted work (and top-ups and bonuses) out of it, and returning
what is left when the campaign closes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datatrust.domain import ledger as dl
from datatrust.domain.accounts import Organisation, OrgStatus
from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import Campaign, units_per_item
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Problem
from datatrust.domain.ledger import AccountRef
from datatrust.domain.money import Money
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.accounts import actor_label
from datatrust.services.money.common import checked_key, positive_amount, post
from datatrust.services.money.ports import PaymentRail
from datatrust.services.ports import UnitOfWork


def required_escrow(campaign: Campaign, rate_minor: int | None = None) -> Money:
    """What the campaign's escrow must hold before it opens: ``quota × rate`` (per unit,
    times the units an item can earn) plus a coverage bonus for every item of the quota
    (the most that can be owed). ``rate_minor`` replaces the campaign's rate."""
    rate = Money(campaign.rate_minor if rate_minor is None else rate_minor, campaign.currency)
    return escrow_needed(
        rate * units_per_item(campaign), campaign.quota, campaign.coverage_bonus * campaign.quota
    )


def escrow_needed(rate: Money, quota: int, bonus_total: Money) -> Money:
    """What escrow must hold for ``quota`` items at ``rate``: ``rate × quota + bonus_total``.

    ``rate`` must be positive, ``quota`` a whole number above zero, ``bonus_total`` zero or
    more in the same currency (``CurrencyMismatch`` otherwise).
    """
    positive_amount(rate, "rate")
    if type(quota) is not int or quota <= 0:
        raise InvalidInput(Problem("quota", "positive_whole_number", {"given": repr(quota)}))
    if not isinstance(bonus_total, Money) or bonus_total.is_negative:
        raise InvalidInput(Problem("bonus_total", "money.not_negative"))
    return rate * quota + bonus_total


def escrow_balance(uow: UnitOfWork, campaign_id: int, currency: str) -> Money:
    return uow.ledger.balance(AccountRef.escrow(campaign_id, currency))


def escrow_returned(uow: UnitOfWork, campaign_id: int, currency: str) -> Money:
    """What closing the campaign gave back from its escrow so far: the releases keyed by
    ``close_campaign_escrow`` (the one at closing and the final one)."""
    ledger = uow.ledger
    account = AccountRef.escrow(campaign_id, currency)
    returned = Money.zero(currency)
    first_key = f"escrow-release:{campaign_id}:{currency}"
    for key in (first_key, f"{first_key}:final"):
        entry = ledger.entry(key)
        if entry is not None:
            returned = returned - entry.amount_for(account)
    return returned


def escrow_covers(
    uow: UnitOfWork, campaign_id: int, rate: Money, quota: int, bonus_total: Money
) -> bool:
    """True when the campaign's escrow holds at least ``escrow_needed(...)``."""
    needed = escrow_needed(rate, quota, bonus_total)
    return escrow_balance(uow, campaign_id, needed.currency) >= needed


def org_runs_campaigns(uow: UnitOfWork, campaign: Campaign) -> bool:
    """Whether the organisation running ``campaign`` is approved now (a platform
    campaign's operators always are): only then may it be funded, opened or resumed
    (``NEEDS_APPROVED_ORG``)."""
    if campaign.org_id is None:
        return True
    org = uow.get(Organisation, campaign.org_id)
    return org is not None and org.status is OrgStatus.APPROVED


def check_org_runs_campaigns(uow: UnitOfWork, campaign: Campaign) -> None:
    """``PermissionDenied`` unless ``org_runs_campaigns``: a suspended or rejected
    organisation must not put money in or take new work (it may pause and close)."""
    if not org_runs_campaigns(uow, campaign):
        raise PermissionDenied(Problem(None, "campaign.org_not_active"))


@dataclass(frozen=True)
class EscrowFunding:
    campaign_id: int
    amount: Money
    reference: str
    balance: Money  # what escrow holds now; what opening needs is required_escrow
    replayed: bool


def fund_campaign_escrow(
    uow: UnitOfWork,
    rail: PaymentRail,
    actor: Actor,
    campaign_id: int,
    amount: Money,
    idempotency_key: str,
) -> EscrowFunding:
    """A buyer pays ``amount`` into its campaign's escrow through ``rail``.

    Two entries: the charge arrives (external cash → buyer funds), then it is locked for the
    campaign (buyer funds → escrow). Repeating the same ``idempotency_key`` charges and
    books once and answers as before. Only a member of the campaign's organisation may
    fund it, and only while that organisation is approved (``PermissionDenied`` once it
    is suspended or rejected). A platform campaign (no buyer) is funded by an operator,
    the charge going straight into escrow (external cash → escrow). A closed campaign, an
    amount not above zero or in another currency than the campaign's are refused.
    """
    campaign = uow.get(Campaign, campaign_id)
    authorize(actor, Permission.ESCROW_FUND, campaign or MISSING)
    assert campaign is not None
    if campaign.org_id is None:
        # A platform campaign is paid with the instance's own money: its operators fund it.
        authorize(actor, Permission.INSTANCE_MANAGE)
    key = checked_key(idempotency_key)
    positive_amount(amount)
    if amount.currency != campaign.currency:
        raise InvalidInput(
            Problem(
                "currency",
                "escrow.wrong_currency",
                {"campaign": campaign_id, "currency": campaign.currency, "given": amount.currency},
            )
        )
    if "fund" not in campaign.actions:  # closed
        raise Conflict(Problem(None, "campaign.closed", {"campaign": campaign_id}))
    ledger = uow.ledger
    fund_key = f"escrow-fund:{campaign_id}:{key}"
    previous = ledger.entry(fund_key)
    if previous is None:
        # A repeat of a funding made while it was approved still answers as before.
        check_org_runs_campaigns(uow, campaign)
        reference = _charge_into_escrow(uow, rail, actor_label(actor), campaign, amount, fund_key)
    else:
        reference = str(previous.source.get("reference", ""))
    balance = escrow_balance(uow, campaign_id, campaign.currency)
    uow.commit()
    return EscrowFunding(campaign_id, amount, reference, balance, previous is not None)


def _charge_into_escrow(
    uow: UnitOfWork, rail: PaymentRail, label: str, campaign: Campaign, amount: Money, key: str
) -> str:
    """Charge ``amount`` through ``rail`` and book it into the campaign's escrow: for a
    buyer's campaign through its funds (two entries), for a platform campaign straight
    from the rail (the operator paid it in). Returns the rail's reference."""
    payer = f"org:{campaign.org_id}" if campaign.org_id is not None else "platform"
    campaign_id = campaign.id or 0
    reference = rail.charge(
        payer=payer,
        amount=amount,
        idempotency_key=key,
        description=f"Escrow for campaign {campaign_id}",
    )
    source = {
        "type": "escrow_fund",
        "campaign_id": campaign_id,
        "rail": rail.name,
        "reference": reference,
        "org_id": campaign.org_id,
        "payer": payer,
    }
    if campaign.org_id is None:
        entry = dl.fund_platform_escrow(campaign_id, amount, key=key, rail=rail.name, source=source)
        post(uow, entry, label)
    else:
        deposit_key = f"deposit:{rail.name}:{reference}"
        post(
            uow,
            dl.deposit(campaign.org_id, amount, key=deposit_key, rail=rail.name, source=source),
            label,
        )
        post(
            uow,
            dl.fund_escrow(campaign.org_id, campaign_id, amount, key=key, source=source),
            label,
        )
    uow.record(
        AuditTag.ESCROW_FUND,
        label,
        "campaign",
        campaign_id,
        amount_minor=amount.amount_minor,
        currency=amount.currency,
        rail=rail.name,
        reference=reference,
        payer=payer,
    )
    return reference


def pay_accepted_item(
    uow: UnitOfWork,
    campaign_id: int,
    contributor_id: int,
    amount: Money,
    item_id: int,
    *,
    actor: str = "system",
) -> Any:
    """Pay accepted work from the campaign's escrow (escrow → contributor payable).

    Keyed ``item-pay:<item_id>``: paying the same item twice books once. Raises
    ``InsufficientFunds`` when escrow cannot cover it. Does not commit.
    """
    return pay_from_escrow(
        uow,
        campaign_id,
        contributor_id,
        amount,
        item_id,
        key=f"item-pay:{item_id}",
        kind="item_pay",
        memo=f"Item {item_id} accepted in campaign {campaign_id}",
        tag=AuditTag.ESCROW_PAY,
        actor=actor,
    )


def pay_from_escrow(
    uow: UnitOfWork,
    campaign_id: int,
    contributor_id: int,
    amount: Money,
    item_id: int,
    *,
    key: str,
    kind: str,
    memo: str,
    tag: AuditTag,
    actor: str = "system",
    **details: Any,
) -> Any:
    """Pay a contributor for an item from the campaign's escrow under ``key`` (once per
    key), audited with ``tag``. ``kind`` is the entry source's type, which the statement
    shows (``item_pay``, ``floor_topup``, ``coverage_bonus``); ``details`` join the source
    and the audit event. Raises ``InsufficientFunds`` when escrow cannot cover it. Does
    not commit."""
    positive_amount(amount)
    entry = dl.pay_item_from_escrow(
        campaign_id,
        contributor_id,
        amount,
        key=key,
        memo=memo,
        source={
            "type": kind,
            "campaign_id": campaign_id,
            "item_id": item_id,
            "contributor_id": contributor_id,
            **details,
        },
    )
    stored = post(uow, entry, actor)
    if not stored.replayed:
        uow.record(
            tag,
            actor,
            "item",
            item_id,
            campaign_id=campaign_id,
            contributor_id=contributor_id,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            **details,
        )
    return stored


def close_campaign_escrow(
    uow: UnitOfWork,
    campaign_id: int,
    buyer_org_id: int | None,
    *,
    currency: str | None = None,
    keep: Money | None = None,
    final: bool = True,
    actor: str = "system",
) -> Money:
    """Return what is left in the campaign's escrow, less ``keep``, to the buyer (to
    ``platform_revenue`` when ``buyer_org_id`` is None: a platform campaign); returns
    that amount (zero when nothing is left). Does not commit.

    Two releases at most, each keyed once: the one at closing
    (``escrow-release:<campaign>:<CUR>``) keeps ``keep`` back for work still pending; the
    ``final`` one (``...:final``, when nothing is pending) returns the rest. ``final=True``
    with no ``keep`` (the default) releases everything under the first key. ``currency``
    defaults to the campaign's.
    """
    if currency is None:
        campaign = uow.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound(Problem(None, "campaign.not_found"))
        currency = campaign.currency
    account = AccountRef.escrow(campaign_id, currency)
    ledger = uow.ledger
    first_key = f"escrow-release:{campaign_id}:{currency}"
    key = first_key
    if ledger.entry(first_key) is not None:
        if not final:
            return Money.zero(currency)
        key = f"{first_key}:final"
        if ledger.entry(key) is not None:
            return Money.zero(currency)
    _, left = ledger.lock([account])[account]
    if keep is not None and keep.is_positive:
        left = left - keep
    if not left.is_positive:
        return Money.zero(currency)
    source = {"type": "escrow_release", "campaign_id": campaign_id, "org_id": buyer_org_id}
    if buyer_org_id is None:  # a platform campaign: the platform's own money comes back
        entry = dl.release_platform_escrow(campaign_id, left, key=key, source=source)
    else:
        entry = dl.release_escrow(campaign_id, buyer_org_id, left, key=key, source=source)
    post(uow, entry, actor)
    uow.record(
        AuditTag.ESCROW_RELEASE,
        actor,
        "campaign",
        campaign_id,
        amount_minor=left.amount_minor,
        currency=currency,
        org_id=buyer_org_id,
    )
    return left
