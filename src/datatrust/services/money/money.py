"""Money services: escrow, paying accepted work, sales with royalties, payouts, statements,
FX display rates and the ledger check (DESIGN.md §5 Money).

Every movement is a ledger entry posted through ``uow.ledger`` (the SQL ledger
locks the accounts it touches and refuses an overdraft) with an audit event in the same
transaction. Entries are keyed, so each function here is safe to call twice:

=========================  ======================================  =====================
function                   entry key                               commits?
=========================  ======================================  =====================
fund_campaign_escrow       ``deposit:<rail>:<ref>``,               yes (an intention)
                           ``escrow-fund:<campaign>:<key>``
pay_accepted_item          ``item-pay:<item_id>``                  no (a building block)
close_campaign_escrow      ``escrow-release:<campaign>:<CUR>``     no
record_sale                ``sale:<sale_key>``                     no
request_payout             ``payout:<id>:request``                 yes
request_weekly_payouts     ``payout:<id>:request`` (payout keyed   yes, per contributor
                           ``weekly:<year>-W<week>:<CUR>``)
pay_from_escrow            the caller's (``floor-topup:…``,        no
                           ``coverage-bonus:<h3 cell>``)
run_payout_batch           ``payout:<id>:settle`` / ``:fail``      yes, per payout
=========================  ======================================  =====================

Building blocks take the caller's unit of work and leave committing to it, so the
campaigns and sales services can pay in the same transaction as their own change.

Payouts are at-least-once towards the provider and exactly-once in effect: a batch
claims a payout (``sending``, with its batch id and a time-limited claim, by a conditional
update) and commits *before* the provider is called, and the provider is given the
payout's key, which it must treat as an idempotency key. Two batches running at once
never hold the same payout. A batch that dies anywhere (even SIGKILL) leaves payouts
``requested`` or ``sending``; the next batch takes over the ``sending`` ones once their
claim has lapsed (at once if the batch failed or its process is gone), sends them again
under the same key (the provider pays once) and posts the settle or fail entry under its
fixed key (the ledger books once).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, cast

from babel.numbers import get_territory_currencies

from datatrust.domain import ledger as dl
from datatrust.domain.accounts import Organisation, User
from datatrust.domain.audit import AuditTag
from datatrust.domain.campaigns import Campaign, CampaignState
from datatrust.domain.clock import utcnow
from datatrust.domain.currencies import currency as currency_info
from datatrust.domain.currencies import is_known
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, Problem
from datatrust.domain.fx import FxRateRow, Rate, RateNotFound, approximate
from datatrust.domain.ids import id_of
from datatrust.domain.ledger import AccountRef, InsufficientFunds, JournalEntry, StoredEntry
from datatrust.domain.money import Money
from datatrust.domain.notifications import NoticeKind
from datatrust.domain.payout_methods import PayoutDestination
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.domain.policy import DEFAULT_PLATFORM_FEE_PERCENT
from datatrust.services.accounts import actor_label, money_params, notify
from datatrust.services.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 120


# -- records ----------------------------------------------------------------------------


# -- ports ------------------------------------------------------------------------------


class PaymentFailed(Conflict):
    code = "payment_failed"


class PaymentRail(Protocol):
    """Takes money from a buyer (card, bank transfer). ``name`` is the rail's ledger name
    (``external_cash:<name>:CUR``), lower-case letters, digits, ``_`` or ``-``."""

    name: str

    def charge(self, *, payer: str, amount: Money, idempotency_key: str, description: str) -> str:
        """Charge ``amount`` once per ``idempotency_key`` and return the rail's reference
        (the same reference for a repeated key). Raises ``PaymentFailed`` when refused."""
        ...


@dataclass(frozen=True)
class PayoutInstruction:
    key: str  # the idempotency key: the provider must pay each key at most once
    payout_id: int
    user_id: int
    amount: Money
    destination: PayoutDestination | None = None  # None: no method known (a plain export)


@dataclass(frozen=True)
class PayoutOutcome:
    settled: bool
    reference: str = ""
    reason: str = ""


class PayoutProvider(Protocol):
    """Pays contributors (bank, mobile money, Stripe Connect …). ``name`` as for a rail."""

    name: str

    def send(self, instruction: PayoutInstruction) -> PayoutOutcome:
        """Pay ``instruction.amount`` once per ``instruction.key``; a repeated key returns
        the first outcome without paying again."""
        ...


# -- helpers ----------------------------------------------------------------------------


def _money(amount: object, what: str = "amount") -> Money:
    if not isinstance(amount, Money):
        raise InvalidInput(Problem(what, "money.not_money", {"given": type(amount).__name__}))
    if not amount.is_positive:
        raise InvalidInput(Problem(what, "money.not_positive", {"given": amount}))
    return amount


def _key(key: object, what: str = "idempotency_key") -> str:
    if (
        not isinstance(key, str)
        or not key.strip()
        or len(key) > MAX_KEY_LENGTH
        or not key.isprintable()
    ):
        raise InvalidInput(Problem(what, "idempotency_key.invalid", {"maximum": MAX_KEY_LENGTH}))
    return key.strip()


def money_out(amount: Money) -> dict[str, Any]:
    """The public shape of an amount: exact minor units, currency, and a display string."""
    return {
        "amount_minor": amount.amount_minor,
        "currency": amount.currency,
        "display": amount.format(),
    }


def post(uow: UnitOfWork, entry: JournalEntry, actor: str, **kwargs: Any) -> Any:
    """Post ``entry`` and audit it (``ledger:post``) unless it was already posted."""
    stored = uow.ledger.post(entry, **kwargs)
    if not stored.replayed:
        uow.record(
            AuditTag.LEDGER_POST,
            actor,
            "journal_entry",
            entry.key,
            postings=[[str(p.account), p.amount.amount_minor] for p in entry.postings],
        )
    return stored


# -- escrow -----------------------------------------------------------------------------


def required_escrow(rate: Money, quota: int, bonus_total: Money) -> Money:
    """What escrow must hold before a campaign opens: ``rate × quota + bonus_total``.

    ``rate`` must be positive, ``quota`` a whole number above zero, ``bonus_total`` zero or
    more in the same currency (``CurrencyMismatch`` otherwise).
    """
    _money(rate, "rate")
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
    """True when the campaign's escrow holds at least ``required_escrow(...)``."""
    needed = required_escrow(rate, quota, bonus_total)
    return escrow_balance(uow, campaign_id, needed.currency) >= needed


