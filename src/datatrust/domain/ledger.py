"""Double-entry ledger rules: accounts, postings, journal entries, balances and the check.

**Sign convention.** A posting's amount is positive for a debit and negative for a credit,
on every account alike. A debit is money arriving in an account, a credit money leaving it,
so an account's balance is simply the sum of its postings and reads as "money held here":
escrow holding USD 500 has balance +500. We deliberately do not flip signs for liability
accounts as textbook accounting does; one sign rule for all accounts keeps "balance = sum"
true everywhere. The money the platform holds for others is mirrored by ``external_cash``,
the outside world (bank, payout rail): it is credited when money comes in and so normally
sits below zero. Across all accounts of one currency the balances always sum to zero.

**Accounts** are named ``"<kind>:<owner_ref>:<currency>"``:

=====================  ========================  =========================================
kind                   owner_ref                 example
=====================  ========================  =========================================
buyer_funds            ``org:<id>``              ``buyer_funds:org:3:USD``
escrow                 ``campaign:<id>``         ``escrow:campaign:12:USD``
contributor_payable    ``user:<id>``             ``contributor_payable:user:7:ZAR``
payouts_in_transit     ``user:<id>``             ``payouts_in_transit:user:7:ZAR``
platform_revenue       ``platform``              ``platform_revenue:platform:USD``
external_cash          a rail name               ``external_cash:world:USD``
=====================  ========================  =========================================

Only ``external_cash`` may go negative. Every other account holds real money for someone
and must never be overdrawn; ``apply_entry`` refuses an entry that would overdraw one, and
``check`` reports any that is.

**Entries** are append-only. A mistake is corrected by ``reverse(entry)`` and a new entry,
never by editing. Every entry has at least two postings, no zero posting, postings whose
currency matches their account's, and sums to zero in each currency it touches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from datatrust.domain.currencies import currency as _currency
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.money import Money, total

_ID = re.compile(r"[A-Za-z0-9_.-]+")
_RAIL = re.compile(r"[a-z0-9_-]+")


class AccountKind(StrEnum):
    BUYER_FUNDS = "buyer_funds"
    ESCROW = "escrow"
    CONTRIBUTOR_PAYABLE = "contributor_payable"
    PLATFORM_REVENUE = "platform_revenue"
    PAYOUTS_IN_TRANSIT = "payouts_in_transit"
    EXTERNAL_CASH = "external_cash"


# What each kind's owner_ref looks like: a prefix before ":<id>", or a fixed word.
_OWNER_PREFIX = {
    AccountKind.BUYER_FUNDS: "org",
    AccountKind.ESCROW: "campaign",
    AccountKind.CONTRIBUTOR_PAYABLE: "user",
    AccountKind.PAYOUTS_IN_TRANSIT: "user",
}
PLATFORM_OWNER = "platform"
DEFAULT_RAIL = "world"


class InsufficientFunds(Conflict):
    """An entry would take an account that may not go negative below zero."""

    code = "insufficient_funds"


def _account_kind(value: str) -> AccountKind:
    """``value`` as an AccountKind (the enum or its name); ``InvalidInput`` naming it if unknown."""
    try:
        return AccountKind(value)
    except ValueError:
        raise InvalidInput(Problem("kind", "ledger.account_kind", {"given": repr(value)})) from None


@dataclass(frozen=True, slots=True)
class AccountRef:
    """One ledger account: what it is for, whose it is, and its single currency.

    Build them with the constructors (``AccountRef.escrow(12, "USD")``) or ``parse``; the
    constructor itself checks that ``owner_ref`` fits the kind (see the module table) and
    raises ``InvalidInput`` otherwise, so two spellings can never name one account.
    """

    kind: AccountKind
    owner_ref: str
    currency: str

    def __post_init__(self) -> None:
        kind = _account_kind(self.kind)
        object.__setattr__(self, "kind", kind)
        _currency(self.currency)
        if not _owner_fits(kind, self.owner_ref):
            owner = {"given": repr(self.owner_ref), "kind": str(kind), "hint": _owner_hint(kind)}
            raise InvalidInput(Problem("owner_ref", "ledger.owner", owner))

    def __str__(self) -> str:
        return f"{self.kind}:{self.owner_ref}:{self.currency}"

    @property
    def may_go_negative(self) -> bool:
        """Only the outside world may be "owed"; every other account holds real money."""
        return self.kind is AccountKind.EXTERNAL_CASH

    @classmethod
    def parse(cls, text: str) -> AccountRef:
        """Read ``"escrow:campaign:12:USD"`` back into an AccountRef (inverse of ``str``)."""
        kind, sep, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
        owner_ref, sep2, code = rest.rpartition(":")
        if not sep or not sep2:
            raise InvalidInput(Problem("account", "ledger.account_name", {"given": repr(text)}))
        return cls(_account_kind(kind), owner_ref, code)

    @classmethod
    def buyer_funds(cls, org_id: int | str, currency: str) -> AccountRef:
        return cls(AccountKind.BUYER_FUNDS, f"org:{org_id}", currency)

    @classmethod
    def escrow(cls, campaign_id: int | str, currency: str) -> AccountRef:
        return cls(AccountKind.ESCROW, f"campaign:{campaign_id}", currency)

    @classmethod
    def contributor_payable(cls, user_id: int | str, currency: str) -> AccountRef:
        return cls(AccountKind.CONTRIBUTOR_PAYABLE, f"user:{user_id}", currency)

    @classmethod
    def payouts_in_transit(cls, user_id: int | str, currency: str) -> AccountRef:
        return cls(AccountKind.PAYOUTS_IN_TRANSIT, f"user:{user_id}", currency)

    @classmethod
    def platform_revenue(cls, currency: str) -> AccountRef:
        return cls(AccountKind.PLATFORM_REVENUE, PLATFORM_OWNER, currency)

    @classmethod
    def external_cash(cls, currency: str, rail: str = DEFAULT_RAIL) -> AccountRef:
        return cls(AccountKind.EXTERNAL_CASH, rail, currency)


def _owner_fits(kind: AccountKind, owner_ref: object) -> bool:
    if not isinstance(owner_ref, str):
        return False
    if kind is AccountKind.PLATFORM_REVENUE:
        return owner_ref == PLATFORM_OWNER
    if kind is AccountKind.EXTERNAL_CASH:
        return _RAIL.fullmatch(owner_ref) is not None
    prefix, sep, ident = owner_ref.partition(":")
    return prefix == _OWNER_PREFIX[kind] and bool(sep) and _ID.fullmatch(ident) is not None


def _owner_hint(kind: AccountKind) -> str:
    if kind is AccountKind.PLATFORM_REVENUE:
        return f"'{PLATFORM_OWNER}'"
    if kind is AccountKind.EXTERNAL_CASH:
        return "a rail name such as 'world'"
    return f"'{_OWNER_PREFIX[kind]}:<id>'"


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of an entry: ``amount`` is positive for a debit (money into ``account``)
    and negative for a credit (money out of it)."""

    account: AccountRef
    amount: Money

    def __post_init__(self) -> None:
        if not isinstance(self.account, AccountRef):
            raise InvalidInput(Problem("account", "ledger.posting_account"))
        if not isinstance(self.amount, Money):
            raise InvalidInput(Problem("amount", "ledger.posting_amount"))


