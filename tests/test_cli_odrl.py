"""``datatrust licence check`` reads an ODRL policy too (any JSON-LD serialisation of it):
a valid one decides; an unknown purpose, territory or action is invalid input (exit 2)
naming what it could not place."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from datatrust.adapters import jsonld
from datatrust.cli import app
from datatrust.domain.iris import InstanceIris
from datatrust.domain.licence import licence_from_template
from datatrust.domain.odrl import licence_to_odrl

BASE = "https://trust.example.org"
NOW = datetime.now(UTC)


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.setenv("DATATRUST_BASE_URL", BASE)
    monkeypatch.setenv("DATATRUST_DATA_DIR", str(tmp_path / "var"))

    def invoke(policy, use):
        (tmp_path / "policy.jsonld").write_text(json.dumps(policy))
        (tmp_path / "use.json").write_text(json.dumps(use))
        args = ["licence", "check", "--licence", str(tmp_path / "policy.jsonld")]
        return CliRunner().invoke(app, [*args, "--use", str(tmp_path / "use.json")])

    return invoke


def an_offer():
    licence = licence_from_template(
        "training_only",
        id="lic-1",
        valid_from=NOW - timedelta(days=1),
        territories={"IN"},
        price_minor=500,
        currency="USD",
    )
    return json.loads(json.dumps(licence_to_odrl(licence, InstanceIris.for_base_url(BASE))))


USE = {
    "action": "train",
    "purpose": "speech_recognition_training",
    "industry": "technology",
    "territory": "IN",
    "recipient_org": {"id": "org-9", "name": "Lab"},
    "starts_at": NOW.isoformat(),
    "ends_at": (NOW + timedelta(days=30)).isoformat(),
    "task": "speech_recognition",
    "outputs": ["transcript"],
}


def test_an_odrl_offer_in_another_serialisation_decides_like_the_licence(run):
    expanded = jsonld.expand(an_offer())
    result = run(expanded, USE)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["allowed"] is True
    result = run(expanded, {**USE, "territory": "NP"})
    assert result.exit_code == 1
    assert "territory_not_covered" in result.output


@pytest.mark.parametrize(
    ("where", "value", "reason"),
    [
        (
            "purpose",
            [{"@id": "dpv:MindReading"}],
            "unknown purpose https://w3id.org/dpv#MindReading",
        ),
        (
            "spatial",
            [{"@id": "loc:XX"}],
            "not an ISO 3166-1 territory: https://w3id.org/dpv/loc#XX",
        ),
        ("action", "dt:mindControl", f"unknown action {BASE}/odrl/profile#mindControl"),
    ],
)
def test_an_unknown_purpose_territory_or_action_is_invalid_naming_it(run, where, value, reason):
    offer = an_offer()
    rule = offer["permission"][0]
    if where == "action":
        rule["action"] = value
    else:
        constraint = next(c for c in rule["constraint"] if c["leftOperand"] == where)
        constraint["rightOperand"] = value
    result = run(offer, USE)
    assert result.exit_code == 2, result.output
    problems = json.loads(result.stdout)["problems"]
    assert any(reason in p for p in problems), problems
