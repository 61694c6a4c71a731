"""``datatrust ledger check``: exit 0 with a reconciliation report when the books balance,
exit 1 naming the account when a cached balance was tampered with."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from datatrust.adapters.db import migrate
from datatrust.bootstrap import build
from datatrust.cli import app
from datatrust.domain import ledger as dl
from datatrust.domain.money import Money
from datatrust.services import money
from datatrust.services.money.common import post
from support import make_settings

runner = CliRunner()


@pytest.fixture
def books(databases, tmp_path, monkeypatch):
    """A committed database (the CLI opens its own connections) with a few movements."""
    url = databases.create()
    svc = build(make_settings(tmp_path, database_url=url), upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    usd = Money(10_000, "USD")
    with svc.uow() as uow:
        post(uow, dl.deposit(3, usd, key="dep"), "system")
        post(uow, dl.fund_escrow(3, 12, usd, key="fund"), "system")
        money.pay_accepted_item(uow, 12, 7, Money(2_500, "USD"), 1)
        uow.commit()
    monkeypatch.setenv("DATATRUST_DATABASE_URL", url)
    monkeypatch.setenv("DATATRUST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATATRUST_QUEUE_BACKEND", "immediate")
    yield svc
    svc.close()


def test_ledger_check_passes_and_prints_a_reconciliation_report(books):
    result = runner.invoke(app, ["ledger", "check", "--dev"])
    assert result.exit_code == 0, result.output
    assert "ledger check: OK" in result.output
    assert "entries checked: 3" in result.output
    assert "sum (must be 0)" in result.output
    as_json = runner.invoke(app, ["ledger", "check", "--dev", "--json"])
    report = json.loads(as_json.output)
    assert report["ok"] and report["totals"]["USD"] == {
        "buyer_funds": 0,
        "contributor_payable": 2500,
        "escrow": 7500,
        "external_cash": -10_000,
        "sum": 0,
    }


def test_ledger_check_fails_when_a_cached_balance_was_changed(books):
    with books.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE ledger_accounts SET balance_minor = 2600 "
                "WHERE ref = 'contributor_payable:user:7:USD'"
            )
        )
    result = runner.invoke(app, ["ledger", "check", "--dev"])
    assert result.exit_code == 1
    assert "contributor_payable:user:7:USD: stored USD 26.00 but entries give USD 25.00" in (
        result.output
    )