class EntryLike(Protocol):
    """What ``check`` needs of an entry: stored rows can be checked without validating first."""

    @property
    def key(self) -> str: ...

    @property
    def postings(self) -> Sequence[Posting]: ...


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored: what ``check`` needs (``key``, ``postings``) and more.

    Postings are built without validating the entry, so a corrupt row is reported by the
    check instead of crashing it.
    """

    id: int
    key: str
    memo: str
    source: dict[str, Any]
    created_at: datetime
    postings: tuple[Posting, ...] = field(default=())
    replayed: bool = False  # True when ``post`` found this key already stored

    def amount_for(self, account: AccountRef) -> Money:
        return total([p.amount for p in self.postings if p.account == account], account.currency)


def entry_problems(postings: Sequence[Posting]) -> list[str]:
    """Every reason these postings do not form a valid entry; empty when they do."""
    problems = []
    if len(postings) < 2:
        problems.append(f"an entry needs at least two postings, got {len(postings)}")
    sums: dict[str, int] = {}
    for posting in postings:
        account, amount = posting.account, posting.amount
        if amount.currency != account.currency:
            problems.append(
                f"posting of {amount} to {account}: an account holds only its own currency"
            )
        if amount.is_zero:
            problems.append(f"zero posting to {account}")
        sums[amount.currency] = sums.get(amount.currency, 0) + amount.amount_minor
    for code, amount_minor in sums.items():
        if amount_minor != 0:
            problems.append(
                f"{code} postings sum to {Money(amount_minor, code)}, not zero: "
                "debits must equal credits in every currency"
            )
    return problems


@dataclass(frozen=True)
class JournalEntry:
    """A balanced, immutable movement of money.

    ``key`` identifies the entry and makes it idempotent: storing the same key twice must
    be refused (the database enforces it; ``check`` reports it). ``source`` says which
    domain object caused the entry (``{"payout_id": 42}``) and is copied on construction.
    Raises ``InvalidInput`` listing every problem in ``entry_problems`` and a blank key.
    """

    key: str
    memo: str
    postings: tuple[Posting, ...]
    source: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "postings", tuple(self.postings))
        object.__setattr__(self, "source", dict(self.source))
        problems: list[str] = []
        if not isinstance(self.key, str) or not self.key.strip():
            problems.append("an entry needs a non-blank key")
        if not isinstance(self.memo, str):
            problems.append("an entry memo must be text")
        if any(not isinstance(p, Posting) for p in self.postings):
            problems.append("an entry's postings must be Posting values")
        else:
            problems.extend(entry_problems(self.postings))
        if problems:
            # An entry is built by code, never typed by a person: the reasons stay as the
            # ledger check reports them (``entry_problems``), one problem each.
            key = repr(self.key)
            raise InvalidInput(
                [
                    Problem(None, "ledger.entry_invalid", {"key": key, "reason": p})
                    for p in problems
                ],
                key=self.key,
            )

    def amount_for(self, account: AccountRef) -> Money:
        """Net amount this entry posts to ``account`` (zero if it does not touch it)."""
        return total([p.amount for p in self.postings if p.account == account], account.currency)


def reverse(
    entry: JournalEntry,
    *,
    key: str | None = None,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """The entry that cancels ``entry``: every posting negated, same accounts, same order.

    The key defaults to ``"<key>:reversal"`` and ``source`` records ``{"reverses": key}``,
    so reversing the same entry twice collides on the key instead of undoing it twice.
    """
    return JournalEntry(
        key=key if key is not None else f"{entry.key}:reversal",
        memo=memo if memo is not None else f"Reversal of {entry.key}: {entry.memo}",
        postings=tuple(Posting(p.account, -p.amount) for p in entry.postings),
        source={"reverses": entry.key, **(source or {})},
    )


def balances(entries: Iterable[EntryLike]) -> dict[AccountRef, Money]:
    """Each account's balance: the sum of its postings. Accounts that net to zero stay in."""
    return _sum_postings(entries, skip_foreign=False)


