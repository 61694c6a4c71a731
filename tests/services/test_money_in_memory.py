"""Money services on the in-memory unit of work (``adapters.memory``, held to the SQL one
by ``tests/foundation/test_unit_of_work_contract.py``): escrow, paying accepted work,
sales with royalties, payouts and their batches, statements and invoices. What needs the
database itself stays in ``test_money_service.py``."""

from __future__ import annotations

from datetime import date

import pytest

from datatrust.adapters.payments import FakeCardRail, FakePayoutProvider
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from datatrust.domain.ledger import AccountRef, InsufficientFunds
from datatrust.domain.money import Money
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.permissions import Actor, Role
from datatrust.services import money
from datatrust.services.money.escrow import escrow_covers
from datatrust.services.money.sales import record_sale
from money_support import MINIMUM, OPERATOR, balance, campaign, check, earn, funded, usd
from support import MemoryServices, Persona, personas

__all__ = ["campaign", "funded"]  # fixtures


@pytest.fixture
def services() -> MemoryServices:
    return MemoryServices()


@pytest.fixture
def people(services: MemoryServices) -> dict[str, Persona]:
    return personas(services)


def test_a_buyer_funds_its_campaign_and_escrow_covers_quota_times_rate(services, people, campaign):
    rail = FakeCardRail()
    with services.uow() as uow:
        first = money.fund_campaign_escrow(
            uow, rail, people["buyer"].actor, campaign.id, usd(3000), "k1"
        )
    assert first.balance == usd(3000) and not first.replayed
    with services.uow() as uow:
        second = money.fund_campaign_escrow(
            uow, rail, people["buyer"].actor, campaign.id, usd(2000), "k2"
        )
    assert second.balance == usd(5000)
    with services.uow() as uow:
        assert escrow_covers(uow, campaign.id, usd(500), 10, usd(0))
        assert not escrow_covers(uow, campaign.id, usd(500), 10, usd(1))
    assert check(services).ok


def test_funding_twice_with_the_same_key_charges_and_books_once(services, people, campaign):
    rail = FakeCardRail()
    for _ in range(3):
        with services.uow() as uow:
            result = money.fund_campaign_escrow(
                uow, rail, people["buyer"].actor, campaign.id, usd(1000), "same"
            )
    assert result.replayed and result.balance == usd(1000)
    assert len(rail.charges) == 1


def test_funding_refuses_zero_negative_foreign_and_unknown_amounts(services, people, campaign):
    buyer = people["buyer"].actor
    for bad in (usd(0), usd(-5), Money(100, "EUR")):
        with services.uow() as uow, pytest.raises(InvalidInput):
            money.fund_campaign_escrow(uow, FakeCardRail(), buyer, campaign.id, bad, "x")
    with pytest.raises(InvalidInput, match="unknown currency"):
        Money(100, "XYZ")


def test_another_organisation_cannot_fund_or_see_a_campaign(services, people, campaign):
    with services.uow() as uow, pytest.raises(PermissionDenied):
        money.fund_campaign_escrow(
            uow, FakeCardRail(), people["other"].actor, campaign.id, usd(100), "x"
        )
    stranger = Actor(Role.BUYER, user_id=people["other"].actor.user_id, org_id=999_999)
    with services.uow() as uow, pytest.raises(NotFound):
        money.fund_campaign_escrow(uow, FakeCardRail(), stranger, campaign.id, usd(100), "x")


def test_accepted_items_are_paid_once_from_escrow_and_leftovers_return(services, people, funded):
    owner = people["owner"].actor.user_id
    earn(services, funded, owner, 500, item_id=1)
    earn(services, funded, owner, 500, item_id=1)  # the same item again: paid once
    earn(services, funded, owner, 500, item_id=2)
    assert balance(services, AccountRef.contributor_payable(owner, "USD")) == usd(1000)
    with services.uow() as uow:
        left = money.close_campaign_escrow(uow, funded.id, people["buyer"].actor.org_id)
        again = money.close_campaign_escrow(uow, funded.id, people["buyer"].actor.org_id)
        uow.commit()
    assert left == usd(4000) and again == usd(0)
    assert balance(services, AccountRef.escrow(funded.id, "USD")) == usd(0)
    with services.uow() as uow, pytest.raises(InsufficientFunds):
        money.pay_accepted_item(uow, funded.id, owner, usd(500), 3)
    assert check(services).ok


