from datatrust.domain.purposes import (
    DPV,
    INDUSTRIES,
    PURPOSES,
    USES,
    is_a,
    uses_implied_by_action,
)
from datatrust.domain.territories import ISO_3166_ALPHA2, is_known_territory


def test_speech_recognition_training_is_a_kind_of_research_and_development():
    assert is_a("speech_recognition_training", "model_training")
    assert is_a("model_training", "research_and_development")
    assert is_a("speech_recognition_training", "research_and_development")


def test_is_a_is_reflexive_but_not_upwards():
    assert is_a("advertising", "advertising")
    assert not is_a("marketing", "advertising")


def test_is_a_is_false_for_unknown_purposes():
    assert not is_a("mind_control", "research_and_development")
    assert not is_a("model_training", "mind_control")


def test_every_purpose_has_a_dpv_iri_or_a_dpv_broader_iri():
    for code in PURPOSES:
        term = PURPOSES.term(code)
        assert term.broader_iri and term.broader_iri.startswith(DPV)
        assert PURPOSES.code_for_iri(term.iri) == code


def test_real_dpv_terms_are_used_where_dpv_has_them():
    assert PURPOSES.iri("research_and_development") == DPV + "ResearchAndDevelopment"
    assert PURPOSES.iri("commercial_research") == DPV + "CommercialResearch"
    assert PURPOSES.iri("non_commercial_research") == DPV + "NonCommercialResearch"
    assert PURPOSES.iri("advertising") == DPV + "Advertising"
    assert PURPOSES.iri("marketing") == DPV + "Marketing"
    assert PURPOSES.iri("service_provision") == DPV + "ServiceProvision"


def test_a_supplement_maker_is_an_industry_that_makes_health_claims():
    assert INDUSTRIES.is_a("dietary_supplements", "health_claims")


def test_voice_cloning_is_a_replica_use():
    assert USES.is_a("voice_cloning", "digital_replica")
    assert uses_implied_by_action("create_replica") == {"digital_replica"}
    assert uses_implied_by_action("train") == frozenset()


def test_territories_hold_the_249_iso_codes_and_not_world():
    assert len(ISO_3166_ALPHA2) == 249
    assert is_known_territory("ZA") and is_known_territory("IN")
    assert not is_known_territory("WORLD")
    assert not is_known_territory("EU")
