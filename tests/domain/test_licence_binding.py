"""Issue 16: licences that bind a buyer and fail closed on sensitive uses.

Each case states allow, deny (with its reason code) or invalid (with the problem named).
"""

from datetime import UTC, datetime, timedelta

import pytest

from datatrust.domain.errors import InvalidInput
from datatrust.domain.licence import (
    Licence,
    Organisation,
    ReasonCode,
    ReplicaUse,
    Use,
    evaluate,
)
from datatrust.domain.purposes import SENSITIVE_USES, TASKS

START = datetime(2027, 3, 1, tzinfo=UTC)
ADA = Organisation("ada-lab", "Ada Lab")
ADA_AFFILIATE = Organisation("ada-lab-eu", "Ada Lab Europe GmbH")
OTHER = Organisation("other-lab", "Other Lab")


def open_licence(**changes):
    """A licence with empty prohibited lists: nothing is banned by name."""
    fields = dict(
        id="lic-open",
        version=1,
        title="Open training licence",
        permitted_purposes={"research_and_development"},
        permitted_actions={"train", "fine_tune", "evaluate"},
        valid_from=START,
        valid_until=START + timedelta(days=3 * 365),
        price_minor=1_000,
        currency="USD",
        price_unit="item",
        royalty_share_percent=50,
    )
    fields.update(changes)
    return Licence(**fields)


def a_use(**changes):
    fields = dict(
        action="train",
        purpose="computer_vision_training",
        industry="technology",
        territory="ZA",
        recipient_org=ADA,
        at=START + timedelta(days=10),
    )
    fields.update(changes)
    return Use(**fields)


def codes(decision):
    return set(decision.codes)


# --- §2 fail closed on sensitive uses ----------------------------------------------------


def test_biometric_identification_in_the_surveillance_industry_is_denied_with_empty_lists():
    decision = evaluate(
        open_licence(),
        a_use(industry="surveillance", declared_uses={"biometric_identification"}),
    )
    assert not decision.allowed
    assert codes(decision) == {ReasonCode.SENSITIVE_USE_NOT_PERMITTED}
    texts = " ".join(r.text for r in decision.reasons)
    assert "biometric_identification" in texts and "surveillance" in texts


def test_face_recognition_declared_as_computer_vision_training_is_biometric_identification():
    decision = evaluate(open_licence(), a_use(task="face_recognition"))
    assert decision.codes == (ReasonCode.SENSITIVE_USE_NOT_PERMITTED,)
    assert "biometric_identification" in decision.reasons[0].text


def test_an_output_that_names_people_is_biometric_identification_whatever_the_task():
    decision = evaluate(open_licence(), a_use(task="image_classification", outputs={"identity"}))
    assert decision.codes == (ReasonCode.SENSITIVE_USE_NOT_PERMITTED,)


def test_object_detection_under_the_same_licence_is_allowed():
    assert evaluate(open_licence(), a_use(task="object_detection", outputs={"labels"})).allowed


@pytest.mark.parametrize(
    ("changes", "sensitive"),
    [
        ({"task": "emotion_recognition"}, "emotion_recognition"),
        ({"outputs": {"emotion_labels"}}, "emotion_recognition"),
        ({"task": "person_tracking"}, "surveillance"),
        ({"industry": "law_enforcement"}, "surveillance"),
        ({"task": "political_messaging"}, "political_persuasion"),
        ({"industry": "political_campaigning"}, "political_persuasion"),
        ({"declared_uses": {"impersonation"}}, "impersonation"),
        ({"purpose": "identity_verification"}, "biometric_identification"),
    ],
)
def test_every_sensitive_use_is_denied_unless_permitted_by_name(changes, sensitive):
    licence = open_licence(permitted_purposes={"research_and_development", "identity_verification"})
    denied = evaluate(licence, a_use(**changes))
    assert ReasonCode.SENSITIVE_USE_NOT_PERMITTED in denied.codes
    assert any(sensitive in r.text for r in denied.reasons)
    allowed = evaluate(licence.replace(permitted_uses={sensitive}), a_use(**changes))
    assert allowed.allowed, allowed.reasons


def test_a_replica_task_needs_the_replica_grant():
    for task in ("voice_cloning", "voice_conversion", "face_generation"):
        decision = evaluate(open_licence(), a_use(task=task))
        assert decision.codes == (ReasonCode.REPLICA_NOT_PERMITTED,), task