@dataclass(frozen=True)
class EscrowFunding:
    campaign_id: int
    amount: Money
    reference: str
    balance: Money  # what escrow holds now; what opening needs is campaigns.required_escrow
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
    fund it. A platform campaign (no buyer) is funded by an operator, the charge going
    straight into escrow (external cash → escrow). A closed campaign, an amount not above
    zero or in another currency than the campaign's are refused.
    """
    campaign = uow.get(Campaign, campaign_id)
    authorize(actor, Permission.ESCROW_FUND, campaign or MISSING)
    assert campaign is not None
    if campaign.org_id is None:
        # A platform campaign is paid with the instance's own money: its operators fund it.
        authorize(actor, Permission.INSTANCE_MANAGE)
    key = _key(idempotency_key)
    _money(amount)
    if amount.currency != campaign.currency:
        raise InvalidInput(
            Problem(
                "currency",
                "escrow.wrong_currency",
                {"campaign": campaign_id, "currency": campaign.currency, "given": amount.currency},
            )
        )
    if campaign.state is CampaignState.CLOSED:
        raise Conflict(Problem(None, "campaign.closed", {"campaign": campaign_id}))
    ledger = uow.ledger
    fund_key = f"escrow-fund:{campaign_id}:{key}"
    previous = ledger.entry(fund_key)
    if previous is None:
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
    _money(amount)
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


# -- sales ------------------------------------------------------------------------------


SaleLineIn = tuple[int, Money, int | str | Decimal, int]  # contributor, price, royalty %, item


def record_sale(
    uow: UnitOfWork,
    buyer_org_id: int,
    price: Money,
    items: Sequence[SaleLineIn],
    sale_key: str,
    *,
    platform_fee_percent: int | str | Decimal = DEFAULT_PLATFORM_FEE_PERCENT,
    actor: str = "system",
) -> dl.SaleSplit:
    """Book a sale paid from the buyer's funds: the platform fee off the top, then each
    item's contributor their royalty share (``domain.ledger.sale`` documents the split).

    ``items`` are ``(contributor_id, item_price, royalty_percent, item_id)``. Pass the
    instance's ``settings.platform_fee_percent``. Keyed ``sale:<sale_key>``; the entry's
    source records every line so statements and invoices can show buyer paid, platform fee
    and contributor share. Raises ``InsufficientFunds`` if the buyer's funds do not cover
    the price. Does not commit.
    """
    key = _key(sale_key, "sale_key")
    _money(price, "price")
    # Lists are taken too (JSON callers); the length is checked before the lines are typed.
    untyped = [tuple(line) for line in items]
    if any(len(line) != 4 for line in untyped):
        raise InvalidInput(Problem("items", "sale.item_shape"))
    lines_in = cast(list[SaleLineIn], untyped)
    split = dl.sale(
        buyer_org_id,
        price,
        platform_fee_percent,
        [(c, p, r) for c, p, r, _ in lines_in],
        key=f"sale:{key}",
    )
    source = {
        "type": "sale",
        "sale_key": key,
        "buyer_org_id": buyer_org_id,
        "currency": price.currency,
        "price_minor": price.amount_minor,
        "platform_fee_minor": split.platform_fee.amount_minor,
        "platform_fee_percent": str(platform_fee_percent),
        "lines": [
            {
                "item_id": item_id,
                "contributor_id": line.contributor_id,
                "royalty_percent": str(royalty),
                "item_price_minor": line.item_price.amount_minor,
                "item_net_minor": line.item_net.amount_minor,
                "share_minor": line.contributor_share.amount_minor,
            }
            for (_, _, royalty, item_id), line in zip(lines_in, split.lines, strict=True)
        ],
    }
    entry = JournalEntry(
        split.entry.key, f"Sale {key} to org:{buyer_org_id}", split.entry.postings, source
    )
    stored = post(uow, entry, actor)
    if not stored.replayed:
        uow.record(
            AuditTag.SALE_RECORD,
            actor,
            "sale",
            key,
            org_id=buyer_org_id,
            price_minor=price.amount_minor,
            currency=price.currency,
            platform_fee_minor=split.platform_fee.amount_minor,
        )
    return split


def deposit_buyer_funds(
    uow: UnitOfWork, rail: PaymentRail, actor: Actor, amount: Money, idempotency_key: str
) -> Money:
    """A buyer tops up its organisation's funds (to pay for snapshots). Returns the new
    balance. Repeating the key charges once."""
    authorize(actor, Permission.ESCROW_FUND)
    if actor.org_id is None:
        raise Conflict(Problem(None, "organisation.required"))
    key = _key(idempotency_key)
    _money(amount)
    ledger = uow.ledger
    topup_key = f"topup:{actor.org_id}:{key}"
    if ledger.entry(topup_key) is None:
        reference = rail.charge(
            payer=f"org:{actor.org_id}",
            amount=amount,
            idempotency_key=topup_key,
            description="Buyer funds top-up",
        )
        post(
            uow,
            dl.deposit(
                actor.org_id,
                amount,
                key=topup_key,
                rail=rail.name,
                source={
                    "type": "deposit",
                    "rail": rail.name,
                    "reference": reference,
                    "org_id": actor.org_id,
                },
            ),
            actor_label(actor),
        )
        uow.record(
            AuditTag.FUNDS_DEPOSIT,
            actor_label(actor),
            "org",
            actor.org_id,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
        )
    balance = ledger.balance(AccountRef.buyer_funds(actor.org_id, amount.currency))
    uow.commit()
    return balance


# -- payouts ----------------------------------------------------------------------------


def minimum_payout(uow: UnitOfWork, currency: str, minimum: Money) -> Money:
    """``minimum`` (``InstancePolicy.minimum_payout``), or its value in ``currency`` at the
    newest operator rate (rounded to the nearest minor unit). With no rate for the
    currency, any amount above zero is allowed: refusing every payout for want of a rate
    would keep contributors' money from them."""
    if currency == minimum.currency:
        return minimum
    try:
        return approximate(minimum, currency, fx_rates(uow)).money
    except RateNotFound:
        return Money(1, currency)