def test_a_sale_pays_the_platform_fee_and_each_contributor_their_royalty(services, people):
    owner, other = people["owner"].actor.user_id, people["other"].actor.user_id
    org = people["buyer"].actor.org_id
    with services.uow() as uow:
        money.deposit_buyer_funds(uow, FakeCardRail(), people["buyer"].actor, usd(10_000), "t")
    with services.uow() as uow:
        split = record_sale(
            uow,
            org,
            usd(1001),
            [(owner, usd(600), 50, 11), (other, usd(400), "12.5", 12)],
            "order-1",
            platform_fee_percent=20,
        )
        record_sale(
            uow,
            org,
            usd(1001),
            [(owner, usd(600), 50, 11), (other, usd(400), "12.5", 12)],
            "order-1",
        )
        uow.commit()
    assert split.platform_fee == usd(200)
    assert split.platform_total + split.contributor_total == usd(1001)
    # 1001 - 200 fee = 801; 600/1000 of it is 481 (rounded), and 50 % of 481 is 241.
    assert balance(services, AccountRef.contributor_payable(owner, "USD")) == usd(241)
    assert balance(services, AccountRef.buyer_funds(org, "USD")) == usd(10_000 - 1001)
    assert check(services).ok


def test_a_sale_the_buyer_cannot_cover_is_refused(services, people):
    with services.uow() as uow, pytest.raises(InsufficientFunds):
        record_sale(
            uow,
            people["buyer"].actor.org_id,
            usd(100),
            [(people["owner"].actor.user_id, usd(100), 50, 1)],
            "broke",
        )


def test_a_payout_request_sets_earnings_aside_and_a_retry_pays_once(services, people, funded):
    owner = people["owner"]
    earn(services, funded, owner.actor.user_id, 2500, item_id=1)
    with services.uow() as uow:
        first = money.request_payout(uow, owner.actor, usd(1500), "pay-1", minimum=MINIMUM)
    with services.uow() as uow:
        again = money.request_payout(uow, owner.actor, usd(1500), "pay-1", minimum=MINIMUM)
    assert not first.replayed and again.replayed and again.payout.id == first.payout.id
    assert balance(services, AccountRef.contributor_payable(owner.actor.user_id, "USD")) == usd(
        1000
    )
    with services.uow() as uow, pytest.raises(Conflict):
        money.request_payout(uow, owner.actor, usd(1600), "pay-1", minimum=MINIMUM)


def test_payouts_below_the_minimum_or_above_the_balance_are_refused(services, people, funded):
    owner = people["owner"].actor
    earn(services, funded, owner.user_id, 1200, item_id=1)
    with services.uow() as uow, pytest.raises(InvalidInput, match=r"smallest payout is USD 10\.00"):
        money.request_payout(uow, owner, usd(999), "small", minimum=MINIMUM)
    with services.uow() as uow, pytest.raises(InsufficientFunds, match=r"USD 12\.00 is available"):
        money.request_payout(uow, owner, usd(1300), "big", minimum=MINIMUM)
    for bad in (usd(0), usd(-100)):
        with services.uow() as uow, pytest.raises(InvalidInput):
            money.request_payout(uow, owner, bad, "bad", minimum=MINIMUM)
    with services.uow() as uow, pytest.raises(InvalidInput, match="idempotency_key"):
        money.request_payout(uow, owner, usd(1000), "  ", minimum=MINIMUM)


def test_a_batch_settles_payouts_and_a_failed_one_is_reversed_cleanly(services, people, funded):
    owner, other = people["owner"].actor, people["other"].actor
    earn(services, funded, owner.user_id, 2000, item_id=1)
    earn(services, funded, other.user_id, 2000, item_id=2)
    with services.uow() as uow:
        money.request_payout(uow, owner, usd(1500), "a", minimum=MINIMUM)
    with services.uow() as uow:
        money.request_payout(uow, other, usd(1500), "b", minimum=MINIMUM)
    provider = FakePayoutProvider(refuse_users={other.user_id})
    report = money.run_payout_batch(services.uow, provider)
    assert len(report.settled) == 1 and len(report.failed) == 1
    assert balance(services, AccountRef.contributor_payable(other.user_id, "USD")) == usd(2000)
    assert balance(services, AccountRef.payouts_in_transit(other.user_id, "USD")) == usd(0)
    assert balance(services, AccountRef.payouts_in_transit(owner.user_id, "USD")) == usd(0)
    with services.uow() as uow:
        states = {p.user_id: p.state for p in uow.all(Payout)}
        fail = uow.ledger.entry(f"payout:{report.failed[0]}:fail")
    assert states == {
        owner.user_id: PayoutState.SETTLED,
        other.user_id: PayoutState.FAILED,
    }
    assert fail is not None and fail.source["reason"]
    # A second batch finds nothing to do and pays no one again.
    assert money.run_payout_batch(services.uow, provider).settled == []
    assert list(provider.paid.values()) == [usd(1500)]
    assert check(services).ok