def test_the_instance_deny_list_is_part_of_the_decision():
    licence = open_licence()
    use = a_use(industry="adult_content")
    assert evaluate(licence, use).allowed
    decision = evaluate(licence, use, denied_industries=["adult_content"])
    assert decision.codes == (ReasonCode.INDUSTRY_DENIED_BY_INSTANCE,)


def test_an_unknown_task_or_output_denies():
    decision = evaluate(open_licence(), a_use(task="mind_reading", outputs={"thoughts"}))
    assert codes(decision) == {ReasonCode.TASK_UNKNOWN, ReasonCode.OUTPUT_UNKNOWN}


def test_every_sensitive_use_has_a_task_or_output_that_implies_it():
    # So a buyer can always say what its model does and be judged by it.
    from datatrust.domain.purposes import uses_implied

    implied = set()
    for task in TASKS:
        implied |= uses_implied(
            action="train", purpose="model_training", industry="technology", task=task
        )
    assert SENSITIVE_USES - {"digital_replica"} <= implied | {"impersonation"}


# --- §4 purposes and time --------------------------------------------------------------


def test_permitting_research_does_not_allow_commercial_product_development():
    decision = evaluate(open_licence(), a_use(purpose="commercial_product_development"))
    assert decision.codes == (ReasonCode.PURPOSE_NOT_PERMITTED,)


def test_a_permitted_purpose_allows_its_narrower_purposes():
    assert evaluate(open_licence(), a_use(purpose="speech_recognition_training")).allowed
    narrow = open_licence(permitted_purposes={"speech_recognition_training"})
    assert evaluate(narrow, a_use(purpose="model_training")).codes == (
        ReasonCode.PURPOSE_NOT_PERMITTED,
    )


def test_the_whole_period_of_use_must_fit_the_licence():
    licence = open_licence()
    inside = a_use(until=licence.valid_until)
    assert evaluate(licence, inside).allowed
    longer = a_use(until=licence.valid_until + timedelta(days=1))
    assert evaluate(licence, longer).codes == (ReasonCode.LICENCE_ENDS_WITHIN_PERIOD,)


def test_the_time_judged_is_the_callers_clock_not_the_buyers_start():
    licence = open_licence()
    after_the_end = licence.valid_until + timedelta(days=1)
    backdated = a_use(at=START + timedelta(days=1), until=START + timedelta(days=20))
    assert evaluate(licence, backdated).allowed  # judged at its own start: looks fine
    decision = evaluate(licence, backdated, after_the_end)
    assert decision.codes == (ReasonCode.LICENCE_EXPIRED,)


def test_a_period_that_starts_before_the_licence_is_not_yet_valid():
    decision = evaluate(
        open_licence(), a_use(at=START - timedelta(days=1)), START - timedelta(days=5)
    )
    assert decision.codes == (ReasonCode.LICENCE_NOT_YET_VALID,)


# --- §1 parties ------------------------------------------------------------------------


def test_an_offer_to_named_organisations_denies_anyone_else_including_an_affiliate():
    licence = open_licence(offered_to={"ada-lab"})
    assert evaluate(licence, a_use()).allowed
    for org in (OTHER, ADA_AFFILIATE):
        decision = evaluate(licence, a_use(recipient_org=org))
        assert decision.codes == (ReasonCode.RECIPIENT_NOT_OFFERED,)
        assert "ada-lab" in decision.reasons[0].text


def exclusive_to_ada(**changes):
    return open_licence(
        exclusive=True,
        exclusive_to="ada-lab",
        exclusive_until=START + timedelta(days=2 * 365),
        **changes,
    )


def test_an_exclusive_licence_denies_every_other_organisation_while_it_runs():
    licence = exclusive_to_ada()
    assert evaluate(licence, a_use()).allowed
    for org in (OTHER, ADA_AFFILIATE):
        decision = evaluate(licence, a_use(recipient_org=org))
        assert decision.codes == (ReasonCode.EXCLUSIVE_TO_ANOTHER,)
        assert "ada-lab" in decision.reasons[0].text


def test_after_exclusivity_ends_others_may_use_it_again():
    licence = exclusive_to_ada()
    later = licence.exclusive_until + timedelta(days=1)
    assert evaluate(licence, a_use(recipient_org=OTHER, at=later)).allowed
    # A period starting inside exclusivity is denied even if the clock is earlier.
    early = a_use(recipient_org=OTHER, at=licence.exclusive_until - timedelta(days=1))
    assert not evaluate(licence, early, START).allowed