@dataclass(frozen=True)
class PayoutRequested:
    payout: Payout
    replayed: bool


def request_payout(
    uow: UnitOfWork,
    actor: Actor,
    amount: Money,
    idempotency_key: str,
    *,
    minimum: Money,
    method_id: int | None = None,
) -> PayoutRequested:
    """Set ``amount`` of the caller's earnings aside for the next payout batch.

    The same ``idempotency_key`` again returns the first payout (``replayed``) and moves no
    money, however many times and however concurrently it is sent: the contributor's
    payable account is locked first, so identical requests queue and each later one finds
    the first. The key with a different amount is a ``Conflict``. Refused: an amount not
    above zero, below ``minimum`` (the instance's, ``InstancePolicy.minimum_payout``, converted
    by ``minimum_payout`` for another currency), or above the available balance
    (``InsufficientFunds``). ``method_id``: where it is to be paid, already checked by the
    caller (``services.payouts.request_payout_to``).

    Every way out ends the transaction (a replay commits nothing, a refusal rolls back), so
    the account's lock is released before this returns, not when the caller's unit of work
    closes: a route's unit of work closes after its response is sent, and every identical
    request queued behind a lock held that long (issue 12: 100 identical requests, 59-66
    of them 500s).
    """
    authorize(actor, Permission.PAYOUT_REQUEST)
    key = _key(idempotency_key)
    _money(amount)
    assert actor.user_id is not None
    with _one_transaction(uow):
        requested = _request_payout(uow, actor.user_id, amount, key, minimum, actor_label(actor))
        if not requested.replayed:
            requested.payout.method_id = method_id
        return requested


