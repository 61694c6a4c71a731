"""Payouts as the contributor asks for them: setting earnings aside for the next batch
(on request, or weekly for everyone above the minimum), the methods they are paid to,
and the payout page.

The money moves here (``request_payout``, ``request_weekly_payouts``) and in
``batches`` (``run_payout_batch``); this module also checks that a payout can go where it
is asked to go, and tells the batch where each one goes (``destination_for``), details
opened from the contributor's sealed copy only then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from datatrust.domain import ledger as dl
from datatrust.domain.accounts import User
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Problem,
)
from datatrust.domain.fx import RateNotFound, approximate
from datatrust.domain.ledger import AccountRef, InsufficientFunds
from datatrust.domain.money import Money
from datatrust.domain.payout_methods import (
    PayoutDestination,
    PayoutMethod,
    PayoutRail,
    check_details,
    mask,
    rail_problems,
)
from datatrust.domain.payouts import Payout
from datatrust.domain.permissions import MISSING, Actor, Permission, authorize
from datatrust.services.accounts import (
    PAYOUT_METHOD_ADDED,
    Throttle,
    actor_label,
    reauthenticate,
    tell_owner,
)
from datatrust.services.money.common import (
    checked_key,
    money_out,
    one_transaction,
    positive_amount,
    post,
)
from datatrust.services.money.fx import fx_rates
from datatrust.services.money.statements import contributor_statement
from datatrust.services.ports import PasswordHasher, UnitOfWork
from datatrust.services.storage import EncryptedStorage


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


def payout_refusal(amount: Money, available: Money, least: Money) -> DomainError | None:
    """Why ``request_payout`` refuses ``amount`` from a balance of ``available`` when the
    smallest payout is ``least`` (``minimum_payout``): below it (``InvalidInput``
    ``payout.below_minimum``, details ``minimum``), else more than is available
    (``InsufficientFunds`` ``payout.more_than_available``, details ``available``); None
    when it does not refuse it."""
    if amount < least:
        return InvalidInput(
            Problem("amount", "payout.below_minimum", {"minimum": least, "asked": amount}),
            minimum=money_out(least),
        )
    if amount > available:
        return InsufficientFunds(
            Problem(
                "amount", "payout.more_than_available", {"asked": amount, "available": available}
            ),
            {"available": money_out(available)},
        )
    return None


def can_ask_payout(available: Money, least: Money) -> bool:
    """Whether a payout can be asked for now from a balance of ``available``, the smallest
    payout being ``least``: the largest one there is, the whole balance, is above zero
    and not refused (``payout_refusal``, the test ``request_payout`` applies). Every
    smaller amount is closer to the minimum, so when the whole balance is refused, all
    are; pages offer the payout form only where this holds."""
    return available.is_positive and payout_refusal(available, available, least) is None


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
    key = checked_key(idempotency_key)
    positive_amount(amount)
    assert actor.user_id is not None
    with one_transaction(uow):
        requested = _request_payout(uow, actor.user_id, amount, key, minimum, actor_label(actor))
        if not requested.replayed:
            requested.payout.method_id = method_id
        return requested


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
    refused = payout_refusal(amount, available, minimum_payout(uow, amount.currency, minimum))
    if refused is not None:
        raise refused
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
    with one_transaction(uow):
        payables = [
            ref
            for ref in uow.ledger.stored_balances()
            if ref.kind is dl.AccountKind.CONTRIBUTOR_PAYABLE
        ]
    for ref in sorted(payables, key=str):
        user_id = int(ref.owner_ref.split(":", 1)[1])
        key = weekly_payout_key(day, ref.currency)
        with one_transaction(uow):
            _, available = uow.ledger.lock([ref])[ref]
            if uow.one(Payout, user_id=user_id, idempotency_key=key) is not None:
                continue
            if can_ask_payout(available, minimum_payout(uow, ref.currency, minimum)):
                created.append(_set_aside(uow, user_id, available, key, "system"))
    return created


def list_payouts(uow: UnitOfWork, actor: Actor) -> list[Payout]:
    authorize(actor, Permission.STATEMENT_READ)
    return uow.all(Payout, order_by="-id", user_id=actor.user_id)


def usable_from(method: PayoutMethod, hold: timedelta) -> datetime:
    """When ``method`` may first be paid to: ``hold`` (``InstancePolicy.payout_method_hold``)
    after it was added. Someone who got into the account and added their own method is
    thereby kept from the money while the owner, mailed at once, can remove it."""
    return as_utc(method.created_at) + hold


def add_payout_method(
    uow: UnitOfWork,
    storage: EncryptedStorage,
    actor: Actor,
    rail: str,
    typed: dict[str, str],
    *,
    hasher: PasswordHasher,
    password: str,
    hold: timedelta,
    throttle: Throttle = Throttle(),
) -> PayoutMethod:
    """Add a place to be paid. ``InvalidInput`` lists every problem by field (``rail``,
    or the rail's own fields, see ``domain.payout_methods``), then, the details being
    right, ``current_password: …`` when ``password`` is not the account's
    (``accounts.reauthenticate``, throttled as sign-ins are).

    Where money goes is decided by the person alone: an API token is refused
    (``PermissionDenied``), a session must give the password again, and the owner is
    mailed (``PAYOUT_METHOD_ADDED``). The new method is paid to only ``hold`` after it is
    added (``usable_from``)."""
    authorize(actor, Permission.PAYOUT_REQUEST)
    if actor.via_token:
        raise PermissionDenied(Problem(None, "account.password_session_required"))
    assert actor.user_id is not None
    try:
        chosen = PayoutRail(rail)
    except ValueError:
        raise InvalidInput(Problem("rail", "payout_method.rail_required")) from None
    details, problems = check_details(chosen, typed)
    if problems:
        raise InvalidInput(problems)
    reauthenticate(uow, hasher, actor, password, throttle=throttle)
    user = uow.get(User, actor.user_id)
    assert user is not None
    method = PayoutMethod(
        user_id=actor.user_id,
        rail=chosen,
        details_sealed=storage.seal_text(uow, actor.user_id, json.dumps(details)),
        label=mask(chosen, details),
    )
    uow.add(method)
    uow.flush()
    uow.record(
        AuditTag.PAYOUT_METHOD_ADD, actor_label(actor), "payout_method", method.id, rail=rail
    )
    tell_owner(
        uow,
        user,
        PAYOUT_METHOD_ADDED,
        method.created_at,
        rail=chosen.value,
        label=method.label,
        usable_from=usable_from(method, hold).isoformat(),
    )
    uow.commit()
    return method


def payout_methods(uow: UnitOfWork, actor: Actor) -> list[PayoutMethod]:
    """The caller's methods in use, newest first."""
    authorize(actor, Permission.STATEMENT_READ)
    methods = uow.all(PayoutMethod, order_by="-id", user_id=actor.user_id)
    return [m for m in methods if m.removed_at is None]


def remove_payout_method(uow: UnitOfWork, actor: Actor, method_id: int) -> None:
    """Stop using a method. Payouts already asked for still go there."""
    method = uow.get(PayoutMethod, method_id)
    authorize(actor, Permission.PAYOUT_REQUEST, method or MISSING)
    assert method is not None
    if method.removed_at is None:
        method.removed_at = utcnow()
        uow.record(AuditTag.PAYOUT_METHOD_REMOVE, actor_label(actor), "payout_method", method.id)
    uow.commit()


def request_payout_to(
    uow: UnitOfWork,
    actor: Actor,
    amount: Money,
    idempotency_key: str,
    *,
    method_id: int,
    minimum: Money,
    hold: timedelta,
) -> PayoutRequested:
    """``request_payout`` to one of the caller's methods, once the method can pay
    ``amount`` (its currency; whole shillings for M-Pesa). ``InvalidInput`` names the
    field; someone else's or a removed method is ``NotFound``; a method added less than
    ``hold`` ago is a ``Conflict`` naming when it can be paid to (``usable_from``)."""
    method = uow.get(PayoutMethod, method_id)
    authorize(actor, Permission.PAYOUT_REQUEST, method or MISSING)
    assert method is not None
    if method.removed_at is not None:
        raise NotFound(Problem("method", "payout_method.removed"))
    ready = usable_from(method, hold)
    if ready > utcnow():
        raise Conflict(Problem("method", "payout_method.on_hold", {"at": ready}))
    problems = rail_problems(method.rail, amount)
    if problems:
        raise InvalidInput(problems)
    return request_payout(uow, actor, amount, idempotency_key, minimum=minimum, method_id=method.id)


def destination_for(
    storage: EncryptedStorage, hold: timedelta
) -> Callable[[UnitOfWork, Payout], PayoutDestination | None]:
    """For ``batches.run_payout_batch``: where a payout goes. Its own method, or for one
    asked without (the weekly payouts, the API) the person's newest method able to pay
    it; None when they have none (the plain export, for the operator to ask them).

    A method added less than ``hold`` ago (``usable_from``) is never one: a payout asked
    without a method goes to the newest older one, and one whose own method is still
    held gets none."""

    def destination(uow: UnitOfWork, payout: Payout) -> PayoutDestination | None:
        now = utcnow()
        method = uow.get(PayoutMethod, payout.method_id) if payout.method_id else None
        if method is not None and usable_from(method, hold) > now:
            return None
        if method is None:
            usable = [
                m
                for m in uow.all(PayoutMethod, order_by="-id", user_id=payout.user_id)
                if m.removed_at is None
                and not rail_problems(m.rail, payout.amount)
                and usable_from(m, hold) <= now
            ]
            method = usable[0] if usable else None
        if method is None:
            return None
        opened = storage.open_text(uow, payout.user_id, method.details_sealed)
        if not opened:  # the person was erased: nothing to pay to
            return None
        return PayoutDestination(method.rail, json.loads(opened))

    return destination


@dataclass(frozen=True)
class PayoutLine:
    """One payout as its owner sees it."""

    id: int
    amount: Money
    state: str  # PayoutState's value
    method_label: str | None
    rail: str | None
    asked_at: str
    updated_at: str


def held_methods(methods: list[PayoutMethod], hold: timedelta) -> dict[int, datetime]:
    """Of ``methods``, those not yet paid to, each with when it will be (``usable_from``,
    the test ``request_payout_to`` and ``destination_for`` apply): what pages show."""
    now = utcnow()
    return {
        m.id: usable_from(m, hold)
        for m in methods
        if m.id is not None and usable_from(m, hold) > now
    }


@dataclass(frozen=True)
class PayoutCurrency:
    """One currency on the payout page: the caller's ``available`` balance in it, the
    smallest payout (``minimum_payout``) and whether a payout can be asked for now
    (``can_ask_payout``, the test ``request_payout`` refuses by)."""

    currency: str
    available: Money
    least: Money
    can_ask: bool


def payout_page(uow: UnitOfWork, actor: Actor, minimum: Money, hold: timedelta) -> dict[str, Any]:
    """What the payout part of the earnings page shows: per currency the caller holds
    (and the minimum's own), the available balance, the smallest payout (``minimum_payout``,
    the figure ``request_payout`` refuses below) and whether a payout can be asked for
    now (``currencies``, and ``payable``: those that can, the only ones to offer in the
    form); their methods (``held``: those still waiting out ``hold``, with when they can
    be paid to), and every payout, newest first."""
    authorize(actor, Permission.STATEMENT_READ)
    assert actor.user_id is not None
    methods = {m.id: m for m in uow.all(PayoutMethod, user_id=actor.user_id)}
    history = []
    for payout in list_payouts(uow, actor):
        method = methods.get(payout.method_id) if payout.method_id else None
        history.append(
            PayoutLine(
                id=payout.id or 0,
                amount=payout.amount,
                state=payout.state.value,
                method_label=method.label if method else None,
                rail=method.rail.value if method else None,
                asked_at=payout.created_at.isoformat(),
                updated_at=payout.updated_at.isoformat(),
            )
        )
    balances = contributor_statement(uow, actor)["balances"]
    shown = []
    for c in sorted({b["currency"] for b in balances} | {minimum.currency}):
        available = uow.ledger.balance(AccountRef.contributor_payable(actor.user_id, c))
        least = minimum_payout(uow, c, minimum)
        shown.append(PayoutCurrency(c, available, least, can_ask_payout(available, least)))
    in_use = [m for m in methods.values() if m.removed_at is None][::-1]
    return {
        "currencies": shown,
        "payable": [c.currency for c in shown if c.can_ask],
        "methods": in_use,
        "held": held_methods(in_use, hold),
        "history": history,
    }
