"""What people read about their money: the contributor's statement (every movement with
its source), the buyer's invoices, and the currency a statement can approximate in."""

from __future__ import annotations

from typing import Any

from babel.numbers import get_territory_currencies

from datatrust.domain import ledger as dl
from datatrust.domain.accounts import Organisation, User
from datatrust.domain.currencies import currency as currency_info
from datatrust.domain.currencies import is_known
from datatrust.domain.ledger import AccountRef, StoredEntry
from datatrust.domain.money import Money
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.listing import paged
from datatrust.services.money.common import money_out
from datatrust.services.money.fx import approx_out, fx_rates
from datatrust.services.ports import UnitOfWork


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
    uow: UnitOfWork, actor: Actor, *, show_in: str | None = None, page: int | None = None
) -> dict[str, Any]:
    """The caller's earnings: balances per currency and every movement of their payable
    account with its source (campaign and item, or sale: buyer, price, platform fee,
    share), newest first. ``show_in`` adds an approximate value in that currency from the
    operator's rates, with the rate's date (left out where no rate exists). With ``page``
    (from 1), ``lines`` holds that page of the movements (``listing.PAGE_SIZE`` a page;
    past the last, the last) and ``page`` and ``pages`` say where it lies."""
    authorize(actor, Permission.STATEMENT_READ)
    if show_in is not None:
        currency_info(show_in)  # an unknown currency → InvalidInput naming it
    user_id = actor.user_id
    assert user_id is not None
    ledger = uow.ledger
    # One read for every account and its balance, however many currencies they are in.
    held = ledger.balances_of(f"user:{user_id}")
    accounts = list(held)

    def balance(ref: AccountRef) -> Money:
        return held.get(ref, Money.zero(ref.currency))

    rates = fx_rates(uow) if show_in else []
    balances = []
    for currency in sorted({a.currency for a in accounts}):
        available = balance(AccountRef.contributor_payable(user_id, currency))
        in_transit = balance(AccountRef.payouts_in_transit(user_id, currency))
        balances.append(
            {
                "currency": currency,
                "available": money_out(available),
                "in_transit": money_out(in_transit),
                "available_approx": approx_out(available, show_in, rates),
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
                "approx": approx_out(amount, show_in, rates),
                "source": _credit_source(entry, user_id),
            }
        )
    statement: dict[str, Any] = {"user_id": user_id, "balances": balances, "lines": lines}
    if page is not None:
        shown = paged(lines, page)
        statement.update(lines=shown.rows, page=shown.page, pages=shown.pages)
    return statement


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
