"""Helpers of the money service tests, on either unit of work (``services`` is the SQL
``Services`` or ``support.MemoryServices``)."""

from __future__ import annotations

from typing import Any

import pytest

from datatrust.adapters.payments import FakeCardRail
from datatrust.domain.items import ItemKind
from datatrust.domain.ledger import AccountRef, LedgerReport
from datatrust.domain.money import Money
from datatrust.domain.permissions import Actor, Role
from datatrust.services import money
from support import stored_campaign

OPERATOR = Actor(Role.OPERATOR, user_id=0)
MINIMUM = Money(1000, "USD")  # the default Settings.minimum_payout_minor


def usd(minor: int) -> Money:
    return Money(minor, "USD")


@pytest.fixture
def campaign(services: Any, people: Any) -> Any:
    return stored_campaign(
        services,
        people["buyer"].actor,
        title="Morning walks",
        kind=ItemKind.VIDEO,
        rate_minor=500,
        quota=10,
        coverage_bonus_minor=0,
    )


@pytest.fixture
def funded(services: Any, people: Any, campaign: Any) -> Any:
    with services.uow() as uow:
        money.fund_campaign_escrow(
            uow, FakeCardRail(), people["buyer"].actor, campaign.id, usd(5000), "fund-1"
        )
    return campaign


def balance(services: Any, ref: AccountRef) -> Money:
    with services.uow() as uow:
        return uow.ledger.balance(ref)  # type: ignore[no-any-return]


def check(services: Any) -> LedgerReport:
    with services.uow() as uow:
        return money.check_ledger(uow, OPERATOR)  # type: ignore[no-any-return]


def earn(services: Any, campaign: Any, contributor_id: int, minor: int, item_id: int) -> None:
    with services.uow() as uow:
        money.pay_accepted_item(uow, campaign.id, contributor_id, usd(minor), item_id)
        uow.commit()