def test_two_calendar_years_of_exclusivity_over_a_leap_day_cost_two_years_not_three():
    # 2027-03-01 .. 2029-03-01 spans 29 February 2028: 731 days, two calendar years.
    licence = open_licence(
        valid_from=START,
        exclusive=True,
        exclusive_to="ada-lab",
        exclusive_until=datetime(2029, 3, 1, tzinfo=UTC),
    )
    assert (licence.exclusive_until - licence.valid_from).days == 731
    assert licence.exclusivity_surcharge_minor == 1_000  # 2 x 50 % of 1,000 (was 3 x)


def test_a_calendar_year_and_a_day_is_two_started_years():
    licence = open_licence(
        exclusive=True,
        exclusive_to="ada-lab",
        exclusive_until=datetime(2028, 3, 2, tzinfo=UTC),
    )
    assert licence.exclusivity_surcharge_minor == 1_000


# --- bad input -------------------------------------------------------------------------


def problems_of(**changes):
    with pytest.raises(InvalidInput) as caught:
        open_licence(**changes)
    return caught.value.details["problems"]


def coded(**changes):
    """The refusal's problems as (field, code, params), as clients match on them."""
    with pytest.raises(InvalidInput) as caught:
        open_licence(**changes)
    return [(p.field, p.code, dict(p.params)) for p in caught.value.problems]


def test_redistribution_contradicts_non_transferability():
    problems = problems_of(permitted_actions={"train", "redistribute"})
    assert len(problems) == 1
    assert "redistribute" in problems[0] and "non-transferab" in problems[0]
    assert coded(permitted_actions={"train", "redistribute"}) == [
        ("permitted_actions", "licence.redistribute", {})
    ]


def test_exclusivity_without_a_holder_is_refused():
    problems = problems_of(exclusive=True, exclusive_until=START + timedelta(days=30))
    assert problems == ["exclusive_to: an exclusive licence must name the organisation holding it"]
    assert coded(exclusive=True, exclusive_until=START + timedelta(days=30)) == [
        ("exclusive_to", "licence.holder_required", {})
    ]


def test_a_holder_without_exclusivity_or_outside_the_named_buyers_is_refused():
    assert problems_of(exclusive_to="ada-lab") == [
        "exclusive_to: only an exclusive licence has a holder; set exclusive or remove it"
    ]
    problems = problems_of(
        exclusive=True,
        exclusive_to="ada-lab",
        exclusive_until=START + timedelta(days=30),
        offered_to={"other-lab"},
    )
    assert problems == ["offered_to: the exclusive holder 'ada-lab' is not among the named buyers"]
    assert coded(exclusive_to="ada-lab") == [("exclusive_to", "licence.holder_not_exclusive", {})]
    assert coded(
        exclusive=True,
        exclusive_to="ada-lab",
        exclusive_until=START + timedelta(days=30),
        offered_to={"other-lab"},
    ) == [("offered_to", "licence.holder_not_offered", {"org": "ada-lab"})]


def test_permitting_a_use_that_is_also_prohibited_or_not_sensitive_is_refused():
    problems = problems_of(
        permitted_uses={"biometric_identification", "sexual_content", "voice_cloning", "x"},
        prohibited_uses={"biometric_identification"},
    )
    joined = "\n".join(problems)
    assert "permitted_uses: unknown code(s): x" in joined
    assert "'biometric_identification' is also prohibited" in joined
    assert "'sexual_content' is not a sensitive use" in joined
    assert "'voice_cloning' is a digital replica" in joined
    found = coded(
        permitted_uses={"biometric_identification", "sexual_content", "voice_cloning", "x"},
        prohibited_uses={"biometric_identification"},
    )
    assert ("permitted_uses", "unknown_codes", {"codes": ["x"]}) in found
    assert (
        "permitted_uses",
        "licence.use_also_prohibited",
        {"use": "biometric_identification", "prohibited_uses": ["biometric_identification"]},
    ) in found
    assert [(f, c, p["use"]) for f, c, p in found if c == "licence.use_not_sensitive"] == [
        ("permitted_uses", "licence.use_not_sensitive", "sexual_content")
    ]
    assert ("permitted_uses", "licence.use_is_replica", {"use": "voice_cloning"}) in found


def test_a_use_that_asks_to_redistribute_is_denied():
    decision = evaluate(open_licence(), a_use(action="redistribute"))
    assert ReasonCode.ACTION_NOT_PERMITTED in decision.codes


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("purpose", "telepathy", ReasonCode.PURPOSE_UNKNOWN),
        ("industry", "moon_mining", ReasonCode.INDUSTRY_UNKNOWN),
        ("territory", "XX", ReasonCode.TERRITORY_UNKNOWN),
        ("task", "mind_reading", ReasonCode.TASK_UNKNOWN),
    ],
)
def test_an_unknown_code_denies(field, value, code):
    decision = evaluate(open_licence(), a_use(**{field: value}))
    assert code in decision.codes and not decision.allowed


