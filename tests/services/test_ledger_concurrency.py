"""The ledger under real concurrency and real crashes, on committed databases (not the
rolled-back per-test transaction): PostgreSQL for the concurrency tests, either backend
for the crash test."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from datatrust.adapters.db import migrate
from datatrust.adapters.payments import CsvPayoutProvider, FakePayoutProvider
from datatrust.bootstrap import Services, build
from datatrust.domain import ledger as dl
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import DomainError
from datatrust.domain.ledger import AccountRef, InsufficientFunds
from datatrust.domain.money import Money
from datatrust.domain.payouts import Payout, PayoutState
from datatrust.domain.permissions import Actor, Role
from datatrust.services import money
from datatrust.services.money.batches import process_gone, this_process
from datatrust.services.money.common import post
from datatrust.services.money.escrow import escrow_needed
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
        post(uow, dl.deposit(1, usd(minor), key=f"seed-dep:{campaign_id}"), "system")
        post(uow, dl.fund_escrow(1, campaign_id, usd(minor), key=f"seed:{campaign_id}"), "system")
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
        assert uow.ledger.balance(AccountRef.escrow(7, "USD")) == usd(100)
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
        assert uow.count(Payout, user_id=person.user_id) == 1
        payable = uow.ledger.balance(AccountRef.contributor_payable(person.user_id, "USD"))
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


@pytest.mark.slow
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
        killed = subprocess.run([sys.executable, "-c", KILLER], env=env, timeout=300)
        assert killed.returncode == -9  # really died by SIGKILL
        with svc.uow() as uow:
            states = sorted(p.state.value for p in uow.all(Payout))
        assert states.count("settled") == 1 and states.count("sending") == 3

        report = money.run_payout_batch(svc.uow, CsvPayoutProvider(out))  # the restart
        assert len(report.settled) == 3
        (csv_file,) = out.glob("payouts-*.csv")
        keys = [line.split(",")[0] for line in csv_file.read_text().splitlines()[1:]]
        assert sorted(keys) == sorted(set(keys)) and len(keys) == 4  # each paid exactly once
        with svc.uow() as uow:
            assert all(p.state is PayoutState.SETTLED for p in uow.all(Payout))
            result = money.check_ledger(uow, OPERATOR)
        assert result.ok, result.report.problems()
        assert result.totals["USD"]["payouts_in_transit"] == 0
    finally:
        svc.close()


def test_errors_are_domain_errors_with_clear_messages():
    with pytest.raises(DomainError, match="must be more than zero"):
        escrow_needed(usd(-1), 1, usd(0))


def funded_payouts(svc: Services, campaign_id: int, count: int) -> list[int]:
    """``count`` contributors, each paid 2,000 and asking for a 1,500 payout."""
    seed_escrow(svc, campaign_id, 2000 * count)
    ids = []
    for i in range(count):
        person = make_persona(svc, f"c{campaign_id}-{i}", Role.CONTRIBUTOR).actor
        with svc.uow() as uow:
            money.pay_accepted_item(uow, campaign_id, person.user_id, usd(2000), item_id=i)
            uow.commit()
        with svc.uow() as uow:
            ids.append(money.request_payout(uow, person, usd(1500), "w", minimum=MINIMUM).payout.id)
    return ids


def test_identical_payout_requests_all_get_the_payout_and_leave_no_lock_behind(pg):
    """Each request keeps its unit of work open until every request has its answer, as a
    route's unit of work stays open until its response is sent: a replay that kept the
    payable account locked would leave the others waiting on it for ever."""
    seed_escrow(pg, 12, 5000)
    person = make_persona(pg, "clicker", Role.CONTRIBUTOR).actor
    with pg.uow() as uow:
        money.pay_accepted_item(uow, 12, person.user_id, usd(5000), item_id=1)
        uow.commit()
    payable = str(AccountRef.contributor_payable(person.user_id, "USD"))
    probes: list[str] = []

    def probe() -> None:  # runs once all have answered, their units of work still open
        with pg.engine.connect() as connection:
            connection.execute(
                text("SELECT id FROM ledger_accounts WHERE ref = :ref FOR UPDATE NOWAIT"),
                {"ref": payable},
            )
            probes.append("unlocked")

    count = 20  # fewer than the pool's 30 connections: every unit of work stays open
    answered = threading.Barrier(count, action=probe, timeout=30)

    def request(_i: int) -> int:
        with pg.uow() as uow:
            result = money.request_payout(uow, person, usd(2000), "same-click", minimum=MINIMUM)
            answered.wait()
            return result.payout.id

    results = in_threads(count, request)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert len(set(results)) == 1 and probes == ["unlocked"]
    with pg.uow() as uow:
        assert uow.count(Payout, user_id=person.user_id) == 1
        assert uow.ledger.balance(AccountRef.contributor_payable(person.user_id, "USD")) == usd(
            3000
        )


def test_a_hundred_identical_payout_requests_through_the_api_all_get_the_payout(pg):
    """The route as a client meets it (issue 12: 59-66 of these were 500s over three
    minutes while a replay held the payable account's lock until its response was sent)."""
    from fastapi.testclient import TestClient

    from datatrust.web.app import create_app

    seed_escrow(pg, 16, 5000)
    person = make_persona(pg, "api-clicker", Role.CONTRIBUTOR)
    with pg.uow() as uow:
        money.pay_accepted_item(uow, 16, person.actor.user_id, usd(5000), item_id=1)
        uow.commit()
    headers = {**person.headers, "Idempotency-Key": "same-click"}
    with TestClient(create_app(pg, start_worker=False)) as client:

        def click(_i: int) -> tuple[int, object]:
            response = client.post(
                "/api/me/payouts", json={"amount_minor": 2000, "currency": "USD"}, headers=headers
            )
            return response.status_code, response.json().get("id")

        answers = in_threads(100, click)
    # One answer for all: 201 with the same payout (an error would be an answer of its own).
    assert len(set(answers)) == 1 and answers[0][0] == 201, Counter(map(str, answers))
    with pg.uow() as uow:
        assert uow.count(Payout, user_id=person.actor.user_id) == 1


class SlowProvider(FakePayoutProvider):
    """Pays like the fake, slowly enough that batches started together overlap."""

    def send(self, instruction):
        time.sleep(0.02)
        return super().send(instruction)


@pytest.fixture
def committed(request, databases, tmp_path) -> Iterator[Services]:
    """Services on a committed database of the kind given by indirect parametrisation."""
    if request.param == "postgres":
        require_service("PostgreSQL", postgres_reachable())
    svc = committed_services(databases, tmp_path, request.param)
    yield svc
    svc.close()


@pytest.mark.parametrize("committed", ["sqlite", "postgres"], indirect=True)
def test_batches_running_at_once_never_both_hold_a_payout(committed):
    svc = committed
    ids = funded_payouts(svc, 13, 18)
    provider = SlowProvider()
    reports = in_threads(3, lambda _i: money.run_payout_batch(svc.uow, provider, limit=7))
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert all(r.claimed <= 7 for r in reports)  # the limit holds
    held = [set(r.settled) | set(r.failed) for r in reports]
    assert sum(len(h) for h in held) == len(set().union(*held))  # no payout in two
    assert sorted(provider.sent) == sorted(set(provider.sent))  # each sent once
    with svc.uow() as uow:
        batch_of = {p.id: p.batch_id for p in uow.all(Payout)}
    for report, payouts in zip(reports, held, strict=True):
        assert all(batch_of[p] == report.batch_id for p in payouts)
    # Whatever the limits left waiting, the next batch pays; nobody is paid twice.
    money.run_payout_batch(svc.uow, provider)
    assert sorted(provider.paid) == sorted(f"payout:{i}" for i in ids)
    assert len(provider.sent) == len(ids)
    with svc.uow() as uow:
        assert money.check_ledger(uow, OPERATOR).ok


BATCH_IN_A_WORKER = textwrap.dedent(
    """
    import os, time
    from pathlib import Path
    from datatrust.adapters.db.engine import make_engine, make_session_factory
    from datatrust.adapters.db.uow import SqlUnitOfWork
    from datatrust.adapters.payments import CsvPayoutProvider
    from datatrust.services import money

    sessions = make_session_factory(make_engine(os.environ["DB"]))
    csv = CsvPayoutProvider(Path(os.environ["OUT"]))
    sent = Path(os.environ["OUT"]) / f"sent-{os.getpid()}"

    class Recorded:  # every call this worker makes, repeats included
        name = "csv"

        def send(self, instruction):
            with sent.open("a") as log:
                log.write(instruction.key + "\\n")
            time.sleep(0.1)
            return csv.send(instruction)

    (Path(os.environ["OUT"]) / f"ready-{os.getpid()}").touch()
    while len(list(Path(os.environ["OUT"]).glob("ready-*"))) < 2:  # start together
        time.sleep(0.01)
    money.run_payout_batch(lambda: SqlUnitOfWork(sessions), Recorded(), limit=6)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("committed", ["sqlite", "postgres"], indirect=True)
def test_two_workers_running_batches_at_once_send_each_payout_once(committed, tmp_path):
    ids = funded_payouts(committed, 17, 10)
    out = tmp_path / "payouts"
    out.mkdir()
    env = {
        **os.environ,
        "DB": committed.settings.effective_database_url,
        "OUT": str(out),
    }
    workers = [subprocess.Popen([sys.executable, "-c", BATCH_IN_A_WORKER], env=env) for _ in "ab"]
    assert [w.wait(timeout=180) for w in workers] == [0, 0]
    sent = [path.read_text().split() for path in sorted(out.glob("sent-*"))]
    assert len(sent) == 2 and all(sent), sent  # both worked, at once
    assert sorted(sent[0] + sent[1]) == sorted(set(sent[0]) | set(sent[1]))  # none twice
    (csv_file,) = out.glob("payouts-*.csv")
    keys = [line.split(",")[0] for line in csv_file.read_text().splitlines()[1:]]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == len(sent[0] + sent[1])
    with committed.uow() as uow:
        settled = {p.id for p in uow.all(Payout, state=PayoutState.SETTLED)}
    assert settled == {int(key.split(":")[1]) for key in keys} and settled <= set(ids)


@pytest.mark.parametrize("committed", ["sqlite"], indirect=True)
def test_a_batch_takes_over_a_live_batchs_payouts_only_once_its_claim_runs_out(committed):
    svc = committed
    ids = funded_payouts(svc, 14, 2)
    now = utcnow()
    with svc.uow() as uow:  # a live batch (this process) holds both, one claim lapsed
        uow.payouts.claim("live", this_process(), "fake", now, 10)
        uow.payouts.renew("live", now + timedelta(minutes=5), [ids[0]])
        uow.commit()
    provider = FakePayoutProvider()
    report = money.run_payout_batch(svc.uow, provider)
    assert (report.taken_over, report.settled, provider.sent) == (
        1,
        [ids[1]],
        [f"payout:{ids[1]}"],
    )
    with svc.uow() as uow:
        assert uow.get(Payout, ids[0]).batch_id == "live"


def test_a_dead_process_is_gone_and_a_live_or_foreign_one_is_not():
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from datatrust.services.money.batches import this_process; print(this_process())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert process_gone(child.stdout.strip())  # exited: its pid is free
    assert not process_gone(this_process())
    host, scope, _pid, token = this_process().split("|")
    assert not process_gone(f"{host}|{scope}|1|{token}")  # init: alive
    assert not process_gone(f"elsewhere|another-boot/pid:[1]|{2**22 + 1}|{token}")
    assert not process_gone("not a process name")


@pytest.mark.parametrize("committed", ["sqlite"], indirect=True)
def test_the_weekly_job_on_an_instance_nobody_was_paid_on_yet_leaves_no_write_lock(committed):
    """Its request step found no balance and left its transaction (SQLite: the write lock)
    open, so the batch after it in the same job waited out the busy timeout and failed."""
    from datatrust.services.jobs import JobContext
    from datatrust.services.money import weekly_payouts_job

    committed.payouts = provider = FakePayoutProvider()
    with committed.uow() as uow:
        weekly_payouts_job(uow, {}, JobContext(job_id=1, attempt=1, services=committed))
        with committed.engine.connect() as other:  # another writer gets in at once
            other.exec_driver_sql("PRAGMA busy_timeout=100")
            other.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))
            other.commit()
    assert provider.sent == []


KILL_AT_CSV_WRITE = textwrap.dedent(
    """
    import os, signal
    from pathlib import Path
    from datatrust.adapters.db.engine import make_engine, make_session_factory
    from datatrust.adapters.db.uow import SqlUnitOfWork
    from datatrust.adapters.payments import CsvPayoutProvider
    from datatrust.services import money

    # Only what a batch needs (bootstrap.build would import every pipeline: slow here).
    sessions = make_session_factory(make_engine(os.environ["DB"]))
    real_write, real_fsync, rows = os.write, os.fsync, []

    def is_csv(fd):
        return os.readlink(f"/proc/self/fd/{fd}").endswith(".csv")

    def write(fd, data):  # "mid-write": the second row's write is torn by the kill
        if is_csv(fd) and os.environ["KILL"] == "mid-write" and len(rows) == 1:
            real_write(fd, data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(fd, data)

    def fsync(fd):  # "after-fsync": killed once the second row is on disk
        real_fsync(fd)
        if is_csv(fd):
            rows.append(fd)
            if os.environ["KILL"] == "after-fsync" and len(rows) == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    os.write, os.fsync = write, fsync
    out = CsvPayoutProvider(Path(os.environ["OUT"]))
    money.run_payout_batch(lambda: SqlUnitOfWork(sessions), out)
    """
)


@pytest.mark.parametrize(
    ("committed", "kill"),
    [("sqlite", "after-fsync"), ("postgres", "after-fsync"), ("sqlite", "mid-write")],
    indirect=["committed"],
)
def test_a_payout_file_writer_killed_at_the_write_leaves_each_payout_once_after_recovery(
    committed, tmp_path, kill
):
    svc = committed
    ids = funded_payouts(svc, 15, 4)
    out = tmp_path / "payouts"
    env = {
        **os.environ,
        "DB": svc.settings.effective_database_url,
        "OUT": str(out),
        "KILL": kill,
    }
    killed = subprocess.run([sys.executable, "-c", KILL_AT_CSV_WRITE], env=env, timeout=300)
    assert killed.returncode == -9  # really died by SIGKILL
    (csv_file,) = out.glob("payouts-*.csv")
    written = csv_file.read_bytes()
    assert written.count(b"\n") == (3 if kill == "after-fsync" else 2)  # header + rows
    assert kill == "after-fsync" or not written.endswith(b"\n")  # the torn row

    report = money.run_payout_batch(svc.uow, CsvPayoutProvider(out))  # the restart
    assert len(report.settled) == 3
    lines = csv_file.read_text().splitlines()
    assert lines[0].startswith("payout_key") and all(len(r.split(",")) == 6 for r in lines)
    keys = [line.split(",")[0] for line in lines[1:]]
    assert keys == [f"payout:{i}" for i in ids]  # no row twice, none lost, none torn
    assert (out / "exported.keys").read_text().split() == keys
    assert report.taken_over == 3  # the dead process's claims, at once
    with svc.uow() as uow:
        assert all(p.state is PayoutState.SETTLED for p in uow.all(Payout))
        assert money.check_ledger(uow, OPERATOR).ok


SEND_ALL = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from datatrust.adapters.payments import CsvPayoutProvider, FakePayoutProvider
    from datatrust.domain.money import Money
    from datatrust.services.money import PayoutInstruction

    provider = CsvPayoutProvider(Path(os.environ["OUT"]))
    time.sleep(max(0.0, float(os.environ["START"]) - time.time()))  # start together
    for i in range(1, 41):
        provider.send(PayoutInstruction(f"payout:{i}", i, 7, Money(1000 + i, "USD")))
    """
)


def test_two_processes_sending_the_same_payouts_write_each_row_once(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "START": str(time.time() + 3)}
    senders = [subprocess.Popen([sys.executable, "-c", SEND_ALL], env=env) for _ in range(2)]
    assert [s.wait(timeout=120) for s in senders] == [0, 0]
    (csv_file,) = tmp_path.glob("payouts-*.csv")
    keys = [line.split(",")[0] for line in csv_file.read_text().splitlines()[1:]]
    assert keys == [f"payout:{i}" for i in range(1, 41)]
