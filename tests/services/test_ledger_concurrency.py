"""The ledger under real concurrency and real crashes, on committed databases (not the
rolled-back per-test transaction): PostgreSQL for the concurrency tests, either backend
for the crash test."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from datatrust.adapters.db import migrate
from datatrust.adapters.payments import CsvPayoutProvider
from datatrust.bootstrap import Services, build
from datatrust.domain import ledger as dl
from datatrust.domain.errors import DomainError
from datatrust.domain.ledger import AccountRef, InsufficientFunds
from datatrust.domain.money import Money
from datatrust.domain.permissions import Actor, Role
from datatrust.services import money
from support import make_persona, make_settings, postgres_reachable, require_service

OPERATOR = Actor(Role.OPERATOR, user_id=0)
MINIMUM = Money(1000, "USD")  # the default Settings.minimum_payout_minor


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def committed_services(databases, tmp_path: Path, kind: str) -> Services:
    url = databases.create(kind)
    svc = build(make_settings(tmp_path, database_url=url), upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    return svc


@pytest.fixture
def pg(databases, tmp_path) -> Iterator[Services]:
    require_service("PostgreSQL", postgres_reachable())
    svc = committed_services(databases, tmp_path, "postgres")
    yield svc
    svc.close()


def seed_escrow(svc: Services, campaign_id: int, minor: int) -> None:
    with svc.uow() as uow:
        money.post(uow, dl.deposit(1, usd(minor), key=f"seed-dep:{campaign_id}"), "system")
        money.post(
            uow, dl.fund_escrow(1, campaign_id, usd(minor), key=f"seed:{campaign_id}"), "system"
        )
        uow.commit()


def in_threads(count: int, work) -> list[object]:
    """Run ``work(i)`` in ``count`` threads released together; collect results/errors."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_fifty_concurrent_postings_never_overdraw_an_account(pg):
    seed_escrow(pg, 7, 1000)  # room for exactly floor(1000 / 300) = 3 payments
    owner = make_persona(pg, "earner", Role.CONTRIBUTOR).actor.user_id

    def pay(i: int) -> str:
        with pg.uow() as uow:
            money.pay_accepted_item(uow, 7, owner, usd(300), item_id=i)
            uow.commit()
        return "paid"

    results = in_threads(50, pay)
    paid = [r for r in results if r == "paid"]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(paid) == 3 and len(refused) == 47, [r for r in results if r != "paid"][:3]
    with pg.uow() as uow:
        assert uow.queries.ledger.balance(AccountRef.escrow(7, "USD")) == usd(100)
        assert money.check_ledger(uow, OPERATOR).ok


def test_a_hundred_identical_payout_requests_make_exactly_one_payout(pg):
    seed_escrow(pg, 8, 5000)
    person = make_persona(pg, "payee", Role.CONTRIBUTOR).actor
    with pg.uow() as uow:
        money.pay_accepted_item(uow, 8, person.user_id, usd(5000), item_id=1)
        uow.commit()

    def request(_i: int) -> bool:
        with pg.uow() as uow:
            return money.request_payout(
                uow, person, usd(2000), "same-click", minimum=MINIMUM
            ).replayed

    results = in_threads(100, request)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert results.count(False) == 1 and results.count(True) == 99
    with pg.uow() as uow:
        assert uow.count(money.Payout, user_id=person.user_id) == 1
        payable = uow.queries.ledger.balance(AccountRef.contributor_payable(person.user_id, "USD"))
        assert payable == usd(3000)
        assert money.check_ledger(uow, OPERATOR).ok