def _sum_postings(entries: Iterable[EntryLike], *, skip_foreign: bool) -> dict[AccountRef, Money]:
    """Sum postings per account. A posting in a currency other than its account's raises
    ``CurrencyMismatch``, or is skipped with ``skip_foreign`` (``check`` reports it instead)."""
    result: dict[AccountRef, Money] = {}
    for entry in entries:
        for posting in entry.postings:
            if skip_foreign and posting.amount.currency != posting.account.currency:
                continue
            held = result.get(posting.account, Money.zero(posting.account.currency))
            result[posting.account] = held + posting.amount
    return result


def apply_entry(
    current: Mapping[AccountRef, Money], entry: JournalEntry
) -> dict[AccountRef, Money]:
    """New balances after ``entry``; ``current`` is not changed.

    Raises ``InsufficientFunds`` (naming every account) when the entry would take an
    account that may not go negative below zero. Accounts already negative (which ``check``
    would flag) may still receive money, so a repair is never refused.
    """
    result = dict(current)
    overdrawn = []
    for account, amount in balances([entry]).items():
        before = result.get(account, Money.zero(account.currency))
        after = before + amount
        result[account] = after
        if amount.is_negative and after.is_negative and not account.may_go_negative:
            overdrawn.append((account, after))
    if overdrawn:
        raise InsufficientFunds(
            [
                Problem(
                    None,
                    "ledger.overdraw",
                    {"key": repr(entry.key), "account": str(account), "after": after},
                )
                for account, after in overdrawn
            ],
            {
                "problems": [f"{a} would be {after.format()}" for a, after in overdrawn],
                "key": entry.key,
            },
        )
    return result


