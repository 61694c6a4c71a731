"""``datatrust licence check|explain`` and ``datatrust consent verify-receipt``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from datatrust.adapters.crypto import Ed25519Signer
from datatrust.cli import app
from datatrust.domain.consent import DataCategory, give_consent, receipt_claims
from datatrust.domain.licence import licence_from_template

T0 = datetime(2026, 1, 5, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    def write(name, value):
        path = tmp_path / name
        path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
        return str(path)

    return write


def the_actors_licence():
    """The actor's one-year likeness licence: no politics, alcohol, tobacco or porn."""
    return licence_from_template(
        "likeness_advertising", id="actor-1", valid_from=T0, price_minor=250_000
    ).to_dict()


def a_use(**changes):
    use = {
        "action": "display",
        "purpose": "advertising",
        "industry": "retail",
        "territory": "IN",
        "recipient_org": {"id": "org-9", "name": "Ad agency"},
        "at": (T0 + timedelta(days=30)).isoformat(),
    }
    use.update(changes)
    return use


def check(files, licence, use):
    return runner.invoke(
        app,
        ["licence", "check", "--licence", files("l.json", licence), "--use", files("u.json", use)],
    )


def test_an_allowed_use_prints_the_decision_and_exits_0(files):
    result = check(files, the_actors_licence(), a_use())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "allowed": True,
        "reasons": [{"code": "allowed", "text": "every term of the licence is met"}],
    }


def test_a_beer_ad_under_the_actors_licence_is_denied_with_its_reason_and_exits_1(files):
    result = check(files, the_actors_licence(), a_use(industry="alcohol"))
    assert result.exit_code == 1
    decision = json.loads(result.stdout)
    assert decision["allowed"] is False
    assert [r["code"] for r in decision["reasons"]] == ["industry_prohibited"]


def test_a_use_one_day_after_the_licence_expired_exits_1(files):
    licence = the_actors_licence()
    day_after = datetime.fromisoformat(licence["valid_until"]) + timedelta(days=1)
    result = check(files, licence, a_use(at=day_after.isoformat()))
    assert result.exit_code == 1
    assert "licence_expired" in result.stdout


def test_invalid_input_exits_2_naming_every_problem(files):
    licence = the_actors_licence() | {"royalty_share_percent": 140, "territories": ["XX"]}
    use = {"action": "display", "colour": "red"}
    result = check(files, licence, use)
    assert result.exit_code == 2
    problems = json.loads(result.stdout)["problems"]
    joined = "\n".join(problems)
    for expected in ("royalty_share_percent", "XX", "use.colour: unknown field", "use.purpose"):
        assert expected in joined


def test_an_unreadable_file_exits_2(files, tmp_path):
    result = runner.invoke(
        app,
        ["licence", "check", "--licence", str(tmp_path / "nope.json"), "--use", files("u", "{")],
    )
    assert result.exit_code == 2
    assert "cannot read" in result.stdout and "not JSON" in result.stdout


def test_explain_prints_the_summary_in_hindi(files):
    result = runner.invoke(
        app, ["licence", "explain", files("l.json", the_actors_licence()), "--lang", "hi"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) >= 3
    assert any("\u0900" <= ch <= "\u097f" for ch in result.stdout)


def a_receipt(signer):
    record = give_consent(
        record_id="consent-1",
        subject_id="user:12",
        controller="Datatrust",
        purposes={"model_training"},
        data_categories=[DataCategory("voice", biometric=True)],
        notice_version="actor-1/v1",
        notice_language="en",
        jurisdiction="IN",
        retention="until withdrawn",
        withdrawal_method="one tap",
        at=T0,
        actor="user:12",
    )
    return signer.sign(receipt_claims(record, record.events[0]))


def test_a_downloaded_receipt_verifies_offline_and_exits_0(files):
    signer = Ed25519Signer.from_dev_secret("test secret")
    document = {"receipt": a_receipt(signer), "public_jwk": signer.public_jwk()}
    result = runner.invoke(app, ["consent", "verify-receipt", files("r.json", document)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["valid"] is True and out["event"] == "given"
    assert out["kid"] == signer.public_jwk()["kid"]


def test_a_bare_receipt_verifies_with_the_key_given(files):
    signer = Ed25519Signer.from_dev_secret("test secret")
    result = runner.invoke(
        app,
        [
            "consent",
            "verify-receipt",
            files("r.jws", a_receipt(signer)),
            "--key",
            files("k.json", signer.public_jwk()),
        ],
    )
    assert result.exit_code == 0, result.output


def test_an_altered_receipt_or_another_key_exits_1(files):
    signer = Ed25519Signer.from_dev_secret("test secret")
    token = a_receipt(signer)
    header, payload, signature = token.split(".")
    forged = ".".join([header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    altered = runner.invoke(
        app,
        [
            "consent",
            "verify-receipt",
            files("r.json", {"receipt": forged, "public_jwk": signer.public_jwk()}),
        ],
    )
    assert altered.exit_code == 1
    assert json.loads(altered.stdout)["valid"] is False

    other = Ed25519Signer.from_dev_secret("another instance")
    wrong_key = runner.invoke(
        app,
        [
            "consent",
            "verify-receipt",
            files("r2.json", {"receipt": token}),
            "--key",
            files("k.json", other.public_jwk()),
        ],
    )
    assert wrong_key.exit_code == 1


def test_a_receipt_without_any_key_exits_2(files):
    signer = Ed25519Signer.from_dev_secret("test secret")
    result = runner.invoke(app, ["consent", "verify-receipt", files("r.jws", a_receipt(signer))])
    assert result.exit_code == 2
    assert "--key" in result.stdout
