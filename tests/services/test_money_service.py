"""Money services on a real database (SQLite, or PostgreSQL with DATATRUST_TEST_DB=postgres):
escrow, paying accepted work, sales with royalties, payouts, statements, the check."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from datatrust.adapters.payments import CsvPayoutProvider, FakeCardRail, FakePayoutProvider
from datatrust.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from datatrust.domain.items import ItemKind
from datatrust.domain.ledger import AccountRef, InsufficientFunds
from datatrust.domain.money import CurrencyMismatch, Money
from datatrust.domain.payfloor import PayFloors, check_pay_floor
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.permissions import Actor, Role
from datatrust.domain.policy import default_pay_floors
from datatrust.services.money import money
from support import stored_campaign

OPERATOR = Actor(Role.OPERATOR, user_id=0)
MINIMUM = Money(1000, "USD")  # the default Settings.minimum_payout_minor


def usd(minor: int) -> Money:
    return Money(minor, "USD")


@pytest.fixture
def campaign(services, people):
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
def funded(services, people, campaign):
    with services.uow() as uow:
        money.fund_campaign_escrow(
            uow, FakeCardRail(), people["buyer"].actor, campaign.id, usd(5000), "fund-1"
        )
    return campaign


def balance(services, ref: AccountRef) -> Money:
    with services.uow() as uow:
        return uow.ledger.balance(ref)


def check(services):
    with services.uow() as uow:
        return money.check_ledger(uow, OPERATOR)


def earn(services, campaign, contributor_id: int, minor: int, item_id: int) -> None:
    with services.uow() as uow:
        money.pay_accepted_item(uow, campaign.id, contributor_id, usd(minor), item_id)
        uow.commit()


# -- escrow ---------------------------------------------------------------------------------


def test_required_escrow_is_quota_times_rate_plus_bonuses():
    assert money.required_escrow(usd(500), 10, usd(250)) == usd(5250)
    with pytest.raises(InvalidInput):
        money.required_escrow(usd(0), 10, usd(0))
    with pytest.raises(InvalidInput):
        money.required_escrow(usd(500), 0, usd(0))
    with pytest.raises(CurrencyMismatch):
        money.required_escrow(usd(500), 1, Money(1, "EUR"))


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
        assert money.escrow_covers(uow, campaign.id, usd(500), 10, usd(0))
        assert not money.escrow_covers(uow, campaign.id, usd(500), 10, usd(1))
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


# -- sales ----------------------------------------------------------------------------------


def test_a_sale_pays_the_platform_fee_and_each_contributor_their_royalty(services, people):
    owner, other = people["owner"].actor.user_id, people["other"].actor.user_id
    org = people["buyer"].actor.org_id
    with services.uow() as uow:
        money.deposit_buyer_funds(uow, FakeCardRail(), people["buyer"].actor, usd(10_000), "t")
    with services.uow() as uow:
        split = money.record_sale(
            uow,
            org,
            usd(1001),
            [(owner, usd(600), 50, 11), (other, usd(400), "12.5", 12)],
            "order-1",
            platform_fee_percent=20,
        )
        money.record_sale(
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
        money.record_sale(
            uow,
            people["buyer"].actor.org_id,
            usd(100),
            [(people["owner"].actor.user_id, usd(100), 50, 1)],
            "broke",
        )


# -- payouts --------------------------------------------------------------------------------


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


def test_the_csv_provider_never_exports_a_payout_twice(tmp_path):
    provider = CsvPayoutProvider(tmp_path)
    instruction = money.PayoutInstruction("payout:7", 7, 3, usd(1234))
    first = provider.send(instruction)
    second = provider.send(instruction)
    assert first == second and first.settled
    (csv_file,) = tmp_path.glob("payouts-*.csv")
    rows = csv_file.read_text().splitlines()
    assert rows[0].startswith("payout_key") and rows[1] == "payout:7,7,3,USD,12.34,1234"
    assert len(rows) == 2


def test_the_payout_job_runs_a_batch_through_the_outbox(services, people, funded):
    owner = people["owner"].actor
    earn(services, funded, owner.user_id, 2000, item_id=1)
    with services.uow() as uow:
        money.request_payout(uow, owner, usd(1500), "a", minimum=MINIMUM)
    provider = FakePayoutProvider()
    services.payouts = provider
    with services.uow() as uow:
        assert money.schedule_payout_batch(uow, OPERATOR) == 1
    with services.uow() as uow:
        (job,) = [
            j
            for j in uow.all(__import__("datatrust.domain.jobs").domain.jobs.OutboxJob)
            if j.job == "payouts.run_batch"
        ]
    services.run_job(job.id)
    assert list(provider.paid.values()) == [usd(1500)]


# -- statements, FX, the check ----------------------------------------------------------------


def test_a_contributor_statement_shows_every_credit_with_its_source(services, people, funded):
    owner = people["owner"].actor
    org = people["buyer"].actor.org_id
    earn(services, funded, owner.user_id, 500, item_id=41)
    with services.uow() as uow:
        money.deposit_buyer_funds(uow, FakeCardRail(), people["buyer"].actor, usd(5000), "t")
    with services.uow() as uow:
        money.record_sale(uow, org, usd(2000), [(owner.user_id, usd(2000), 50, 41)], "o-9")
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
        money.record_sale(
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


def test_the_ledger_check_finds_a_tampered_cached_balance(services, people, funded):
    assert check(services).ok
    with services.uow() as uow:
        uow.session.execute(
            text(
                "UPDATE ledger_accounts SET balance_minor = balance_minor + 1 "
                "WHERE ref LIKE 'escrow:%'"
            )
        )
        result = money.check_ledger(uow, OPERATOR)
    assert not result.ok
    assert any("stored USD 50.01 but entries give USD 50.00" in p for p in result.report.problems())


def test_postings_and_entries_cannot_be_changed_or_deleted(services, funded):
    for statement in (
        "UPDATE postings SET amount_minor = amount_minor * 2",
        "DELETE FROM postings",
        "UPDATE journal_entries SET memo = 'edited'",
        "DELETE FROM journal_entries",
    ):
        with services.uow() as uow, pytest.raises(Exception, match="append-only"):
            uow.session.execute(text(statement))


def test_a_zero_posting_is_refused_by_the_database(services, funded):
    with services.uow() as uow, pytest.raises(Exception, match=r"(?i)check|non_zero"):
        uow.session.execute(
            text(
                "INSERT INTO postings (entry_id, account_id, amount_minor, currency) "
                "SELECT MIN(id), (SELECT MIN(id) FROM ledger_accounts), 0, 'USD' "
                "FROM journal_entries"
            )
        )


def test_the_pay_floor_is_met_or_not_by_the_effective_hourly_rate():
    floors = default_pay_floors()
    ok = check_pay_floor(usd(200), 15, "ZA", floors)
    assert ok.meets_floor and ok.hourly_rate == usd(800)
    low = check_pay_floor(usd(199), 15, "ZA", floors)
    assert not low.meets_floor and low.minimum_rate_per_item == usd(200)
    local = check_pay_floor(usd(200), 15, "GB", PayFloors(800, "USD", {"GB": 1200}))
    assert not local.meets_floor
    with pytest.raises(CurrencyMismatch):
        check_pay_floor(Money(200, "EUR"), 15, "DE", floors)


def test_the_weekly_job_pays_everyone_at_or_above_the_minimum_once_a_week(services, people, funded):
    from datatrust.adapters.queue import SCHEDULE

    assert "payouts.weekly" in [job for _, _, job in SCHEDULE]
    owner, other = people["owner"].actor, people["other"].actor
    earn(services, funded, owner.user_id, 1500, item_id=1)
    earn(services, funded, other.user_id, 999, item_id=2)  # below the 10 USD minimum
    services.payouts = provider = FakePayoutProvider()
    monday = __import__("datetime").datetime(2026, 11, 23, 6, 0)
    services.schedule("payouts.weekly", now=monday)
    assert list(provider.paid.values()) == [usd(1500)]
    assert balance(services, AccountRef.contributor_payable(owner.user_id, "USD")) == usd(0)
    assert balance(services, AccountRef.contributor_payable(other.user_id, "USD")) == usd(999)
    with services.uow() as uow:
        (payout,) = uow.all(Payout, user_id=owner.user_id)
        assert payout.state is PayoutState.SETTLED
        assert payout.idempotency_key == money.weekly_payout_key(monday.date(), "USD")

    # The same week again (a second scheduler, a retry): nobody is paid twice, even with
    # new earnings; the next week pays them.
    earn(services, funded, owner.user_id, 1200, item_id=3)
    services.schedule("payouts.weekly", now=monday.replace(minute=1))
    with services.uow() as uow:
        assert money.request_weekly_payouts(uow, MINIMUM, today=monday.date()) == []
    assert len(provider.paid) == 1
    with services.uow() as uow:
        (next_week,) = money.request_weekly_payouts(
            uow, MINIMUM, today=monday.date().replace(day=30)
        )
    assert next_week.amount == usd(1200)
    assert check(services).ok