class BalanceMismatch(NamedTuple):
    account: AccountRef
    derived: Money
    stored: Money


@dataclass(frozen=True)
class LedgerReport:
    """What ``check`` found. ``ok`` is true only when every list is empty."""

    entries_checked: int
    invalid_entries: list[str]
    duplicate_keys: list[str]
    mismatches: list[BalanceMismatch]
    overdrawn: list[tuple[AccountRef, Money]]

    @property
    def ok(self) -> bool:
        return not (
            self.invalid_entries or self.duplicate_keys or self.mismatches or self.overdrawn
        )

    def problems(self) -> list[str]:
        """One line per problem, for ``datatrust ledger check`` to print."""
        lines = list(self.invalid_entries)
        lines += [f"duplicate entry key {key!r}" for key in self.duplicate_keys]
        lines += [
            f"{m.account}: stored {m.stored.format()} but entries give {m.derived.format()}"
            for m in self.mismatches
        ]
        lines += [
            f"{account} is overdrawn at {amount.format()}" for account, amount in self.overdrawn
        ]
        return lines


def check(
    entries: Iterable[EntryLike], stored_balances: Mapping[AccountRef, Money]
) -> LedgerReport:
    """Audit a whole ledger: every entry valid and unique, and balances derived from the
    entries equal to ``stored_balances``.

    An account missing from ``stored_balances`` counts as stored zero, and one with no
    postings as derived zero, so zero-balance rows may be present or absent. Also reports
    any account that may not go negative but is. Entries are taken as loaded (anything with
    ``key`` and ``postings``) so a corrupt row is reported rather than crashing the check.
    """
    entries = list(entries)
    invalid = []
    seen: set[str] = set()
    duplicates = []
    for entry in entries:
        invalid += [f"entry {entry.key!r}: {p}" for p in entry_problems(entry.postings)]
        if entry.key in seen and entry.key not in duplicates:
            duplicates.append(entry.key)
        seen.add(entry.key)

    derived = _sum_postings(entries, skip_foreign=True)
    mismatches = []
    for account in sorted(derived.keys() | stored_balances.keys(), key=str):
        zero = Money.zero(account.currency)
        got, stored = derived.get(account, zero), stored_balances.get(account, zero)
        if got != stored:
            mismatches.append(BalanceMismatch(account, got, stored))
    overdrawn = [
        (account, amount)
        for account, amount in sorted(derived.items(), key=lambda item: str(item[0]))
        if amount.is_negative and not account.may_go_negative
    ]
    return LedgerReport(len(entries), invalid, duplicates, mismatches, overdrawn)


# -- the money movements ------------------------------------------------------------------


def _currency_of(amount: Money) -> str:
    """The amount's currency, or ``InvalidInput`` when it is not Money at all."""
    if not isinstance(amount, Money):
        raise InvalidInput(Problem("amount", "money.not_money", {"given": type(amount).__name__}))
    return amount.currency


def _positive(amount: Money, what: str) -> None:
    _currency_of(amount)
    if not amount.is_positive:
        raise InvalidInput(Problem(what, "money.not_positive", {"given": amount}))


def _entry(
    postings: list[Posting], key: str, memo: str, source: Mapping[str, Any] | None
) -> JournalEntry:
    """Merge postings to the same account and drop zero ones, then build the entry."""
    merged: dict[AccountRef, Money] = {}
    for posting in postings:
        merged[posting.account] = (
            merged.get(posting.account, Money.zero(posting.account.currency)) + posting.amount
        )
    kept = tuple(Posting(a, m) for a, m in merged.items() if not m.is_zero)
    return JournalEntry(key=key, memo=memo, postings=kept, source=dict(source or {}))


def _transfer(
    source_account: AccountRef,
    destination: AccountRef,
    amount: Money,
    *,
    key: str,
    memo: str,
    source: Mapping[str, Any] | None,
) -> JournalEntry:
    _positive(amount, "the amount")
    return _entry(
        [Posting(source_account, -amount), Posting(destination, amount)], key, memo, source
    )