@contextmanager
def _one_transaction(uow: UnitOfWork) -> Iterator[None]:
    """Commit what the block did when it ends normally (``return`` and ``continue``
    included), roll it back when it raises: either way the transaction, and every row lock
    it took, ends here. Objects read in the block stay readable after a commit."""
    try:
        yield
    except BaseException:
        uow.rollback()
        raise
    uow.commit()


def _request_payout(
    uow: UnitOfWork, user_id: int, amount: Money, key: str, minimum: Money, actor: str
) -> PayoutRequested:
    payable = AccountRef.contributor_payable(user_id, amount.currency)
    _, available = uow.ledger.lock([payable])[payable]
    existing = uow.one(Payout, user_id=user_id, idempotency_key=key)
    if existing is not None:
        if existing.amount != amount:
            raise Conflict(
                Problem(
                    "idempotency_key", "payout.key_reused", {"key": key, "amount": existing.amount}
                ),
                {"payout_id": existing.id},
            )
        return PayoutRequested(existing, True)
    minimum = minimum_payout(uow, amount.currency, minimum)
    if amount < minimum:
        raise InvalidInput(
            Problem("amount", "payout.below_minimum", {"minimum": minimum, "asked": amount}),
            minimum=money_out(minimum),
        )
    if amount > available:
        raise InsufficientFunds(
            Problem(
                "amount", "payout.more_than_available", {"asked": amount, "available": available}
            ),
            {"available": money_out(available)},
        )
    return PayoutRequested(_set_aside(uow, user_id, amount, key, actor), False)


def _set_aside(uow: UnitOfWork, user_id: int, amount: Money, key: str, actor: str) -> Payout:
    """Create the payout and move its amount from payable to in transit (the caller has
    locked the payable account and checked the balance). Does not commit."""
    payout = Payout(user_id, key, amount.amount_minor, amount.currency)
    uow.add(payout)
    uow.flush()
    post(
        uow,
        dl.payout_request(
            user_id,
            amount,
            key=f"{payout.key}:request",
            source={"type": "payout_request", "payout_id": payout.id},
        ),
        actor,
    )
    uow.record(
        AuditTag.PAYOUT_REQUEST,
        actor,
        "payout",
        payout.id,
        amount_minor=amount.amount_minor,
        currency=amount.currency,
    )
    return payout


def weekly_payout_key(day: date, currency: str) -> str:
    """``weekly:<ISO year>-W<week>:<CUR>``: one weekly payout per contributor, week and
    currency."""
    year, week, _ = day.isocalendar()
    return f"weekly:{year}-W{week:02d}:{currency}"


def request_weekly_payouts(
    uow: UnitOfWork, minimum: Money, *, today: date | None = None
) -> list[Payout]:
    """Set aside, for the next batch, every contributor's whole available balance that is
    at least ``minimum`` (``InstancePolicy.minimum_payout``, converted per currency as for a
    request). Keyed per contributor, ISO week and currency (``weekly_payout_key``), so a
    second run in the same week pays nobody twice. One transaction per contributor, each
    ended (committed, or rolled back on an error) before the next; no transaction is left
    open on return, so the batch that follows in the same job does not wait on it
    (SQLite: its write lock). Returns the payouts created by this run."""
    day = today or utcnow().date()
    created = []
    with _one_transaction(uow):
        payables = [
            ref
            for ref in uow.ledger.stored_balances()
            if ref.kind is dl.AccountKind.CONTRIBUTOR_PAYABLE
        ]
    for ref in sorted(payables, key=str):
        user_id = int(ref.owner_ref.split(":", 1)[1])
        key = weekly_payout_key(day, ref.currency)
        with _one_transaction(uow):
            _, available = uow.ledger.lock([ref])[ref]
            if uow.one(Payout, user_id=user_id, idempotency_key=key) is not None:
                continue
            if available.is_positive and available >= minimum_payout(uow, ref.currency, minimum):
                created.append(_set_aside(uow, user_id, available, key, "system"))
    return created


def list_payouts(uow: UnitOfWork, actor: Actor) -> list[Payout]:
    authorize(actor, Permission.STATEMENT_READ)
    return uow.all(Payout, order_by="-id", user_id=actor.user_id)


def schedule_payout_batch(uow: UnitOfWork, actor: Actor) -> int:
    """Queue a ``payouts.run_batch`` job (operator); returns how many payouts wait."""
    authorize(actor, Permission.PAYOUT_RUN)
    waiting = uow.count(Payout, state=PayoutState.REQUESTED) + uow.count(
        Payout, state=PayoutState.SENDING
    )
    uow.enqueue("payouts.run_batch", {"requested_by": actor_label(actor)})
    uow.commit()
    return waiting


