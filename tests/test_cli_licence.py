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
# `licence check` judges a use at this machine's clock (never a time the buyer sends), so
# the licences here are written around the real present.
NOW = datetime.now(UTC).replace(microsecond=0)
runner = CliRunner()


@pytest.fixture
def files(tmp_path):
    def write(name, value):
        path = tmp_path / name
        path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
        return str(path)

    return write


def the_actors_licence(valid_from=None):
    """The actor's one-year likeness licence: no politics, alcohol, tobacco or porn."""
    return licence_from_template(
        "likeness_advertising",
        id="actor-1",
        valid_from=valid_from or NOW - timedelta(days=30),
        price_minor=250_000,
    ).to_dict()


def a_use(**changes):
    use = {
        "action": "display",
        "purpose": "advertising",
        "industry": "retail",
        "territory": "IN",
        "recipient_org": {"id": "org-9", "name": "Ad agency"},
        "starts_at": NOW.isoformat(),
        "ends_at": (NOW + timedelta(days=30)).isoformat(),
    }
    use.update(changes)
    return use


def check(files, licence, use, env=None):
    return runner.invoke(
        app,
        ["licence", "check", "--licence", files("l.json", licence), "--use", files("u.json", use)],
        env=env,
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
    licence = the_actors_licence(valid_from=NOW - timedelta(days=367))
    result = check(files, licence, a_use())
    assert result.exit_code == 1
    assert "licence_expired" in result.stdout


def test_a_buyer_cannot_revive_an_expired_licence_by_sending_a_past_period(files):
    # Before issue 16 the buyer's `at` was the time judged: a past one made this allowed.
    licence = the_actors_licence(valid_from=NOW - timedelta(days=400))
    past = NOW - timedelta(days=300)
    use = a_use(starts_at=past.isoformat(), ends_at=(past + timedelta(days=10)).isoformat())
    result = check(files, licence, use)
    assert result.exit_code == 1
    assert [r["code"] for r in json.loads(result.stdout)["reasons"]] == ["licence_expired"]


def test_a_time_sent_as_at_is_refused_naming_the_server_clock(files):
    result = check(files, the_actors_licence(), a_use(at=NOW.isoformat()))
    assert result.exit_code == 2
    assert "server's time" in result.stdout


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


# --- issue 16: sensitive uses fail closed, the deny-list applies, parties bind -------------


def an_open_training_licence(**changes):
    """Research and development, with every prohibited list empty."""
    return {
        "id": "open-1",
        "version": 1,
        "title": "Open training",
        "permitted_purposes": ["research_and_development"],
        "permitted_actions": ["train", "evaluate"],
        "valid_from": (NOW - timedelta(days=30)).isoformat(),
        "valid_until": (NOW + timedelta(days=700)).isoformat(),
        "price_minor": 1_000,
        "currency": "USD",
        "price_unit": "item",
        "royalty_share_percent": 50,
    } | changes


def a_training_use(**changes):
    return (
        a_use(
            action="train",
            purpose="computer_vision_training",
            industry="technology",
            task="object_detection",
            recipient_org={"id": "ada-lab", "name": "Ada Lab"},
        )
        | changes
    )


def codes_of(result):
    return [r["code"] for r in json.loads(result.stdout)["reasons"]]


def test_biometric_identification_for_surveillance_is_denied_with_empty_prohibited_lists(files):
    use = a_training_use(industry="surveillance", declared_uses=["biometric_identification"])
    result = check(
        files, an_open_training_licence(), use, env={"DATATRUST_DENIED_INDUSTRIES": "[]"}
    )
    assert result.exit_code == 1
    assert codes_of(result) == ["sensitive_use_not_permitted", "sensitive_use_not_permitted"]


def test_face_recognition_is_recognised_by_its_task_whatever_the_purpose_name(files):
    result = check(files, an_open_training_licence(), a_training_use(task="face_recognition"))
    assert result.exit_code == 1
    assert codes_of(result) == ["sensitive_use_not_permitted"]
    assert "biometric_identification" in result.stdout
    permitted = an_open_training_licence(permitted_uses=["biometric_identification"])
    assert check(files, permitted, a_training_use(task="face_recognition")).exit_code == 0


def test_a_training_use_must_say_what_the_model_will_do(files):
    use = a_training_use()
    del use["task"]
    result = check(files, an_open_training_licence(), use)
    assert result.exit_code == 2
    assert "use.task: required" in result.stdout


def test_the_instance_deny_list_is_part_of_licence_check(files):
    use = a_training_use(industry="adult_content")
    allowed = check(
        files, an_open_training_licence(), use, env={"DATATRUST_DENIED_INDUSTRIES": "[]"}
    )
    assert allowed.exit_code == 0, allowed.output
    denied = check(
        files,
        an_open_training_licence(),
        use,
        env={"DATATRUST_DENIED_INDUSTRIES": '["adult_content"]'},
    )
    assert denied.exit_code == 1
    assert codes_of(denied) == ["industry_denied_by_instance"]


def test_the_default_deny_list_denies_political_campaigns_even_when_the_licence_allows_them(files):
    licence = an_open_training_licence(permitted_uses=["political_persuasion"])
    result = check(files, licence, a_training_use(industry="political_campaigning"))
    assert result.exit_code == 1
    assert codes_of(result) == ["industry_denied_by_instance"]


def test_research_permission_does_not_reach_commercial_product_development(files):
    use = a_training_use(purpose="commercial_product_development")
    result = check(files, an_open_training_licence(), use)
    assert result.exit_code == 1
    assert codes_of(result) == ["purpose_not_permitted"]


def test_a_period_running_past_the_licence_end_is_denied(files):
    use = a_training_use(ends_at=(NOW + timedelta(days=701)).isoformat())
    result = check(files, an_open_training_licence(), use)
    assert result.exit_code == 1
    assert codes_of(result) == ["licence_ends_within_period"]


def test_an_exclusive_licence_allows_its_holder_and_denies_an_affiliate(files):
    licence = an_open_training_licence(
        exclusive=True,
        exclusive_to="ada-lab",
        exclusive_until=(NOW + timedelta(days=365)).isoformat(),
    )
    assert check(files, licence, a_training_use()).exit_code == 0
    affiliate = a_training_use(recipient_org={"id": "ada-lab-eu", "name": "Ada Lab Europe"})
    result = check(files, licence, affiliate)
    assert result.exit_code == 1
    assert codes_of(result) == ["exclusive_to_another"]


def test_an_offer_to_named_organisations_denies_others(files):
    licence = an_open_training_licence(offered_to=["ada-lab"])
    assert check(files, licence, a_training_use()).exit_code == 0
    other = a_training_use(recipient_org={"id": "other-lab", "name": "Other Lab"})
    result = check(files, licence, other)
    assert result.exit_code == 1
    assert codes_of(result) == ["recipient_not_offered"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"permitted_actions": ["train", "redistribute"]}, "contradicts non-transferability"),
        (
            {"exclusive": True, "exclusive_until": (NOW + timedelta(days=9)).isoformat()},
            "exclusive_to: an exclusive licence must name the organisation holding it",
        ),
    ],
)
def test_an_offer_that_contradicts_itself_is_invalid_naming_the_conflict(files, changes, problem):
    result = check(files, an_open_training_licence(**changes), a_training_use())
    assert result.exit_code == 2
    assert problem in result.stdout


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("purpose", "telepathy", "purpose_unknown"),
        ("industry", "moon_mining", "industry_unknown"),
        ("territory", "XX", "territory_unknown"),
        ("task", "mind_reading", "task_unknown"),
    ],
)
def test_an_unknown_code_in_the_use_denies(files, field, value, code):
    result = check(files, an_open_training_licence(), a_training_use(**{field: value}))
    assert result.exit_code == 1
    assert code in codes_of(result)
