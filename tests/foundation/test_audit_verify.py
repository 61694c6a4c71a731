"""``datatrust audit verify`` recomputes the chain and names the first altered event; the
head is compared, and signed checkpoints kept elsewhere catch truncation and rewriting by
whoever holds the database (issue 14 §3)."""

from __future__ import annotations

import json
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from datatrust.adapters.crypto import Ed25519Signer, b64url_encode
from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.cli import app
from datatrust.domain.audit import Checkpoint, event_hash, record_fields
from datatrust.domain.clock import as_utc, utcnow

runner = CliRunner()
EVENTS = 10


def _seed(databases, tmp_path, monkeypatch, events=4):
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
    for n in range(events):
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


def _checkpoint(tmp_path):
    result = runner.invoke(app, ["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "checkpoint.json"
    path.write_text(result.stdout)
    return path, json.loads(result.stdout)


def _verify(*args):
    result = runner.invoke(app, ["audit", "verify", *args])
    return result, json.loads(result.stdout.splitlines()[0])


def _rewind_head(connection, seq):
    last = connection.execute(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq})
    connection.execute(
        text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
        {"s": seq, "h": last.scalar_one()},
    )


def test_deleting_the_last_five_events_fails_audit_verify(databases, tmp_path, monkeypatch):
    engine = _seed(databases, tmp_path, monkeypatch, EVENTS)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": EVENTS - 5})
    result, report = _verify()
    assert result.exit_code == 1
    assert not report["ok"] and report["first_bad_seq"] == EVENTS - 4
    assert "truncated" in report["problem"] and f"records {EVENTS} events" in report["problem"]


def test_truncation_with_the_head_rewound_is_caught_by_a_checkpoint(
    databases, tmp_path, monkeypatch
):
    engine = _seed(databases, tmp_path, monkeypatch, EVENTS)
    path, document = _checkpoint(tmp_path)
    assert document["count"] == EVENTS
    assert _verify("--checkpoint", str(path))[0].exit_code == 0
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": EVENTS - 5})
        _rewind_head(connection, EVENTS - 5)
    assert _verify()[0].exit_code == 0  # the database alone can no longer tell
    result, report = _verify("--checkpoint", str(path))
    assert result.exit_code == 1
    assert report["problem"].startswith("truncated: the checkpoint signed at")
    assert f"covers {EVENTS} events, only {EVENTS - 5} are stored" in report["problem"]


def test_a_rewritten_event_with_every_later_hash_recomputed_is_caught_by_a_checkpoint(
    databases, tmp_path, monkeypatch
):
    engine = _seed(databases, tmp_path, monkeypatch, EVENTS)
    path, _ = _checkpoint(tmp_path)
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT * FROM audit_events ORDER BY seq")).mappings()
        prev = None
        for row in list(rows):
            data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
            if row["seq"] == 3:
                data = {"value": 666}
            prev = prev or row["prev_hash"]
            fields = record_fields(
                row["tag"], row["actor"], row["subject_type"], row["subject_id"], data
            )
            at = row["at"]  # SQLite hands back text
            at = as_utc(datetime.fromisoformat(at) if isinstance(at, str) else at)
            digest = event_hash(prev, row["seq"], at, fields)
            connection.execute(
                text("UPDATE audit_events SET data = :d, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"d": json.dumps(data), "p": prev, "h": digest, "s": row["seq"]},
            )
            prev = digest
        _rewind_head(connection, EVENTS)
    assert _verify()[0].exit_code == 0  # a consistent forgery, as far as the database goes
    result, report = _verify("--checkpoint", str(path))
    assert result.exit_code == 1
    assert report["problem"].startswith(f"rewritten: event {EVENTS} (or one before it)")


def test_a_forged_or_altered_checkpoint_is_refused(databases, tmp_path, monkeypatch):
    _seed(databases, tmp_path, monkeypatch, EVENTS)
    path, document = _checkpoint(tmp_path)
    forger = Ed25519Signer(Ed25519PrivateKey.generate())
    claims = Checkpoint(count=3, head=document["head"], at=utcnow()).claims()
    path.write_text(json.dumps({**document, "checkpoint": forger.sign(claims)}))
    result, report = _verify("--checkpoint", str(path))
    assert result.exit_code == 1 and "was signed by key" in report["problem"]

    header, _, signature = document["checkpoint"].split(".")
    altered = b64url_encode(json.dumps({**claims, "count": 2}).encode())
    path.write_text(f"{header}.{altered}.{signature}")  # a bare JWS is accepted too
    result, report = _verify("--checkpoint", str(path))
    assert result.exit_code == 1 and "bad token signature" in report["problem"]


def test_a_checkpoint_verifies_against_a_public_key_kept_elsewhere(
    databases, tmp_path, monkeypatch
):
    _seed(databases, tmp_path, monkeypatch, EVENTS)
    path, document = _checkpoint(tmp_path)
    key = tmp_path / "key.json"
    key.write_text(json.dumps(document["key"]))
    assert _verify("--checkpoint", str(path), "--key", str(key))[0].exit_code == 0
    other = tmp_path / "other.json"
    other.write_text(json.dumps(Ed25519Signer(Ed25519PrivateKey.generate()).public_jwk()))
    result = runner.invoke(app, ["audit", "verify", "--checkpoint", str(path), "--key", str(other)])
    assert result.exit_code == 1 and "signed by key" in result.output


def test_audit_verify_and_ledger_check_run_on_a_dev_instance_with_the_dev_flag(
    databases, tmp_path, monkeypatch
):
    """The operator's checks take ``--dev`` as ``serve`` does; without it (and without the
    environment variable) they refuse the development secrets and name them."""
    _seed(databases, tmp_path, monkeypatch)
    monkeypatch.setenv("DATATRUST_DEV_MODE", "0")
    for command in (["audit", "verify"], ["ledger", "check"]):
        refused = runner.invoke(app, command)
        assert refused.exit_code == 2, refused.output
        assert "DATATRUST_SECRET_KEY" in refused.output
    verified = runner.invoke(app, ["audit", "verify", "--dev"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["checked"] == 4
    checked = runner.invoke(app, ["ledger", "check", "--dev"])
    assert checked.exit_code == 0, checked.output
    assert "ledger check: OK" in checked.output


def test_audit_verify_runs_on_a_dev_instance_when_told_dev(databases, tmp_path, monkeypatch):
    """Issue 18 §9: on a ``serve --dev`` instance ``audit verify`` refused to run unless an
    unmentioned variable was set; ``--dev`` says it, as ``ledger check --dev`` does."""
    _seed(databases, tmp_path, monkeypatch)
    monkeypatch.delenv("DATATRUST_DEV_MODE")
    refused = runner.invoke(app, ["audit", "verify"])
    assert refused.exit_code != 0
    result = runner.invoke(app, ["audit", "verify", "--dev"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["checked"] == 4