# --- replica grants name their medium ----------------------------------------------------

VOICE_ONLY = "Narration of audiobooks for Kalahari Press, in English, my own voice"


def test_a_replica_without_a_medium_is_refused_naming_the_conflict():
    problems = problems_of(
        permitted_actions={"train", "create_replica"}, replica_use_description=VOICE_ONLY
    )
    assert problems == [
        "replica_media: a replica grant must name its medium (voice, face, full_likeness); "
        "a replica without a medium is not a grant"
    ]
    assert problems_of(replica_media={"hologram"})[0].startswith(
        "replica_media: unknown medium hologram"
    )
    media = ["voice", "face", "full_likeness"]
    assert coded(
        permitted_actions={"train", "create_replica"}, replica_use_description=VOICE_ONLY
    ) == [("replica_media", "licence.replica_medium_required", {"media": media})]
    assert coded(replica_media={"hologram"})[0] == (
        "replica_media",
        "licence.replica_medium_unknown",
        {"codes": ["hologram"], "media": media},
    )


def narrator_licence(**changes):
    """A voice grant for audiobook narration in English, sold in audio stores."""
    fields = dict(
        permitted_actions={"train", "create_replica"},
        permitted_purposes={"research_and_development", "media_production"},
        replica_use_description=VOICE_ONLY,
        replica_media={"voice"},
        replica_languages={"en"},
        replica_categories={"audiobook_narration"},
        replica_channels={"audio_stores", "streaming"},
    )
    fields.update(changes)
    return open_licence(**fields)


def a_replica_use(
    task="voice_cloning",
    languages=("en",),
    category="audiobook_narration",
    channels=("audio_stores",),
    **changes,
):
    return a_use(
        action="create_replica",
        purpose="speech_synthesis_training",
        task=task,
        replica=ReplicaUse(frozenset(languages), category, frozenset(channels)),
        until=START + timedelta(days=300),
        **changes,
    )


def test_a_replica_use_is_allowed_when_medium_language_category_and_channels_all_match():
    decision = evaluate(narrator_licence(), a_replica_use())
    assert decision.allowed, decision.reasons


def test_a_voice_grant_never_allows_a_face_avatar():
    decision = evaluate(narrator_licence(), a_replica_use(task="face_generation"))
    assert decision.codes == (ReasonCode.REPLICA_MEDIUM_NOT_GRANTED,)
    assert "face" in decision.reasons[0].text
    whole = narrator_licence(replica_media={"full_likeness"})
    assert evaluate(whole, a_replica_use(task="face_generation")).allowed


def test_audiobook_narration_in_english_does_not_allow_a_hindi_advert_on_television():
    decision = evaluate(
        narrator_licence(),
        a_replica_use(languages=("hi",), category="advertising", channels=("broadcast_tv",)),
    )
    assert set(decision.codes) == {
        ReasonCode.REPLICA_LANGUAGE_NOT_GRANTED,
        ReasonCode.REPLICA_CATEGORY_NOT_GRANTED,
        ReasonCode.REPLICA_CHANNEL_NOT_GRANTED,
    }
    text = " ".join(r.text for r in decision.reasons)
    assert "hi" in text and "'advertising'" in text and "broadcast_tv" in text


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"languages": ("en", "hi")}, ReasonCode.REPLICA_LANGUAGE_NOT_GRANTED),
        ({"category": "podcast"}, ReasonCode.REPLICA_CATEGORY_NOT_GRANTED),
        ({"channels": ("audio_stores", "radio")}, ReasonCode.REPLICA_CHANNEL_NOT_GRANTED),
        ({"languages": ("xx",)}, ReasonCode.REPLICA_LANGUAGE_NOT_GRANTED),
    ],
)
def test_one_field_outside_the_grant_denies_the_whole_replica_use(changes, code):
    assert evaluate(narrator_licence(), a_replica_use(**changes)).codes == (code,)


def test_a_replica_use_that_does_not_say_where_it_is_used_is_denied():
    use = a_use(action="create_replica", purpose="speech_synthesis_training", task="voice_cloning")
    assert evaluate(narrator_licence(), use).codes == (ReasonCode.REPLICA_USE_NOT_DESCRIBED,)
    partial = a_replica_use(channels=())
    assert evaluate(narrator_licence(), partial).codes == (ReasonCode.REPLICA_USE_NOT_DESCRIBED,)