@dataclass
class BatchReport:
    batch_id: str
    claimed: int = 0  # requested payouts this batch claimed
    taken_over: int = 0  # sending payouts it took over from a batch that was gone
    settled: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


PAYOUT_CLAIM_SECONDS = 300  # as long as a job's lease (Settings.job_lease_seconds' default)


def run_payout_batch(
    uow_factory: UnitOfWorkFactory,
    provider: PayoutProvider,
    *,
    limit: int = 500,
    claim_seconds: int = PAYOUT_CLAIM_SECONDS,
    destinations: Callable[[UnitOfWork, Payout], PayoutDestination | None] | None = None,
) -> BatchReport:
    """Send the payouts this batch claims through ``provider`` and book the outcome.

    1. Claim, with conditional updates committed before any money moves: up to ``limit``
       ``requested`` payouts become ``sending`` with this batch's id, this process's name
       (``this_process``) and a claim lasting ``claim_seconds``; and ``sending`` payouts
       whose claim no longer holds are taken over (a batch that failed gave its claims
       up; one that was killed left a claim that ran out or names a process on this host
       that no longer exists). Of two batches running at once, each payout goes to one:
       a batch never sends a payout another live batch holds.
    2. For each payout it holds, in id order: confirm the claim and renew it (every
       payout's claim at least every third of ``claim_seconds``), call the provider with
       the payout's key, then in its own transaction (the payout row locked, still
       ``sending`` and still this batch's) post settle (in transit → external cash) or
       fail (in transit → payable, the clean reversal of the request).

    If anything raises, the batch gives up the claims it has not booked, so the next
    batch sends them again at once, under the same key (the provider pays once); a batch
    that cannot even do that leaves them to the next batch once their claim runs out.
    ``destinations`` says where each payout goes (``services.payouts.destination_for``);
    without it instructions carry none.
    A provider call slower than ``claim_seconds`` can lose its claim to another batch,
    which then sends the same key again: that is why providers must pay each key once.
    """
    report = BatchReport(batch_id=uuid.uuid4().hex[:16])
    me = this_process()

    def lease() -> datetime:
        return utcnow() + timedelta(seconds=claim_seconds)

    with uow_factory() as uow, _one_transaction(uow):
        gone = [c for c in uow.payouts.claimers() if process_gone(c)]
    with uow_factory() as uow, _one_transaction(uow):
        claims, batch = uow.payouts, report.batch_id
        report.taken_over = len(claims.take_over(batch, me, provider.name, utcnow(), lease(), gone))
        report.claimed = len(claims.claim(batch, me, provider.name, lease(), limit))
    with uow_factory() as uow, _one_transaction(uow):
        held = [
            PayoutInstruction(f"payout:{p.id}", id_of(p), p.user_id, p.amount, destinations(uow, p))
            if destinations is not None
            else PayoutInstruction(f"payout:{p.id}", id_of(p), p.user_id, p.amount)
            for p in uow.all(
                Payout, order_by="id", state=PayoutState.SENDING, batch_id=report.batch_id
            )
        ]
    try:
        _send_held(uow_factory, provider, report, held, lease, claim_seconds)
    except BaseException:
        _give_up_claims(uow_factory, report.batch_id)
        raise
    return report


def _send_held(
    uow_factory: UnitOfWorkFactory,
    provider: PayoutProvider,
    report: BatchReport,
    held: list[PayoutInstruction],
    lease: Callable[[], datetime],
    claim_seconds: int,
) -> None:
    renew_all_at = 0  # monotonic nanoseconds: no floats in the money modules
    for instruction in held:
        payout_id = instruction.payout_id
        renew_all = time.monotonic_ns() >= renew_all_at
        with uow_factory() as uow, _one_transaction(uow):
            still = uow.payouts.renew(report.batch_id, lease(), None if renew_all else [payout_id])
        if renew_all:
            renew_all_at = time.monotonic_ns() + claim_seconds * 1_000_000_000 // 3
        if payout_id not in still:
            continue  # our claim ran out and another batch took it over: it sends it
        outcome = provider.send(instruction)
        with uow_factory() as uow, _one_transaction(uow):
            payout = uow.get_for_update(Payout, payout_id)
            if (
                payout is None
                or payout.state is not PayoutState.SENDING
                or payout.batch_id != report.batch_id
            ):
                continue  # another batch took it over meanwhile and books it
            _book_outcome(uow, payout, provider.name, outcome)
        (report.settled if outcome.settled else report.failed).append(payout_id)


