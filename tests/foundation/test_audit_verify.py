"""``datatrust audit verify`` recomputes the chain and names the first altered event."""

from __future__ import annotations

import json

from sqlalchemy import text
from typer.testing import CliRunner

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.cli import app

runner = CliRunner()


def _seed(databases, tmp_path, monkeypatch):
    url = databases.create()
    engine = make_engine(url)
    migrate.upgrade(engine)
    monkeypatch.setenv("DATATRUST_DATABASE_URL", url)
    monkeypatch.setenv("DATATRUST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATATRUST_DEV_MODE", "1")
    monkeypatch.setenv("DATATRUST_QUEUE_BACKEND", "immediate")
    from datatrust.bootstrap import build
    from datatrust.config import load_settings

    services = build(load_settings())
    for n in range(4):
        with services.uow() as uow:
            uow.record("instance:update", "system", "setting", n, value=n)
            uow.commit()
    services.close()
    return engine


def test_an_untouched_log_verifies(databases, tmp_path, monkeypatch):
    _seed(databases, tmp_path, monkeypatch)
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checked"] == 4


def test_a_tampered_event_is_named_by_audit_verify(databases, tmp_path, monkeypatch):
    engine = _seed(databases, tmp_path, monkeypatch)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_events SET actor = 'user:666' WHERE seq = 3"))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    report = json.loads(result.stdout.splitlines()[0])
    assert report["first_bad_seq"] == 3 and not report["ok"]
    assert "event 3" in result.output


def test_a_deleted_event_breaks_the_chain(databases, tmp_path, monkeypatch):
    engine = _seed(databases, tmp_path, monkeypatch)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert json.loads(result.stdout.splitlines()[0])["first_bad_seq"] == 3
