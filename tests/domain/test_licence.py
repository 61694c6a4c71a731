from datetime import UTC, datetime, timedelta

import pytest

from datatrust.domain.errors import InvalidInput
from datatrust.domain.licence import (
    TEMPLATES,
    Decision,
    Licence,
    Organisation,
    Reason,
    ReasonCode,
    ReplicaUse,
    Use,
    evaluate,
    licence_from_template,
    validate_licence,
)
from datatrust.domain.purposes import ACTIONS, INDUSTRIES, PURPOSES, USES, is_a

START = datetime(2025, 3, 1, tzinfo=UTC)
BUYER = Organisation(id="org-7", name="Acme AI Lab")
VOICE_DESCRIPTION = "Narration voice for the audiobooks of Kalahari Press, English only"


def a_licence(template="training_only", **changes):
    changes.setdefault("id", "lic-1")
    changes.setdefault("valid_from", START)
    changes.setdefault("price_minor", 1_400)
    if template == "voice_library":
        changes.setdefault("replica_use_description", VOICE_DESCRIPTION)
        changes.setdefault("replica_languages", {"en"})
        changes.setdefault("replica_categories", {"audiobook_narration"})
        changes.setdefault("replica_channels", {"audio_stores"})
    return licence_from_template(template, **changes)


def a_use(**changes):
    fields = dict(
        action="train",
        purpose="speech_recognition_training",
        industry="technology",
        territory="IN",
        recipient_org=BUYER,
        at=START + timedelta(days=10),
    )
    fields.update(changes)
    return Use(**fields)


def actor_licence():
    """The actor's one-year likeness licence: no politics, alcohol, tobacco or porn."""
    return a_licence(
        "likeness_advertising",
        title="My face, for ads, one year",
        prohibited_industries={
            "political_campaigning",
            "alcohol",
            "tobacco",
            "adult_content",
            "health_claims",
        },
        prohibited_uses={"sexual_content", "digital_replica", "impersonation"},
    )


def an_ad(industry):
    return a_use(action="display", purpose="advertising", industry=industry, territory="US")


# --- the actor's licence ---------------------------------------------------------------


def test_actor_licence_allows_a_car_ad():
    assert evaluate(actor_licence(), an_ad("automotive")).allowed


def test_actor_licence_denies_political_ad():
    decision = evaluate(actor_licence(), an_ad("political_campaigning"))
    assert not decision.allowed
    # A political campaign is political persuasion too, a sensitive use never permitted here.
    assert decision.codes == (
        ReasonCode.INDUSTRY_PROHIBITED,
        ReasonCode.SENSITIVE_USE_NOT_PERMITTED,
    )


def test_actor_licence_denies_beer_ad():
    decision = evaluate(actor_licence(), an_ad("alcohol"))
    assert decision.codes == (ReasonCode.INDUSTRY_PROHIBITED,)


def test_actor_licence_denies_supplement_ad_when_health_claims_are_prohibited():
    decision = evaluate(actor_licence(), an_ad("dietary_supplements"))
    assert not decision.allowed
    assert decision.codes == (ReasonCode.INDUSTRY_PROHIBITED,)
    assert "health_claims" in decision.reasons[0].text


def test_actor_licence_lasts_one_year():
    licence = actor_licence()
    assert licence.valid_until == datetime(2026, 3, 1, tzinfo=UTC)


# --- time, consent state ---------------------------------------------------------------


def test_use_one_day_after_the_licence_expired_is_denied():
    licence = a_licence()
    decision = evaluate(licence, a_use(), at=licence.valid_until + timedelta(days=1))
    assert decision.codes == (ReasonCode.LICENCE_EXPIRED,)


def test_use_at_the_exact_end_is_denied_because_the_window_is_half_open():
    licence = a_licence()
    assert not evaluate(licence, a_use(at=licence.valid_until)).allowed