def test_a_replica_use_that_does_not_say_voice_or_face_is_denied():
    use = a_replica_use(task=None)
    assert evaluate(narrator_licence(), use).codes == (ReasonCode.REPLICA_MEDIUM_NOT_STATED,)


def test_the_replica_grant_runs_past_the_licence_but_training_does_not():
    licence = narrator_licence(replica_until=START + timedelta(days=8 * 365))
    later = START + timedelta(days=6 * 365)
    replica = a_replica_use(at=later)
    replica = replica.__class__(**{**replica.__dict__, "until": later + timedelta(days=30)})
    assert evaluate(licence, replica, later).allowed
    training = a_use(at=later, task="speech_recognition")
    assert evaluate(licence, training, later).codes == (ReasonCode.LICENCE_EXPIRED,)


def test_a_replica_use_after_the_grant_or_running_past_it_is_denied():
    licence = narrator_licence(replica_until=START + timedelta(days=100))
    assert evaluate(licence, a_replica_use()).codes == (
        ReasonCode.REPLICA_GRANT_ENDS_WITHIN_PERIOD,
    )
    after = START + timedelta(days=101)
    assert evaluate(licence, a_replica_use(at=after), after).codes == (
        ReasonCode.REPLICA_GRANT_ENDED,
    )


def test_ask_me_each_time_holds_a_matching_use_until_the_contributor_approves_it():
    licence = narrator_licence(replica_ask_each_time=True)
    pending = evaluate(licence, a_replica_use())
    assert pending.codes == (ReasonCode.REPLICA_APPROVAL_PENDING,)
    assert evaluate(licence, a_replica_use(), replica_approved=True).allowed
    # Approval never widens the grant: a Hindi advert stays denied.
    hindi = evaluate(licence, a_replica_use(languages=("hi",)), replica_approved=True)
    assert hindi.codes == (ReasonCode.REPLICA_LANGUAGE_NOT_GRANTED,)


def test_a_grant_stored_before_its_scope_existed_allows_no_replica_use():
    legacy = narrator_licence(
        replica_languages=set(), replica_categories=set(), replica_channels=set()
    )
    assert set(evaluate(legacy, a_replica_use()).codes) == {
        ReasonCode.REPLICA_LANGUAGE_NOT_GRANTED,
        ReasonCode.REPLICA_CATEGORY_NOT_GRANTED,
        ReasonCode.REPLICA_CHANNEL_NOT_GRANTED,
    }
    assert [str(p) for p in legacy.replica_grant_gaps()] == [
        "replica_languages: a replica grant must name the languages the replica may speak "
        "or appear in",
        "replica_categories: a replica grant must name the kinds of product it may appear in",
        "replica_channels: a replica grant must name the channels it may reach people through",
    ]
    assert [(p.field, p.code) for p in legacy.replica_grant_gaps()] == [
        ("replica_languages", "licence.replica_languages_required"),
        ("replica_categories", "licence.replica_categories_required"),
        ("replica_channels", "licence.replica_channels_required"),
    ]
    assert narrator_licence().replica_grant_gaps() == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"replica_languages": {"en", "klingon"}},
            "replica_languages: unknown language code(s): klingon",
        ),
        ({"replica_categories": {"karaoke"}}, "replica_categories: unknown code(s): karaoke"),
        (
            {"replica_channels": {"carrier_pigeon"}},
            "replica_channels: unknown code(s): carrier_pigeon",
        ),
        ({"replica_media": {"hologram"}}, "replica_media: unknown medium hologram"),
        (
            {"replica_until": START + timedelta(days=3654)},
            "replica_until: a replica grant may last at most 10 years",
        ),
        ({"replica_until": START}, "replica_until: must be after valid_from"),
    ],
)
def test_an_unknown_or_out_of_range_replica_term_is_invalid_naming_the_field(changes, problem):
    with pytest.raises(InvalidInput) as caught:
        narrator_licence(**changes)
    assert any(p.startswith(problem) for p in caught.value.details["problems"]), (
        caught.value.details["problems"]
    )


def test_replica_scope_without_a_replica_grant_is_invalid():
    problems = problems_of(
        replica_languages={"en"}, replica_ask_each_time=True, replica_until=START + timedelta(1)
    )
    assert problems == [
        "replica_languages: only a replica grant has these; add replica_use_description",
        "replica_ask_each_time: only a replica grant asks for approval",
        "replica_until: only a replica grant has its own end",
    ]
