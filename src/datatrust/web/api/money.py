"""Money routes: a contributor's statement and payouts, a buyer's invoices and escrow
funding, the operator's payout batches and ledger check. Thin: parse, call one service."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Depends, Header, Query
from pydantic import Field

from datatrust.bootstrap import Services
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput
from datatrust.domain.money import Money
from datatrust.domain.payouts import Payout
from datatrust.domain.permissions import Actor, Permission
from datatrust.services import money, payfloor
from datatrust.services.ports import UnitOfWork
from datatrust.web.api.schemas import Strict
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


def payout_out(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.id,
        "amount": money.money_out(payout.amount),
        "state": payout.state.value,
        "idempotency_key": payout.idempotency_key,
        "provider_ref": payout.provider_ref,
        "failure_reason": payout.failure_reason,
        "created_at": payout.created_at.isoformat(),
    }


@router.get("/api/me/statement")
def statement(
    currency: str | None = Query(default=None, description="also show amounts in this currency"),
    actor: Actor = requires(Permission.STATEMENT_READ),
    unit: UnitOfWork = unit_of_work(),
) -> dict[str, Any]:
    return money.contributor_statement(unit, actor, show_in=currency)


@router.post("/api/me/payouts", status_code=201)
def request_payout(
    body: AmountIn,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
    actor: Actor = requires(Permission.PAYOUT_REQUEST),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    result = money.request_payout(
        unit,
        actor,
        body.money(),
        _key(idempotency_key),
        minimum=svc.policy.minimum_payout,
    )
    return {**payout_out(result.payout), "replayed": result.replayed}


@router.get("/api/me/payouts")
def list_payouts(
    actor: Actor = requires(Permission.STATEMENT_READ), unit: UnitOfWork = unit_of_work()
) -> list[dict[str, Any]]:
    return [payout_out(p) for p in money.list_payouts(unit, actor)]


@router.get("/api/orgs/{org_id}/invoices")
def invoices(
    org_id: RowId,
    actor: Actor = requires(Permission.INVOICE_READ),
    unit: UnitOfWork = unit_of_work(),
) -> dict[str, Any]:
    return money.buyer_invoices(unit, actor, org_id)


@router.post("/api/campaigns/{campaign_id}/escrow", status_code=201)
def fund_escrow(
    campaign_id: RowId,
    body: EscrowIn,
    actor: Actor = requires(Permission.ESCROW_FUND),
    unit: UnitOfWork = unit_of_work(),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    topped = payfloor.top_up_campaign(
        unit, svc.payment_rail, actor, campaign_id, body.money(), body.idempotency_key
    )
    funded = topped.funding
    return {
        "paused": topped.state.paused,
        "needed_to_reopen": money.money_out(topped.state.needed),
        "campaign_id": funded.campaign_id,
        "amount": money.money_out(funded.amount),
        "reference": funded.reference,
        "escrow_balance": money.money_out(funded.balance),
        "required": money.money_out(topped.required),
        "covered": topped.covered,
        "replayed": funded.replayed,
    }


@router.post("/api/payouts/batches", status_code=202)
def run_batch(
    actor: Actor = requires(Permission.PAYOUT_RUN), unit: UnitOfWork = unit_of_work()
) -> dict[str, Any]:
    waiting = money.schedule_payout_batch(unit, actor)
    return {"job": "payouts.run_batch", "queued": True, "payouts_waiting": waiting}


@router.get("/api/ledger/check")
def ledger_check(
    actor: Actor = requires(Permission.LEDGER_READ), unit: UnitOfWork = unit_of_work()
) -> dict[str, Any]:
    return money.check_ledger(unit, actor).as_dict()


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
) -> dict[str, Any]:
    row = money.set_fx_rate(
        unit, actor, body.base, body.quote, body.rate, body.as_of or utcnow().date()
    )
    return money.fx_rate_out(row)


@router.get("/api/fx/rates")
def list_fx_rates(
    actor: Actor = requires(Permission.INSTANCE_MANAGE), unit: UnitOfWork = unit_of_work()
) -> list[dict[str, Any]]:
    return [money.fx_rate_out(row) for row in money.list_fx_rates(unit, actor)]