def test_use_before_the_licence_starts_is_denied():
    decision = evaluate(a_licence(), a_use(at=START - timedelta(seconds=1)))
    assert decision.codes == (ReasonCode.LICENCE_NOT_YET_VALID,)


def test_evaluate_uses_the_use_time_when_no_time_is_given():
    licence = a_licence()
    assert evaluate(licence, a_use(at=licence.valid_until + timedelta(days=1))).codes == (
        ReasonCode.LICENCE_EXPIRED,
    )


@pytest.mark.parametrize(
    ("state", "code"),
    [
        ("withdrawn", ReasonCode.CONSENT_WITHDRAWN),
        ("expired", ReasonCode.CONSENT_EXPIRED),
        ("paused", ReasonCode.CONSENT_STATE_UNKNOWN),
    ],
)
def test_consent_that_is_not_active_denies(state, code):
    assert evaluate(a_licence(), a_use(), state=state).codes == (code,)


# --- replicas --------------------------------------------------------------------------


def test_voice_clone_under_a_training_only_licence_is_denied():
    decision = evaluate(
        a_licence("training_only"),
        a_use(
            action="create_replica",
            purpose="speech_synthesis_training",
            declared_uses={"voice_cloning"},
        ),
    )
    assert not decision.allowed
    assert set(decision.codes) == {
        ReasonCode.ACTION_NOT_PERMITTED,
        ReasonCode.USE_PROHIBITED,
        ReasonCode.REPLICA_NOT_PERMITTED,
    }


def test_training_a_voice_clone_counts_as_a_replica_use_even_with_the_train_action():
    decision = evaluate(
        a_licence("training_only"),
        a_use(purpose="speech_synthesis_training", declared_uses={"voice_cloning"}),
    )
    assert ReasonCode.REPLICA_NOT_PERMITTED in decision.codes


def test_voice_library_allows_a_voice_clone_for_its_described_use():
    decision = evaluate(
        a_licence("voice_library"),
        a_use(
            action="create_replica",
            purpose="speech_synthesis_training",
            industry="media_publishing",
            declared_uses={"voice_cloning"},
            replica=ReplicaUse({"en"}, "audiobook_narration", {"audio_stores"}),
        ),
    )
    assert decision.allowed, decision.reasons


def test_voice_library_still_denies_a_face_avatar():
    decision = evaluate(
        a_licence("voice_library"),
        a_use(action="create_replica", purpose="media_production", declared_uses={"face_avatar"}),
    )
    assert decision.codes == (ReasonCode.USE_PROHIBITED,)


# --- territory -------------------------------------------------------------------------


def test_training_by_a_buyer_in_an_excluded_territory_is_denied():
    licence = a_licence(excluded_territories={"US", "CN"})
    decision = evaluate(licence, a_use(territory="US"))
    assert decision.codes == (ReasonCode.TERRITORY_EXCLUDED,)


def test_training_by_a_buyer_outside_the_listed_territories_is_denied():
    licence = a_licence(territories={"IN", "ZA"})
    assert evaluate(licence, a_use(territory="ZA")).allowed
    assert evaluate(licence, a_use(territory="BR")).codes == (ReasonCode.TERRITORY_NOT_COVERED,)


def test_world_is_a_licence_scope_not_a_buyer_territory():
    assert evaluate(a_licence(), a_use(territory="WORLD")).codes == (ReasonCode.TERRITORY_UNKNOWN,)


# --- purposes and fail-closed ----------------------------------------------------------


def test_a_purpose_is_permitted_when_it_descends_from_a_permitted_purpose():
    assert is_a("speech_recognition_training", "model_training")
    assert evaluate(a_licence(), a_use(purpose="speech_recognition_training")).allowed


def test_a_prohibited_sub_purpose_beats_its_permitted_parent():
    licence = a_licence(prohibited_purposes={"language_model_training"})
    decision = evaluate(licence, a_use(purpose="language_model_training"))
    assert decision.codes == (ReasonCode.PURPOSE_PROHIBITED,)