def test_postgresql_refuses_to_commit_an_entry_that_does_not_balance(pg):
    seed_escrow(pg, 9, 100)
    with (
        pg.engine.connect() as connection,
        pytest.raises(Exception, match="does not balance"),
        connection.begin(),
    ):
        entry_id = connection.execute(
            text(
                "INSERT INTO journal_entries (key, memo, source, created_at) "
                "VALUES ('forged', '', '{}', now()) RETURNING id"
            )
        ).scalar_one()
        account = connection.execute(
            text("SELECT id FROM ledger_accounts WHERE ref = 'external_cash:world:USD'")
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO postings (entry_id, account_id, amount_minor, currency) "
                "VALUES (:e, :a, 500, 'USD')"
            ),
            {"e": entry_id, "a": account},
        )


def test_the_database_refuses_an_overdraft_even_past_the_code(pg):
    seed_escrow(pg, 10, 100)
    with (
        pg.engine.connect() as connection,
        pytest.raises(Exception, match="not_overdrawn"),
        connection.begin(),
    ):
        connection.execute(
            text(
                "UPDATE ledger_accounts SET balance_minor = -1 WHERE ref = 'escrow:campaign:10:USD'"
            )
        )


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from datatrust.adapters.payments import CsvPayoutProvider
    from datatrust.bootstrap import build
    from datatrust.services import money
    sys.path.insert(0, os.environ["TESTS_DIR"])
    from support import make_settings

    svc = build(make_settings(Path(os.environ["TMP"]), database_url=os.environ["DB"]),
                upgrade_embedded=False)
    csv = CsvPayoutProvider(Path(os.environ["OUT"]))

    class DiesAfterSecondPayout:
        name = "csv"
        sent = 0

        def send(self, instruction):
            outcome = csv.send(instruction)
            self.sent += 1
            if self.sent == 2:
                os.kill(os.getpid(), signal.SIGKILL)  # mid-batch: paid, not booked
            return outcome

    money.run_payout_batch(svc.uow, DiesAfterSecondPayout())
    """
)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_payout_batch_killed_mid_way_pays_nobody_twice_after_restart(databases, tmp_path, kind):
    if kind == "postgres":
        require_service("PostgreSQL", postgres_reachable())
    svc = committed_services(databases, tmp_path, kind)
    try:
        seed_escrow(svc, 11, 10_000)
        people = [make_persona(svc, f"p{i}", Role.CONTRIBUTOR).actor for i in range(4)]
        for i, person in enumerate(people):
            with svc.uow() as uow:
                money.pay_accepted_item(uow, 11, person.user_id, usd(2000), item_id=i)
                uow.commit()
            with svc.uow() as uow:
                money.request_payout(uow, person, usd(1500), "weekly", minimum=MINIMUM)
        out = tmp_path / "payouts"
        env = {
            **os.environ,
            "DB": svc.settings.effective_database_url,
            "OUT": str(out),
            "TMP": str(tmp_path),
            "TESTS_DIR": str(Path(__file__).parents[1]),
        }
        killed = subprocess.run([sys.executable, "-c", KILLER], env=env, timeout=120)
        assert killed.returncode == -9  # really died by SIGKILL
        with svc.uow() as uow:
            states = sorted(p.state.value for p in uow.all(money.Payout))
        assert states.count("settled") == 1 and states.count("sending") == 3

        report = money.run_payout_batch(svc.uow, CsvPayoutProvider(out))  # the restart
        assert len(report.settled) == 3
        (csv_file,) = out.glob("payouts-*.csv")
        keys = [line.split(",")[0] for line in csv_file.read_text().splitlines()[1:]]
        assert sorted(keys) == sorted(set(keys)) and len(keys) == 4  # each paid exactly once
        with svc.uow() as uow:
            assert all(p.state is money.PayoutState.SETTLED for p in uow.all(money.Payout))
            result = money.check_ledger(uow, OPERATOR)
        assert result.ok, result.report.problems()
        assert result.totals["USD"]["payouts_in_transit"] == 0
    finally:
        svc.close()


def test_errors_are_domain_errors_with_clear_messages():
    with pytest.raises(DomainError, match="must be more than zero"):
        money.required_escrow(usd(-1), 1, usd(0))
