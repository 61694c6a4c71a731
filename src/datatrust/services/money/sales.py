"""Sales paid from a buyer's funds (the platform fee off the top, each contributor their
royalty share) and the top-ups that fill those funds."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import cast

from datatrust.domain import ledger as dl
from datatrust.domain.audit import AuditTag
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.ledger import AccountRef, JournalEntry
from datatrust.domain.money import Money
from datatrust.domain.permissions import Actor, Permission, authorize
from datatrust.domain.policy import DEFAULT_PLATFORM_FEE_PERCENT
from datatrust.services.accounts import actor_label
from datatrust.services.money.common import checked_key, positive_amount, post
from datatrust.services.money.ports import PaymentRail
from datatrust.services.ports import UnitOfWork

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
    key = checked_key(sale_key, "sale_key")
    positive_amount(price, "price")
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
    key = checked_key(idempotency_key)
    positive_amount(amount)
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