def test_a_purpose_outside_the_permitted_ones_is_denied():
    decision = evaluate(a_licence(), a_use(purpose="advertising"))
    assert decision.codes == (ReasonCode.PURPOSE_NOT_PERMITTED,)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("purpose", "world_domination", ReasonCode.PURPOSE_UNKNOWN),
        ("industry", "spaceships", ReasonCode.INDUSTRY_UNKNOWN),
        ("action", "sell", ReasonCode.ACTION_UNKNOWN),
        ("territory", "XK", ReasonCode.TERRITORY_UNKNOWN),
        ("territory", "in", ReasonCode.TERRITORY_UNKNOWN),
        ("declared_uses", {"mind_reading"}, ReasonCode.USE_UNKNOWN),
        ("recipient_org", Organisation(id="", name="?"), ReasonCode.RECIPIENT_UNKNOWN),
    ],
)
def test_anything_unknown_is_denied(field, value, code):
    assert evaluate(a_licence(), a_use(**{field: value})).codes == (code,)


def test_a_denial_carries_every_reason():
    licence = a_licence(excluded_territories={"US"})
    use = a_use(action="redistribute", purpose="advertising", industry="weapons", territory="US")
    decision = evaluate(licence, use, at=licence.valid_until, state="withdrawn")
    assert set(decision.codes) == {
        ReasonCode.CONSENT_WITHDRAWN,
        ReasonCode.LICENCE_EXPIRED,
        ReasonCode.ACTION_NOT_PERMITTED,
        ReasonCode.PURPOSE_NOT_PERMITTED,
        ReasonCode.INDUSTRY_PROHIBITED,
        ReasonCode.TERRITORY_EXCLUDED,
        ReasonCode.USE_PROHIBITED,
    }
    assert all(reason.text for reason in decision.reasons)


def test_an_allowed_decision_carries_a_single_allowed_reason():
    decision = evaluate(a_licence(), a_use())
    assert decision == Decision(True, (Reason(ReasonCode.ALLOWED, decision.reasons[0].text),))
    assert decision.codes == ("allowed",)


def test_a_decision_cannot_claim_allowed_with_a_deny_reason():
    with pytest.raises(ValueError):
        Decision(True, (Reason(ReasonCode.INDUSTRY_PROHIBITED, "no"),))


# --- validation ------------------------------------------------------------------------


def test_every_template_builds_a_valid_licence():
    for name in TEMPLATES:
        licence = a_licence(name)
        assert licence.revocable
        assert Licence.from_dict(licence.to_dict()) == licence


def test_training_only_template_is_the_recommended_one():
    assert a_licence().title == "Training only (recommended)"


def test_licence_round_trips_through_a_dict():
    licence = a_licence(
        "voice_library",
        territories={"ZA", "NA"},
        exclusive=True,
        exclusive_until=START + timedelta(days=400),
        exclusive_to="org-7",
        offered_to={"org-7", "org-8"},
        deletion_deadline_days=14,
    )
    data = licence.to_dict()
    assert data["revocable"] is True
    assert data["territories"] == ["NA", "ZA"]
    assert Licence.from_dict(data) == licence


def test_validation_reports_every_problem_at_once():
    data = a_licence().to_dict() | {
        "version": 0,
        "permitted_purposes": ["model_training", "telepathy"],
        "royalty_share_percent": 120,
        "currency": "dollars",
        "price_minor": -5,
        "on_end": "keep_forever",
        "deletion_deadline_days": 365,
        "territories": ["WORLD", "IN"],
    }
    with pytest.raises(InvalidInput) as caught:
        validate_licence(data)
    fields = {problem.split(":")[0] for problem in caught.value.details["problems"]}
    assert fields == {
        "version",
        "permitted_purposes",
        "royalty_share_percent",
        "currency",
        "price_minor",
        "on_end",
        "deletion_deadline_days",
        "territories",
    }
    assert {(p.field, p.code) for p in caught.value.problems} == {
        ("version", "licence.version"),
        ("permitted_purposes", "unknown_codes"),
        ("royalty_share_percent", "licence.royalty_percent"),
        ("currency", "licence.currency"),
        ("price_minor", "licence.price_minor"),
        ("on_end", "must_be_one_of"),
        ("deletion_deadline_days", "licence.deletion_days"),
        ("territories", "licence.world_alone"),
    }