def deposit(
    buyer_id: int | str,
    amount: Money,
    *,
    key: str,
    rail: str = DEFAULT_RAIL,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """A buyer's payment arrives: external_cash → buyer_funds. ``amount`` must be positive."""
    return _transfer(
        AccountRef.external_cash(_currency_of(amount), rail),
        AccountRef.buyer_funds(buyer_id, _currency_of(amount)),
        amount,
        key=key,
        memo=memo or f"Deposit from org:{buyer_id}",
        source=source,
    )


def fund_escrow(
    buyer_id: int | str,
    campaign_id: int | str,
    amount: Money,
    *,
    key: str,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """Lock a buyer's money for a campaign: buyer_funds → escrow. ``amount`` must be positive."""
    return _transfer(
        AccountRef.buyer_funds(buyer_id, _currency_of(amount)),
        AccountRef.escrow(campaign_id, _currency_of(amount)),
        amount,
        key=key,
        memo=memo or f"Fund escrow for campaign:{campaign_id}",
        source=source,
    )


def fund_platform_escrow(
    campaign_id: int | str,
    amount: Money,
    *,
    key: str,
    rail: str = DEFAULT_RAIL,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """The platform funds its own campaign (no buyer): external_cash → escrow, the money
    arriving through ``rail`` as the operator paid it in."""
    return _transfer(
        AccountRef.external_cash(_currency_of(amount), rail),
        AccountRef.escrow(campaign_id, _currency_of(amount)),
        amount,
        key=key,
        memo=f"Platform funds escrow for campaign:{campaign_id}",
        source=source,
    )


def release_platform_escrow(
    campaign_id: int | str,
    amount: Money,
    *,
    key: str,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """What is left of a platform campaign's escrow becomes the platform's own money
    again: escrow → platform_revenue."""
    return _transfer(
        AccountRef.escrow(campaign_id, _currency_of(amount)),
        AccountRef.platform_revenue(_currency_of(amount)),
        amount,
        key=key,
        memo=f"Return unspent escrow of campaign:{campaign_id} to the platform",
        source=source,
    )


def pay_item_from_escrow(
    campaign_id: int | str,
    contributor_id: int | str,
    amount: Money,
    *,
    key: str,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """Pay accepted work: escrow → contributor_payable. ``amount`` must be positive."""
    return _transfer(
        AccountRef.escrow(campaign_id, _currency_of(amount)),
        AccountRef.contributor_payable(contributor_id, _currency_of(amount)),
        amount,
        key=key,
        memo=memo or f"Pay user:{contributor_id} for work on campaign:{campaign_id}",
        source=source,
    )


def release_escrow(
    campaign_id: int | str,
    buyer_id: int | str,
    amount: Money,
    *,
    key: str,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """Return unused escrow to the buyer: escrow → buyer_funds. ``amount`` must be positive."""
    return _transfer(
        AccountRef.escrow(campaign_id, _currency_of(amount)),
        AccountRef.buyer_funds(buyer_id, _currency_of(amount)),
        amount,
        key=key,
        memo=memo or f"Release escrow of campaign:{campaign_id} to org:{buyer_id}",
        source=source,
    )


def payout_request(
    contributor_id: int | str,
    amount: Money,
    *,
    key: str,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """Set earnings aside for a payout: contributor_payable → payouts_in_transit.

    Moving the money out of ``contributor_payable`` at request time is what stops the same
    earnings being requested twice while the rail is still working.
    """
    return _transfer(
        AccountRef.contributor_payable(contributor_id, _currency_of(amount)),
        AccountRef.payouts_in_transit(contributor_id, _currency_of(amount)),
        amount,
        key=key,
        memo=memo or f"Payout requested by user:{contributor_id}",
        source=source,
    )


def payout_settle(
    contributor_id: int | str,
    amount: Money,
    *,
    key: str,
    rail: str = DEFAULT_RAIL,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """The rail confirmed the payout: payouts_in_transit → external_cash."""
    return _transfer(
        AccountRef.payouts_in_transit(contributor_id, _currency_of(amount)),
        AccountRef.external_cash(_currency_of(amount), rail),
        amount,
        key=key,
        memo=memo or f"Payout to user:{contributor_id} settled",
        source=source,
    )


def payout_fail(
    contributor_id: int | str,
    amount: Money,
    *,
    key: str,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> JournalEntry:
    """The rail refused the payout: payouts_in_transit → contributor_payable.

    It has the same postings as ``reverse(payout_request(...))`` for the same contributor
    and amount, so the contributor's payable balance is restored to the unit.
    """
    return _transfer(
        AccountRef.payouts_in_transit(contributor_id, _currency_of(amount)),
        AccountRef.contributor_payable(contributor_id, _currency_of(amount)),
        amount,
        key=key,
        memo=memo or f"Payout to user:{contributor_id} failed; earnings returned",
        source=source,
    )


class SaleItem(NamedTuple):
    """One item in a sale: who contributed it, its listed price and its royalty percent."""

    contributor_id: int | str
    item_price: Money
    royalty_percent: int | str | Decimal


@dataclass(frozen=True)
class SaleLine:
    """How one item's part of a sale was divided; ``item_net`` = share + remainder."""

    contributor_id: int | str
    item_price: Money
    item_net: Money
    contributor_share: Money
    platform_remainder: Money


@dataclass(frozen=True)
class SaleSplit:
    """The visible breakdown of a sale, and the entry that books it.

    Always exactly: ``buyer_paid == platform_fee + Σ contributor_share + Σ platform_remainder``.
    """

    buyer_paid: Money
    platform_fee: Money
    lines: tuple[SaleLine, ...]
    entry: JournalEntry

    @property
    def contributor_total(self) -> Money:
        return total([line.contributor_share for line in self.lines], self.buyer_paid.currency)

    @property
    def platform_total(self) -> Money:
        remainders = [line.platform_remainder for line in self.lines]
        return self.platform_fee + total(remainders, self.buyer_paid.currency)


def sale(
    buyer_id: int | str,
    price: Money,
    platform_fee_percent: int | str | Decimal,
    items: Sequence[SaleItem | tuple[int | str, Money, int | str | Decimal]],
    *,
    key: str,
    memo: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> SaleSplit:
    """Book a sale of ``items`` to a buyer who pays ``price`` from their buyer_funds.

    The price is divided in this order, each step with ``Money``'s largest-remainder rule,
    so nothing is lost or made up:

    1. the platform fee, ``price.percent(platform_fee_percent)``, comes off the top;
    2. the rest (the net) is given to the items in proportion to their ``item_price``.
       When the item prices already add up to the net, each item gets exactly its price;
       otherwise (a bundle price) each gets its proportional part;
    3. each item's contributor gets ``royalty_percent`` of that item's part;
    4. what is left of the item's part after the royalty goes to platform revenue.

    Postings: buyer_funds credited ``price``; one contributor_payable debit per
    contributor (items of one contributor are merged); one platform_revenue debit for the
    fee plus all remainders. Zero amounts are left out.

    Raises ``InvalidInput`` when ``price`` is not positive, there are no items, an item
    price is negative or in another currency, all item prices are zero, or a percentage is
    not from 0 to 100.
    """
    _positive(price, "the sale price")
    sold = [SaleItem(*item) for item in items]
    if not sold:
        raise InvalidInput(Problem("items", "sale.no_items"))
    problems: list[Problem] = []
    for index, item in enumerate(sold):
        if not isinstance(item.item_price, Money):
            problems.append(Problem("items", "sale.price_not_money", {"index": index}))
        elif item.item_price.currency != price.currency:
            currencies = {"currency": item.item_price.currency, "sale": price.currency}
            problems.append(Problem("items", "sale.price_currency", {"index": index} | currencies))
        elif item.item_price.is_negative:
            problems.append(Problem("items", "sale.price_negative", {"index": index}))
    if not problems and all(item.item_price.is_zero for item in sold):
        problems.append(Problem("items", "sale.all_free"))
    if problems:
        raise InvalidInput(problems)

    fee = price.percent(platform_fee_percent)
    net = price - fee
    item_nets = net.split([item.item_price.amount_minor for item in sold])
    lines = []
    for item, item_net in zip(sold, item_nets, strict=True):
        share = item_net.percent(item.royalty_percent)
        lines.append(
            SaleLine(item.contributor_id, item.item_price, item_net, share, item_net - share)
        )
    platform = fee + total([line.platform_remainder for line in lines], price.currency)

    postings = [Posting(AccountRef.buyer_funds(buyer_id, price.currency), -price)]
    postings += [
        Posting(
            AccountRef.contributor_payable(line.contributor_id, price.currency),
            line.contributor_share,
        )
        for line in lines
    ]
    postings.append(Posting(AccountRef.platform_revenue(price.currency), platform))
    entry = _entry(postings, key, memo or f"Sale of {len(sold)} item(s) to org:{buyer_id}", source)
    return SaleSplit(price, fee, tuple(lines), entry)