def _give_up_claims(uow_factory: UnitOfWorkFactory, batch_id: str) -> None:
    try:
        with uow_factory() as uow, _one_transaction(uow):
            uow.payouts.release(batch_id)
    except Exception:  # the original error matters more; the claims run out on their own
        log.warning("could not give up the payout claims of batch %s", batch_id, exc_info=True)


# -- which process holds a claim ------------------------------------------------------------

_PROCESS: tuple[int, str] = (0, "")


def this_process() -> str:
    """This process's name in payout claims: ``host|machine scope|pid|token``. The scope
    (this boot and PID namespace, empty where unknown) lets ``process_gone`` judge only
    processes it can see; the token tells this process from a later one given its pid."""
    global _PROCESS
    pid = os.getpid()
    if _PROCESS[0] != pid:  # first call, or a forked child
        host = socket.gethostname()[:64].replace("|", "-")
        _PROCESS = (pid, f"{host}|{_machine_scope()}|{pid}|{uuid.uuid4().hex[:8]}")
    return _PROCESS[1]


def process_gone(name: str) -> bool:
    """True only when the process ``name`` (``this_process``) ran in this boot and PID
    namespace and no process has its pid now: it died (a SIGKILL gives it no chance to
    give its claims up). Anything else, a process on another machine, in another
    container, or of unknown scope, is presumed alive until its claim runs out; a pid
    reused since also reads as alive, which only makes the takeover wait for that."""
    parts = name.split("|")
    scope = _machine_scope()
    if len(parts) != 4 or not scope or parts[1] != scope or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, but belongs to another user
        return False
    return False