@pytest.mark.parametrize(
    "key", ["sublicensable", "sublicensing", "transferable", "transfer", "irrevocable"]
)
def test_asking_for_sublicensing_transfer_or_irrevocability_is_rejected(key):
    with pytest.raises(InvalidInput) as caught:
        Licence.from_dict(a_licence().to_dict() | {key: True})
    assert any(problem.startswith(f"{key}:") for problem in caught.value.details["problems"])
    refused = [p for p in caught.value.problems if p.field == key]
    assert [(p.code, dict(p.params)) for p in refused] == [(REFUSED_CODES[key], {"key": key})]


REFUSED_CODES = {
    "sublicensable": "licence.no_sublicensing",
    "sublicensing": "licence.no_sublicensing",
    "transferable": "licence.not_transferable",
    "transfer": "licence.not_transferable",
    "irrevocable": "licence.not_irrevocable",
}


def test_a_licence_cannot_be_made_irrevocable():
    with pytest.raises(InvalidInput) as caught:
        Licence.from_dict(a_licence().to_dict() | {"revocable": False})
    assert caught.value.details["problems"] == [
        "revocable: a licence is always revocable; it cannot be false"
    ]
    assert caught.value.codes == ["licence.revocable_false"]


def test_unknown_fields_are_rejected():
    with pytest.raises(InvalidInput) as caught:
        Licence.from_dict(a_licence().to_dict() | {"colour": "blue"})
    assert caught.value.details["problems"] == ["colour: unknown field"]
    assert [(p.field, p.code) for p in caught.value.problems] == [
        ("colour", "request.unknown_field")
    ]


