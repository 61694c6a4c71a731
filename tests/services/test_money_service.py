"""Money services on a real database (SQLite, or PostgreSQL with DATATRUST_TEST_DB=postgres):
what needs the database itself — its constraints, a tampered stored balance, the outbox
job run by the worker — and what needs no unit of work. The rest of the money services'
tests run on the in-memory unit of work: ``test_money_in_memory.py``."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from datatrust.adapters.payments import CsvPayoutProvider, FakePayoutProvider
from datatrust.domain.errors import InvalidInput
from datatrust.domain.ledger import AccountRef
from datatrust.domain.money import CurrencyMismatch, Money
from datatrust.domain.payfloor import PayFloors, check_pay_floor
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.policy import default_pay_floors
from datatrust.services import money
from datatrust.services.money.escrow import escrow_needed
from datatrust.services.money.payouts import request_weekly_payouts, weekly_payout_key
from money_support import MINIMUM, OPERATOR, balance, campaign, check, earn, funded, usd

__all__ = ["campaign", "funded"]  # fixtures


# -- escrow ---------------------------------------------------------------------------------


def test_escrow_needed_is_quota_times_rate_plus_bonuses():
    assert escrow_needed(usd(500), 10, usd(250)) == usd(5250)
    with pytest.raises(InvalidInput):
        escrow_needed(usd(0), 10, usd(0))
    with pytest.raises(InvalidInput):
        escrow_needed(usd(500), 0, usd(0))
    with pytest.raises(CurrencyMismatch):
        escrow_needed(usd(500), 1, Money(1, "EUR"))


# -- sales ----------------------------------------------------------------------------------


# -- payouts --------------------------------------------------------------------------------


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
        assert payout.idempotency_key == weekly_payout_key(monday.date(), "USD")

    # The same week again (a second scheduler, a retry): nobody is paid twice, even with
    # new earnings; the next week pays them.
    earn(services, funded, owner.user_id, 1200, item_id=3)
    services.schedule("payouts.weekly", now=monday.replace(minute=1))
    with services.uow() as uow:
        assert request_weekly_payouts(uow, MINIMUM, today=monday.date()) == []
    assert len(provider.paid) == 1
    with services.uow() as uow:
        (next_week,) = request_weekly_payouts(uow, MINIMUM, today=monday.date().replace(day=30))
    assert next_week.amount == usd(1200)
    assert check(services).ok