def _machine_scope() -> str:
    """``<boot id>/<pid namespace>`` on Linux (a pid names one process only within both),
    else ``""``."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return f"{boot}/{namespace}"


def _book_outcome(uow: UnitOfWork, payout: Payout, rail: str, outcome: PayoutOutcome) -> None:
    source = {"type": "payout", "payout_id": payout.id, "reference": outcome.reference}
    payout.updated_at = utcnow()
    payout.provider_ref = outcome.reference or None
    payout.lease_until = None  # booked: the claim ends
    if outcome.settled:
        post(
            uow,
            dl.payout_settle(
                payout.user_id, payout.amount, key=f"{payout.key}:settle", rail=rail, source=source
            ),
            "system",
        )
        payout.state = PayoutState.SETTLED
        notify(uow, payout.user_id, NoticeKind.PAYOUT_PAID, **money_params(payout.amount))
        uow.record(
            AuditTag.PAYOUT_SETTLE,
            "system",
            "payout",
            payout.id,
            reference=outcome.reference,
            provider=rail,
        )
    else:
        post(
            uow,
            dl.payout_fail(
                payout.user_id,
                payout.amount,
                key=f"{payout.key}:fail",
                source={**source, "reason": outcome.reason},
            ),
            "system",
            reverses_key=f"{payout.key}:request",
        )
        payout.state = PayoutState.FAILED
        payout.failure_reason = outcome.reason or "refused by the provider"
        notify(uow, payout.user_id, NoticeKind.PAYOUT_FAILED, **money_params(payout.amount))
        uow.record(
            AuditTag.PAYOUT_FAIL,
            "system",
            "payout",
            payout.id,
            reason=payout.failure_reason,
            provider=rail,
        )


# -- FX display rates -------------------------------------------------------------------


def set_fx_rate(
    uow: UnitOfWork, actor: Actor, base: str, quote: str, rate: str, as_of: date
) -> FxRateRow:
    """Record an operator-supplied display rate (``1 base = rate quote`` on ``as_of``);
    setting the same pair and date again replaces the rate. ``rate`` is a decimal string
    (``"18.25"``), stored exactly as written (normalised: no exponent, no trailing zeros);
    a float, a zero or negative rate, an unknown currency or the same currency twice is
    ``InvalidInput`` naming the problem."""
    authorize(actor, Permission.INSTANCE_MANAGE)
    if not isinstance(rate, str):
        raise InvalidInput(Problem("rate", "fx.rate_as_text", {"given": type(rate).__name__}))
    base, quote = base.strip().upper(), quote.strip().upper()
    checked = Rate(base, quote, rate, as_of)  # validates currencies, date and rate
    exact = _plain_decimal(rate)
    row = uow.one(FxRateRow, base=checked.base, quote=checked.quote, as_of=as_of)
    if row is None:
        row = FxRateRow(checked.base, checked.quote, exact, as_of)
        uow.add(row)
    else:
        row.rate = exact
    uow.record(
        AuditTag.FX_RATE_SET,
        actor_label(actor),
        "fx_rate",
        f"{base}/{quote}",
        rate=row.rate,
        as_of=as_of.isoformat(),
    )
    uow.commit()
    return row


def _plain_decimal(rate: str) -> str:
    """``"18.2500"`` → ``"18.25"``, ``"1E+2"`` → ``"100"``: one spelling per value."""
    text = format(Decimal(rate.strip()), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def list_fx_rates(uow: UnitOfWork, actor: Actor) -> list[FxRateRow]:
    """Every operator-supplied rate, newest date first (operators)."""
    authorize(actor, Permission.INSTANCE_MANAGE)
    return sorted(
        uow.all(FxRateRow, order_by="id"), key=lambda r: (r.as_of, r.id or 0), reverse=True
    )


def fx_rate_out(row: FxRateRow) -> dict[str, Any]:
    return {"base": row.base, "quote": row.quote, "rate": row.rate, "as_of": row.as_of.isoformat()}


def fx_rates(uow: UnitOfWork) -> list[Rate]:
    return [Rate(r.base, r.quote, r.rate, r.as_of) for r in uow.all(FxRateRow, order_by="id")]


def _approx(amount: Money, to: str | None, rates: list[Rate]) -> dict[str, Any] | None:
    if not to or to == amount.currency:
        return None
    try:
        found = approximate(amount, to, rates)
    except RateNotFound:
        return None
    return {
        **money_out(found.money),
        "rate_date": found.as_of.isoformat() if found.as_of else None,
        "approximate": True,
    }


# -- statements -------------------------------------------------------------------------


def _credit_source(entry: Any, user_id: int) -> dict[str, Any]:
    source = entry.source
    kind = source.get("type")
    if kind == "item_pay":
        return {
            "kind": "item",
            "campaign_id": source.get("campaign_id"),
            "item_id": source.get("item_id"),
        }
    if kind == "floor_topup":
        return {
            "kind": "floor_topup",
            "campaign_id": source.get("campaign_id"),
            "item_id": source.get("item_id"),
            "new_rate_minor": source.get("rate_minor"),
            "why": "the measured effort put the campaign's rate below the pay floor",
        }
    if kind == "coverage_bonus":
        return {
            "kind": "coverage_bonus",
            "campaign_id": source.get("campaign_id"),
            "item_id": source.get("item_id"),
            "h3_cell": source.get("h3_cell"),
            "why": "the first accepted recording from this place",
        }
    if kind == "sale":
        currency = source["currency"]
        mine = [
            line
            for line in source.get("lines", [])
            if str(line.get("contributor_id")) == str(user_id)
        ]
        return {
            "kind": "sale",
            "sale": source.get("sale_key"),
            "buyer_org_id": source.get("buyer_org_id"),
            "buyer_paid": money_out(Money(source["price_minor"], currency)),
            "platform_fee": money_out(Money(source["platform_fee_minor"], currency)),
            "items": [
                {
                    "item_id": line["item_id"],
                    "royalty_percent": line["royalty_percent"],
                    "item_price": money_out(Money(line["item_price_minor"], currency)),
                    "share": money_out(Money(line["share_minor"], currency)),
                }
                for line in mine
            ],
        }
    if kind in ("payout_request", "payout"):
        return {
            "kind": "payout",
            "payout_id": source.get("payout_id"),
            "reason": source.get("reason"),
        }
    return {"kind": kind or "other"}


def home_currency(uow: UnitOfWork, actor: Actor) -> str | None:
    """The currency the caller chose in their profile, else that of their country (CLDR's
    tender currency for it today), in which a statement can show approximate values;
    None when neither is known."""
    user = uow.get(User, actor.user_id) if actor.user_id is not None else None
    if user is not None and user.currency and is_known(user.currency):
        return user.currency
    if user is None or not user.country:
        return None
    try:
        found = get_territory_currencies(user.country.upper(), tender=True)
    except ValueError:  # not a territory CLDR knows
        return None
    return next((code for code in found if is_known(code)), None)


def contributor_statement(
    uow: UnitOfWork, actor: Actor, *, show_in: str | None = None
) -> dict[str, Any]:
    """The caller's earnings: balances per currency and every movement of their payable
    account with its source (campaign and item, or sale: buyer, price, platform fee,
    share), newest first. ``show_in`` adds an approximate value in that currency from the
    operator's rates, with the rate's date (left out where no rate exists)."""
    authorize(actor, Permission.STATEMENT_READ)
    if show_in is not None:
        currency_info(show_in)  # an unknown currency → InvalidInput naming it
    user_id = actor.user_id
    assert user_id is not None
    ledger = uow.ledger
    accounts = ledger.accounts_of(f"user:{user_id}")
    rates = fx_rates(uow) if show_in else []
    balances = []
    for currency in sorted({a.currency for a in accounts}):
        available = ledger.balance(AccountRef.contributor_payable(user_id, currency))
        in_transit = ledger.balance(AccountRef.payouts_in_transit(user_id, currency))
        balances.append(
            {
                "currency": currency,
                "available": money_out(available),
                "in_transit": money_out(in_transit),
                "available_approx": _approx(available, show_in, rates),
            }
        )
    lines = []
    payables = [a for a in accounts if a.kind is dl.AccountKind.CONTRIBUTOR_PAYABLE]
    for entry in reversed(ledger.entries_touching(payables)):
        paid_in = _entry_currency(entry, payables)
        if paid_in is None:
            continue
        amount = entry.amount_for(AccountRef.contributor_payable(user_id, paid_in))
        if amount.is_zero:
            continue
        lines.append(
            {
                "at": entry.created_at.isoformat(),
                "entry": entry.key,
                "memo": entry.memo,
                "amount": money_out(amount),
                "approx": _approx(amount, show_in, rates),
                "source": _credit_source(entry, user_id),
            }
        )
    return {"user_id": user_id, "balances": balances, "lines": lines}


def _entry_currency(entry: StoredEntry, accounts: list[AccountRef]) -> str | None:
    for posting in entry.postings:
        if posting.account in accounts:
            return posting.account.currency
    return None


def buyer_invoices(uow: UnitOfWork, actor: Actor, org_id: int) -> dict[str, Any]:
    """An organisation's invoices, newest first: every sale (price, platform fee, what went
    to contributors, per item) and every escrow funding, and its funds' balances. Buyers
    of that organisation and operators only; contributors are shown by item, not name."""
    org = uow.get(Organisation, org_id)
    authorize(actor, Permission.INVOICE_READ, org or MISSING)
    ledger = uow.ledger
    accounts = ledger.accounts_of(f"org:{org_id}")
    invoices = []
    for entry in reversed(ledger.entries_touching(accounts)):
        source = entry.source
        if source.get("type") == "sale":
            currency = source["currency"]
            shares = sum(line["share_minor"] for line in source["lines"])
            invoices.append(
                {
                    "invoice": entry.key,
                    "kind": "sale",
                    "at": entry.created_at.isoformat(),
                    "price": money_out(Money(source["price_minor"], currency)),
                    "platform_fee": money_out(Money(source["platform_fee_minor"], currency)),
                    "platform_fee_percent": source["platform_fee_percent"],
                    "to_contributors": money_out(Money(shares, currency)),
                    "platform_total": money_out(Money(source["price_minor"] - shares, currency)),
                    "items": [
                        {
                            "item_id": line["item_id"],
                            "item_price": money_out(Money(line["item_price_minor"], currency)),
                            "royalty_percent": line["royalty_percent"],
                            "contributor_share": money_out(Money(line["share_minor"], currency)),
                        }
                        for line in source["lines"]
                    ],
                }
            )
        elif entry.key.startswith("escrow-fund:"):
            escrow = AccountRef.escrow(
                source["campaign_id"], _entry_currency(entry, accounts) or "USD"
            )
            invoices.append(
                {
                    "invoice": entry.key,
                    "kind": "escrow_funding",
                    "at": entry.created_at.isoformat(),
                    "campaign_id": source.get("campaign_id"),
                    "price": money_out(entry.amount_for(escrow)),
                    "rail": source.get("rail"),
                    "reference": source.get("reference"),
                }
            )
    balances = [{"account": str(a), "balance": money_out(ledger.balance(a))} for a in accounts]
    return {"org_id": org_id, "balances": balances, "invoices": invoices}


# -- the check --------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerCheck:
    report: dl.LedgerReport
    accounts: int
    totals: dict[str, dict[str, int]]  # currency -> account kind -> balance minor

    @property
    def ok(self) -> bool:
        return self.report.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.report.entries_checked,
            "accounts": self.accounts,
            "totals": self.totals,
            "problems": self.report.problems(),
        }


def check_ledger(uow: UnitOfWork, actor: Actor) -> LedgerCheck:
    """Recompute every balance from the postings and compare it with the cached one; check
    every entry balances per currency and every key is unique. Reconciliation totals per
    currency and account kind sum to zero when the books balance."""
    authorize(actor, Permission.LEDGER_READ)
    ledger = uow.ledger
    stored = ledger.stored_balances()
    report = dl.check(ledger.all_entries(), stored)
    totals: dict[str, dict[str, int]] = {}
    for account, balance in stored.items():
        per_kind = totals.setdefault(account.currency, {})
        per_kind[account.kind.value] = per_kind.get(account.kind.value, 0) + balance.amount_minor
    for per_kind in totals.values():
        per_kind["sum"] = sum(per_kind.values())
    return LedgerCheck(report, len(stored), totals)
