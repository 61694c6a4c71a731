"""``datatrust fx set`` and ``datatrust fx list``: operator-supplied display rates, stored
exactly as decimals; bad input exits 2 naming the problem."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from datatrust.adapters.db import migrate
from datatrust.bootstrap import build
from datatrust.cli import app
from datatrust.domain.fx import FxRateRow
from support import make_settings

runner = CliRunner()


@pytest.fixture
def instance(databases, tmp_path, monkeypatch):
    url = databases.create()
    svc = build(make_settings(tmp_path, database_url=url), upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    monkeypatch.setenv("DATATRUST_DATABASE_URL", url)
    monkeypatch.setenv("DATATRUST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATATRUST_QUEUE_BACKEND", "immediate")
    yield svc
    svc.close()


def test_fx_set_stores_the_rate_exactly_and_fx_list_shows_it(instance):
    first = runner.invoke(
        app, ["fx", "set", "usd", "ZAR", "18.2500", "--date", "2026-11-20", "--dev"]
    )
    assert first.exit_code == 0, first.output
    assert "1 USD = 18.25 ZAR on 2026-11-20" in first.output
    runner.invoke(app, ["fx", "set", "USD", "INR", "84.125", "--date", "2026-11-21", "--dev"])
    again = runner.invoke(app, ["fx", "set", "USD", "ZAR", "18.3", "--date", "2026-11-20", "--dev"])
    assert again.exit_code == 0, again.output
    listed = runner.invoke(app, ["fx", "list", "--dev"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        "2026-11-21  1 USD = 84.125 INR",
        "2026-11-20  1 USD = 18.3 ZAR",
    ]
    with instance.uow() as uow:
        rows = {(r.quote, r.rate) for r in uow.all(FxRateRow)}
    assert rows == {("ZAR", "18.3"), ("INR", "84.125")}


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["USD", "ZAR", "abc"], "exchange rate must be above zero"),
        (["USD", "ZAR", "0"], "exchange rate must be above zero"),
        (["USD", "XXX", "2"], "XXX"),
        (["USD", "USD", "2"], "two different currencies"),
        (["USD", "ZAR", "18", "--date", "20/11/2026"], "--date"),
    ],
)
def test_fx_set_refuses_bad_input_naming_the_problem(instance, args, problem):
    result = runner.invoke(app, ["fx", "set", *args, "--dev"])
    assert result.exit_code == 2
    assert problem in result.output
    assert runner.invoke(app, ["fx", "list", "--dev"]).output.startswith("no exchange rates")