def test_a_licence_without_replica_may_last_at_most_five_years():
    assert a_licence(valid_until=datetime(2030, 3, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput) as caught:
        a_licence(valid_until=datetime(2030, 3, 2, tzinfo=UTC))
    assert [(p.field, p.code, dict(p.params)) for p in caught.value.problems] == [
        ("valid_until", "licence.term_too_long", {"years": 5, "replica_years": 10})
    ]


def test_a_replica_grant_may_last_ten_years_but_the_licence_itself_only_five():
    assert a_licence("voice_library", replica_until=datetime(2035, 3, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput) as caught:
        a_licence("voice_library", replica_until=datetime(2035, 3, 2, tzinfo=UTC))
    assert caught.value.details["problems"] == [
        "replica_until: a replica grant may last at most 10 years"
    ]
    with pytest.raises(InvalidInput) as caught:
        a_licence("voice_library", valid_until=datetime(2030, 3, 2, tzinfo=UTC))
    assert caught.value.details["problems"][0].startswith(
        "valid_until: a licence may last at most 5 years"
    )


def test_a_replica_needs_a_specific_written_description():
    with pytest.raises(InvalidInput) as caught:
        a_licence("voice_library", replica_use_description="ads")
    assert any("30 characters" in p for p in caught.value.details["problems"])


def test_creating_a_replica_without_a_description_is_rejected():
    with pytest.raises(InvalidInput) as caught:
        licence_from_template("voice_library", id="x", valid_from=START, price_minor=1)
    assert any(
        p.startswith("permitted_actions: create_replica") for p in caught.value.details["problems"]
    )


def test_a_replica_and_a_replica_prohibition_contradict():
    with pytest.raises(InvalidInput) as caught:
        a_licence("voice_library", prohibited_uses={"digital_replica"})
    assert any("also prohibits" in p for p in caught.value.details["problems"])


def test_a_permitted_purpose_under_a_prohibited_one_is_rejected():
    with pytest.raises(InvalidInput) as caught:
        a_licence(prohibited_purposes={"research_and_development"})
    assert len(caught.value.details["problems"]) == 2  # model_training and model_evaluation


def test_exclusivity_needs_an_end_within_two_years_and_the_licence():
    with pytest.raises(InvalidInput) as caught:
        a_licence(exclusive=True, exclusive_to="org-7")
    assert caught.value.details["problems"] == [
        "exclusive_until: an exclusive licence must say when exclusivity ends"
    ]
    with pytest.raises(InvalidInput) as caught:
        a_licence(
            exclusive=True,
            exclusive_to="org-7",
            valid_until=datetime(2029, 1, 1, tzinfo=UTC),
            exclusive_until=datetime(2028, 1, 1, tzinfo=UTC),
        )
    assert caught.value.details["problems"] == [
        "exclusive_until: exclusivity may last at most 2 years"
    ]
    with pytest.raises(InvalidInput):
        a_licence(exclusive_until=START + timedelta(days=30))


def test_exclusive_licences_cost_more_per_started_year():
    plain = a_licence(price_minor=1_000)
    one_year = plain.replace(
        exclusive=True, exclusive_to="org-7", exclusive_until=START + timedelta(days=365)
    )
    a_bit_more = plain.replace(
        exclusive=True, exclusive_to="org-7", exclusive_until=START + timedelta(days=366)
    )
    assert plain.price_with_surcharge_minor == 1_000
    assert one_year.exclusivity_surcharge_minor == 500
    assert a_bit_more.price_with_surcharge_minor == 2_000


def test_exclusivity_surcharge_rounds_up_to_a_whole_minor_unit():
    licence = a_licence(
        price_minor=3,
        exclusive=True,
        exclusive_to="org-7",
        exclusive_until=START + timedelta(days=1),
    )
    assert licence.exclusivity_surcharge_minor == 2


def test_naive_datetimes_are_taken_as_utc():
    licence = a_licence(valid_from=datetime(2025, 3, 1))
    assert licence.valid_from == START
    assert licence.valid_from.tzinfo is not None


def test_an_unknown_template_is_rejected():
    with pytest.raises(InvalidInput) as caught:
        licence_from_template("do_anything", id="x")
    (problem,) = caught.value.problems
    assert (problem.field, problem.code) == ("template", "licence.template_unknown")
    assert problem.params["choices"] == sorted(TEMPLATES)


def test_from_dict_needs_an_object():
    with pytest.raises(InvalidInput) as caught:
        Licence.from_dict(["not", "a", "dict"])
    assert [(p.field, p.code) for p in caught.value.problems] == [("licence", "must_be_object")]


def test_template_changes_replace_template_fields():
    licence = a_licence(royalty_share_percent=70, territories={"ZA"})
    assert licence.royalty_share_percent == 70
    assert licence.territories == frozenset({"ZA"})


# --- vocabularies ----------------------------------------------------------------------


def test_vocabularies_are_known_and_sized_as_designed():
    assert 15 <= len(PURPOSES) <= 25
    for code in [
        "political_campaigning",
        "alcohol",
        "tobacco",
        "adult_content",
        "gambling",
        "weapons",
        "health_claims",
        "medical_products",
        "surveillance",
        "law_enforcement",
        "technology",
        "healthcare_research",
    ]:
        assert code in INDUSTRIES
    assert {"train", "fine_tune", "evaluate", "create_replica", "redistribute"} <= ACTIONS.codes
    assert {
        "digital_replica",
        "voice_cloning",
        "biometric_identification",
        "impersonation",
        "sexual_content",
        "redistribution",
    } <= USES.codes
