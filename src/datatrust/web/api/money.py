"""Money routes: a contributor's statement and payouts, a buyer's invoices and escrow
funding, the operator's payout batches and ledger check. Thin: parse, call one service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import Depends, Header, Query
from pydantic import Field

from datatrust.bootstrap import Services
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput
from datatrust.domain.money import Money
from datatrust.domain.payouts import Payout
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import campaigns, money
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import ApproxOut, MoneyOut, Out, Strict
from datatrust.web.deps import RowId, api_router, requires, services, unit_of_work

router = api_router(tags=["money"])


class AmountIn(Strict):
    """An amount in minor units (``1250`` is USD 12.50): integers only, never decimals."""

    amount_minor: int = Field(strict=True, description="whole minor units, e.g. cents")
    currency: str = Field(default="USD", min_length=3, max_length=3)

    def money(self) -> Money:
        return Money(self.amount_minor, self.currency)


class EscrowIn(AmountIn):
    idempotency_key: str = Field(min_length=1, max_length=120)


def _key(header: str | None) -> str:
    if not header or not header.strip():
        raise InvalidInput(
            "send an Idempotency-Key header so a retried request pays once",
            field="Idempotency-Key",
        )
    return header


class PayoutOut(Out):
    id: int
    amount: MoneyOut
    state: str
    idempotency_key: str
    provider_ref: str | None
    failure_reason: str | None
    created_at: datetime


class PayoutRequestedOut(PayoutOut):
    replayed: bool = Field(description="True when this key was sent before: nothing new paid.")


class BalanceOut(Out):
    currency: str
    available: MoneyOut
    in_transit: MoneyOut
    available_approx: ApproxOut | None


class ItemSourceOut(Out):
    kind: Literal["item"]
    campaign_id: int | None
    item_id: int | None


class FloorTopUpSourceOut(Out):
    kind: Literal["floor_topup"]
    campaign_id: int | None
    item_id: int | None
    new_rate_minor: int | None
    why: str


class CoverageBonusSourceOut(Out):
    kind: Literal["coverage_bonus"]
    campaign_id: int | None
    item_id: int | None
    h3_cell: str | None
    why: str


class SoldItemOut(Out):
    item_id: int
    royalty_percent: str
    item_price: MoneyOut
    share: MoneyOut


class SaleSourceOut(Out):
    kind: Literal["sale"]
    sale: str | None
    buyer_org_id: int | None
    buyer_paid: MoneyOut
    platform_fee: MoneyOut
    items: list[SoldItemOut]


class PayoutSourceOut(Out):
    kind: Literal["payout"]
    payout_id: int | None
    reason: str | None


class OtherSourceOut(Out):
    kind: str


class StatementLineOut(Out):
    at: datetime
    entry: str
    memo: str
    amount: MoneyOut
    approx: ApproxOut | None
    source: (
        ItemSourceOut
        | FloorTopUpSourceOut
        | CoverageBonusSourceOut
        | SaleSourceOut
        | PayoutSourceOut
        | OtherSourceOut
    ) = Field(description="Where the money came from (or went): by ``kind``.")


class StatementOut(Out):
    user_id: int
    balances: list[BalanceOut]
    lines: list[StatementLineOut] = Field(description="Newest first.")


class InvoicedItemOut(Out):
    item_id: int
    item_price: MoneyOut
    royalty_percent: str
    contributor_share: MoneyOut


class SaleInvoiceOut(Out):
    invoice: str
    kind: Literal["sale"]
    at: datetime
    price: MoneyOut
    platform_fee: MoneyOut
    platform_fee_percent: str
    to_contributors: MoneyOut
    platform_total: MoneyOut
    items: list[InvoicedItemOut]


class EscrowInvoiceOut(Out):
    invoice: str
    kind: Literal["escrow_funding"]
    at: datetime
    campaign_id: int | None
    price: MoneyOut
    rail: str | None
    reference: str | None


class AccountBalanceOut(Out):
    account: str
    balance: MoneyOut


class InvoicesOut(Out):
    org_id: int
    balances: list[AccountBalanceOut]
    invoices: list[SaleInvoiceOut | EscrowInvoiceOut] = Field(description="Newest first.")


class EscrowFundedOut(Out):
    paused: bool
    needed_to_reopen: MoneyOut
    campaign_id: int
    amount: MoneyOut
    reference: str
    escrow_balance: MoneyOut
    required: MoneyOut
    covered: bool
    replayed: bool


class BatchQueuedOut(Out):
    job: str
    queued: bool
    payouts_waiting: int


class LedgerCheckOut(Out):
    ok: bool
    entries_checked: int
    accounts: int
    totals: dict[str, dict[str, int]] = Field(
        description="Currency → account kind → balance in minor units; each sums to zero."
    )
    problems: list[str]


class FxRateOut(Out):
    base: str
    quote: str
    rate: str
    as_of: date


def payout_out(payout: Payout) -> PayoutOut:
    return PayoutOut(
        id=payout.id or 0,
        amount=MoneyOut(**money.money_out(payout.amount)),
        state=payout.state.value,
        idempotency_key=payout.idempotency_key,
        provider_ref=payout.provider_ref,
        failure_reason=payout.failure_reason,
        created_at=payout.created_at,
    )


@router.get("/api/me/statement")
def statement(
    currency: str | None = Query(default=None, description="also show amounts in this currency"),
    actor: Actor = requires(Permission.STATEMENT_READ),
    unit: UnitOfWork = unit_of_work(),
) -> StatementOut:
    return StatementOut.model_validate(money.contributor_statement(unit, actor, show_in=currency))


@router.post("/api/me/payouts", status_code=201)
def request_payout(
    body: AmountIn,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
    actor: Actor = requires(Permission.PAYOUT_REQUEST),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> PayoutRequestedOut:
    result = money.request_payout(
        unit,
        actor,
        body.money(),
        _key(idempotency_key),
        minimum=svc.policy.minimum_payout,
    )
    return PayoutRequestedOut(**payout_out(result.payout).__dict__, replayed=result.replayed)


@router.get("/api/me/payouts")
def list_payouts(
    actor: Actor = requires(Permission.STATEMENT_READ), unit: UnitOfWork = unit_of_work()
) -> list[PayoutOut]:
    return [payout_out(p) for p in money.list_payouts(unit, actor)]


@router.get("/api/orgs/{org_id}/invoices")
def invoices(
    org_id: RowId,
    actor: Actor = requires(Permission.INVOICE_READ),
    unit: UnitOfWork = unit_of_work(),
) -> InvoicesOut:
    return InvoicesOut.model_validate(money.buyer_invoices(unit, actor, org_id))


@router.post("/api/campaigns/{campaign_id}/escrow", status_code=201)
def fund_escrow(
    campaign_id: RowId,
    body: EscrowIn,
    actor: Actor = requires(Permission.ESCROW_FUND),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> EscrowFundedOut:
    topped = campaigns.top_up_campaign(
        unit, svc.payment_rail, actor, campaign_id, body.money(), body.idempotency_key
    )
    funded = topped.funding
    return EscrowFundedOut(
        paused=topped.state.paused,
        needed_to_reopen=MoneyOut(**money.money_out(topped.state.needed)),
        campaign_id=funded.campaign_id,
        amount=MoneyOut(**money.money_out(funded.amount)),
        reference=funded.reference,
        escrow_balance=MoneyOut(**money.money_out(funded.balance)),
        required=MoneyOut(**money.money_out(topped.required)),
        covered=topped.covered,
        replayed=funded.replayed,
    )


@router.post("/api/payouts/batches", status_code=202)
def run_batch(
    actor: Actor = requires(Permission.PAYOUT_RUN), unit: UnitOfWork = unit_of_work()
) -> BatchQueuedOut:
    waiting = money.schedule_payout_batch(unit, actor)
    return BatchQueuedOut(job="payouts.run_batch", queued=True, payouts_waiting=waiting)


@router.get("/api/ledger/check")
def ledger_check(
    actor: Actor = requires(Permission.LEDGER_READ), unit: UnitOfWork = unit_of_work()
) -> LedgerCheckOut:
    return LedgerCheckOut.model_validate(money.check_ledger(unit, actor).as_dict())


class FxRateIn(Strict):
    """``1 base = rate quote`` on ``as_of`` (today by default). The rate is a decimal
    *string* (``"18.25"``): a JSON number would pass through a float and is refused."""

    base: str = Field(min_length=3, max_length=3)
    quote: str = Field(min_length=3, max_length=3)
    rate: str = Field(strict=True, min_length=1, max_length=40)
    as_of: date | None = None


@router.post("/api/fx/rates", status_code=201)
def set_fx_rate(
    body: FxRateIn,
    actor: Actor = requires(Permission.INSTANCE_MANAGE),
    unit: UnitOfWork = unit_of_work(),
) -> FxRateOut:
    row = money.set_fx_rate(
        unit, actor, body.base, body.quote, body.rate, body.as_of or utcnow().date()
    )
    return FxRateOut.model_validate(money.fx_rate_out(row))


@router.get("/api/fx/rates")
def list_fx_rates(
    actor: Actor = requires(Permission.INSTANCE_MANAGE), unit: UnitOfWork = unit_of_work()
) -> list[FxRateOut]:
    return [
        FxRateOut.model_validate(money.fx_rate_out(r)) for r in money.list_fx_rates(unit, actor)
    ]