def test_a_batch_that_dies_mid_way_pays_nobody_twice_when_run_again(services, people, funded):
    owner, other = people["owner"].actor, people["other"].actor
    earn(services, funded, owner.user_id, 2000, item_id=1)
    earn(services, funded, other.user_id, 2000, item_id=2)
    for actor, key in ((owner, "a"), (other, "b")):
        with services.uow() as uow:
            money.request_payout(uow, actor, usd(1500), key, minimum=MINIMUM)
    provider = FakePayoutProvider()

    class Dies(Exception):
        pass

    class DiesAfterFirstSend:
        name = "fake"
        sends = 0

        def send(self, instruction):
            provider.send(instruction)  # the money left ...
            self.sends += 1
            raise Dies  # ... and the process died before booking it

    with pytest.raises(Dies):
        money.run_payout_batch(services.uow, DiesAfterFirstSend())
    report = money.run_payout_batch(services.uow, provider)
    assert sorted(report.settled) and len(report.settled) == 2
    assert len(provider.paid) == 2  # each payout paid exactly once, though one was sent twice
    assert len(provider.sent) == 3
    assert check(services).ok


def test_a_contributor_statement_shows_every_credit_with_its_source(services, people, funded):
    owner = people["owner"].actor
    org = people["buyer"].actor.org_id
    earn(services, funded, owner.user_id, 500, item_id=41)
    with services.uow() as uow:
        money.deposit_buyer_funds(uow, FakeCardRail(), people["buyer"].actor, usd(5000), "t")
    with services.uow() as uow:
        record_sale(uow, org, usd(2000), [(owner.user_id, usd(2000), 50, 41)], "o-9")
        uow.commit()
    with services.uow() as uow:
        money.set_fx_rate(uow, OPERATOR, "USD", "ZAR", "18.25", date(2026, 11, 20))
    with services.uow() as uow:
        statement = money.contributor_statement(uow, owner, show_in="ZAR")
    (usd_balance,) = statement["balances"]
    assert usd_balance["available"]["amount_minor"] == 500 + 800
    assert usd_balance["available_approx"] == {
        "amount_minor": 23725,
        "currency": "ZAR",
        "display": "ZAR 237.25",
        "rate_date": "2026-11-20",
        "approximate": True,
    }
    sale, item = statement["lines"]
    assert item["source"] == {"kind": "item", "campaign_id": funded.id, "item_id": 41}
    assert sale["source"]["kind"] == "sale" and sale["source"]["buyer_org_id"] == org
    assert sale["source"]["buyer_paid"]["amount_minor"] == 2000
    assert sale["source"]["platform_fee"]["amount_minor"] == 400
    assert sale["source"]["items"][0]["share"]["amount_minor"] == 800
    with services.uow() as uow, pytest.raises(InvalidInput):
        money.contributor_statement(uow, owner, show_in="XXX")


def test_a_buyer_sees_its_invoices_and_nobody_else_does(services, people, funded):
    buyer = people["buyer"].actor
    with services.uow() as uow:
        money.deposit_buyer_funds(uow, FakeCardRail(), buyer, usd(5000), "t")
    with services.uow() as uow:
        record_sale(
            uow, buyer.org_id, usd(1000), [(people["owner"].actor.user_id, usd(1000), 50, 5)], "o-1"
        )
        uow.commit()
    with services.uow() as uow:
        invoices = money.buyer_invoices(uow, buyer, buyer.org_id)
        as_operator = money.buyer_invoices(uow, people["operator"].actor, buyer.org_id)
    assert as_operator == invoices
    sale, funding = invoices["invoices"]
    assert sale["price"]["amount_minor"] == 1000 and sale["platform_fee"]["amount_minor"] == 200
    assert sale["to_contributors"]["amount_minor"] == 400
    assert funding["kind"] == "escrow_funding" and funding["price"]["amount_minor"] == 5000
    with services.uow() as uow, pytest.raises((NotFound, PermissionDenied)):
        money.buyer_invoices(uow, people["other"].actor, buyer.org_id)
