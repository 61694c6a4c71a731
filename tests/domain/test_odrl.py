"""ODRL 2.2 export and import, checked with the standards' own tools: rdflib reads the
triples, PyLD expands, compacts and flattens, and the importer reads whatever equivalent
serialisation comes back."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from rdflib import RDF, RDFS, Graph, Literal, Namespace, URIRef
from test_licence_laws import licences, uses  # sibling module; tests/domain is on sys.path

from datatrust.adapters import jsonld
from datatrust.domain.errors import InvalidInput
from datatrust.domain.iris import InstanceIris
from datatrust.domain.licence import TEMPLATES, Organisation, Use, licence_from_template
from datatrust.domain.odrl import (
    ODRL_CONTEXT_URL,
    Agreement,
    agreement_from_jsonld,
    agreement_to_odrl,
    licence_from_jsonld,
    licence_to_odrl,
)
from datatrust.domain.odrl_profile import profile_document

ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
DPV = "https://w3id.org/dpv#"
DPV_AI = "https://w3id.org/dpv/ai#"
LOC = Namespace("https://w3id.org/dpv/loc#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
IRIS = InstanceIris.for_base_url("https://trust.example.org:8443/")
DT = Namespace(IRIS.vocab)
START = datetime(2025, 3, 1, tzinfo=UTC)
BUYER = Organisation(id="org-7", name="Acme AI Lab")
PERSON = "https://trust.example.org:8443/parties/people/5.abcd"


def a_licence(template="training_only", **changes):
    changes.setdefault("id", "lic-1")
    changes.setdefault("valid_from", START)
    changes.setdefault("price_minor", 150)
    changes.setdefault("currency", "INR")
    if template == "voice_library":
        changes.setdefault(
            "replica_use_description", "Narration voice for audiobooks of one named publisher"
        )
    return licence_from_template(template, **changes)


def imported(doc):
    return licence_from_jsonld(jsonld.flatten(doc), IRIS)


def graph_of(doc):
    """The triples, as rdflib reads the expanded document (no context is fetched)."""
    graph = Graph()
    graph.parse(data=json.dumps(jsonld.expand(doc)), format="json-ld")
    return graph


def policy_graph(doc):
    graph = graph_of(doc)
    return graph, URIRef(doc["uid"])


def rules(graph, policy):
    for kind in (ODRL.permission, ODRL.prohibition, ODRL.obligation):
        yield from ((kind, rule) for rule in graph.objects(policy, kind))


def constraints_of(graph, node, prop=ODRL.constraint):
    for c in graph.objects(node, prop):
        yield graph.value(c, ODRL.leftOperand), graph.value(c, ODRL.operator), c


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_round_trips_through_odrl(template):
    licence = a_licence(template)
    assert imported(licence_to_odrl(licence, IRIS)) == licence


def test_an_exclusive_territorial_licence_round_trips_through_odrl():
    licence = a_licence(
        territories={"IN", "NP"},
        exclusive=True,
        exclusive_until=START + timedelta(days=200),
        exclusive_to="org-7",
        offered_to={"org-7", "org 8/b"},
        deletion_deadline_days=7,
        on_end="delete_model",
    )
    assert imported(licence_to_odrl(licence, IRIS, assigner=PERSON)) == licence


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(licences(scope=True))
def test_every_generated_licence_round_trips_through_odrl(licence):
    doc = json.loads(json.dumps(licence_to_odrl(licence, IRIS)))  # JSON-friendly all the way
    assert imported(doc) == licence


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(licences(scope=True), uses())
def test_every_generated_agreement_round_trips_through_odrl(licence, use):
    agreement = Agreement(licence=licence, assignee=BUYER, use=use, agreed_at=use.at, id=41)
    doc = json.loads(json.dumps(agreement_to_odrl(agreement, IRIS, assigner=PERSON)))
    assert doc["@type"] == "Agreement"
    assert agreement_from_jsonld(jsonld.flatten(doc), IRIS) == agreement


def test_an_offer_names_the_odrl_context_and_iris_under_the_instances_base_url():
    doc = licence_to_odrl(a_licence(), IRIS, assigner=PERSON)
    assert doc["@context"][0] == ODRL_CONTEXT_URL
    assert doc["@type"] == "Offer"
    assert doc["uid"] == "https://trust.example.org:8443/licences/lic-1/v1"
    assert doc["profile"] == "https://trust.example.org:8443/odrl/profile"
    assert "datatrust.example" not in json.dumps(doc)
    assert {rule["action"] for rule in doc["permission"]} == {
        "dt:train",
        "dt:fineTune",
        "dt:evaluate",
    }


def test_every_rule_has_a_target_and_the_assigner_in_rdf():
    doc = licence_to_odrl(a_licence(), IRIS, assigner=PERSON)
    graph, offer = policy_graph(doc)
    assert (offer, RDF.type, ODRL.Offer) in graph
    assets = URIRef(IRIS.licence_assets("lic-1", 1))
    assert (assets, RDF.type, ODRL.AssetCollection) in graph
    found = list(rules(graph, offer))
    assert len(found) >= 3 + 3 + 2
    for _kind, rule in found:
        assert graph.value(rule, ODRL.target) == assets
        assert graph.value(rule, ODRL.assigner) == URIRef(PERSON)


def test_an_item_target_replaces_the_collection_on_every_rule():
    item = IRIS.item(42)
    graph, offer = policy_graph(licence_to_odrl(a_licence(), IRIS, target=item))
    assert {graph.value(rule, ODRL.target) for _k, rule in rules(graph, offer)} == {URIRef(item)}


def _purposes(graph, policy, kind):
    found = set()
    for rule in graph.objects(policy, kind):
        for left, _op, c in constraints_of(graph, rule):
            if left == ODRL.purpose:
                found |= set(graph.objects(c, ODRL.rightOperand))
    return found


def _broader_chain_reaches_dpv(profile, iri):
    seen = set()
    while isinstance(iri, URIRef) and iri not in seen:
        if str(iri).startswith((DPV, DPV_AI)):
            return True
        seen.add(iri)
        iri = profile.value(iri, SKOS.broader)
    return False


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_purpose_is_a_dpv_iri_or_a_profile_purpose_under_one(template):
    graph, offer = policy_graph(licence_to_odrl(a_licence(template), IRIS))
    profile = graph_of(profile_document(IRIS))
    purposes = _purposes(graph, offer, ODRL.permission) | _purposes(graph, offer, ODRL.prohibition)
    assert purposes
    for purpose in purposes:
        assert _broader_chain_reaches_dpv(profile, purpose), purpose
        if not str(purpose).startswith((DPV, DPV_AI)):
            assert (purpose, RDFS.subClassOf, URIRef(DPV + "Purpose")) in profile


def test_the_recommended_template_exports_the_dpv_ai_iri_for_model_training():
    assert TEMPLATES["training_only"]["title"].endswith("(recommended)")
    graph, offer = policy_graph(licence_to_odrl(a_licence("training_only"), IRIS))
    purposes = _purposes(graph, offer, ODRL.permission)
    assert URIRef(DPV_AI + "ModelTraining") in purposes


def test_the_price_is_a_pay_amount_with_a_currency_unit_not_a_project_term():
    doc = licence_to_odrl(a_licence(price_minor=150, currency="INR"), IRIS)
    graph, _offer = policy_graph(doc)
    amounts = [
        (graph.value(c, ODRL.rightOperand), graph.value(c, ODRL.unit))
        for c in graph.subjects(ODRL.leftOperand, ODRL.payAmount)
    ]
    assert amounts
    for amount, unit in amounts:
        assert amount == Literal("1.50", datatype=XSD.decimal)
        assert unit == URIRef("http://qudt.org/vocab/unit/CCY_INR")
    assert "priceMinor" not in json.dumps(doc)
    yen = licence_to_odrl(a_licence(price_minor=150, currency="JPY"), IRIS)
    assert '"150"' in json.dumps(yen) and imported(yen).price_minor == 150


def test_obligations_and_the_royalty_follow_event_constraints_not_elapsed_time():
    doc = licence_to_odrl(a_licence(deletion_deadline_days=30), IRIS)
    graph, offer = policy_graph(doc)
    assert not set(graph.subjects(ODRL.leftOperand, ODRL.elapsedTime))
    assert "trigger" not in json.dumps(doc)
    deletes = [
        r
        for r in graph.objects(offer, ODRL.obligation)
        if graph.value(r, ODRL.action) == ODRL.delete
    ]
    (delete,) = deletes
    found = {
        (left, op): graph.value(c, ODRL.rightOperand)
        for left, op, c in constraints_of(graph, delete)
    }
    assert found[(ODRL.event, ODRL.gt)] == DT.revocation
    assert found[(DT.deadlineAfterEvent, ODRL.lteq)] == Literal("P30D", datatype=XSD.duration)
    sale_events = [
        graph.value(c, ODRL.rightOperand)
        for c in graph.subjects(ODRL.leftOperand, ODRL.event)
        if graph.value(c, ODRL.rightOperand) == DT.sale
    ]
    assert sale_events


def test_territories_are_iso_3166_iris():
    licence = a_licence(territories={"IN", "NP"})
    graph, offer = policy_graph(licence_to_odrl(licence, IRIS))
    places = {
        o
        for rule in graph.objects(offer, ODRL.permission)
        for left, _op, c in constraints_of(graph, rule)
        if left == ODRL.spatial
        for o in graph.objects(c, ODRL.rightOperand)
    }
    assert places == {LOC.IN, LOC.NP}
    excluded = a_licence(excluded_territories={"US"})
    graph, offer = policy_graph(licence_to_odrl(excluded, IRIS))
    banned = {
        o
        for rule in graph.objects(offer, ODRL.prohibition)
        for left, _op, c in constraints_of(graph, rule)
        if left == ODRL.spatial
        for o in graph.objects(c, ODRL.rightOperand)
    }
    assert banned == {LOC.US}


def test_an_agreement_names_its_buyer_on_every_rule_and_its_use_by_iri():
    use = Use(
        action="train",
        purpose="speech_recognition_training",
        industry="technology",
        territory="IN",
        recipient_org=BUYER,
        at=START + timedelta(days=3),
    )
    agreement = Agreement(licence=a_licence(), assignee=BUYER, use=use, agreed_at=use.at, id=41)
    doc = agreement_to_odrl(agreement, IRIS, assigner=PERSON)
    graph, policy = policy_graph(doc)
    assert (policy, RDF.type, ODRL.Agreement) in graph
    buyer = URIRef(IRIS.organisation("org-7"))
    assert (policy, ODRL.assignee, buyer) in graph
    for _kind, rule in rules(graph, policy):
        assert graph.value(rule, ODRL.assignee) == buyer
    agreed = graph.value(policy, DT.agreedUse)
    assert graph.value(agreed, URIRef(DPV + "hasPurpose")) == DT.SpeechRecognitionTraining
    assert graph.value(agreed, DT.territory) == LOC.IN


def test_the_profile_declares_every_project_term_the_exports_use():
    profile = graph_of(profile_document(IRIS))
    doc = licence_to_odrl(a_licence("voice_library"), IRIS)
    graph, _offer = policy_graph(doc)
    used = {
        term
        for triple in graph
        for term in triple
        if isinstance(term, URIRef) and str(term).startswith(IRIS.vocab)
    }
    assert used
    declared = set(profile.subjects())
    assert used - declared == set()
    assert (DT.deadlineAfterEvent, RDF.type, ODRL.LeftOperand) in profile
    assert (DT.train, ODRL.includedIn, ODRL.use) in profile


def a_likeness_grant(**changes):
    """An actor's likeness for Hindi social-media adverts, asked each time, with a replica
    grant running past the licence and 90 days' notice (issue 16 §3, §5)."""
    return a_licence(
        "voice_library",
        replica_media={"full_likeness"},
        replica_languages={"hi"},
        replica_categories={"advertising"},
        replica_channels={"social_media", "websites_and_apps"},
        replica_until=START + timedelta(days=3000),
        replica_ask_each_time=True,
        withdrawal_notice_days=90,
        prohibited_uses={"impersonation", "sexual_content"},
        **changes,
    )


def test_the_replica_grant_is_a_permission_of_its_own_with_every_field_in_rdf():
    licence = a_likeness_grant()
    graph, offer = policy_graph(licence_to_odrl(licence, IRIS))
    [grant] = [
        rule
        for rule in graph.objects(offer, ODRL.permission)
        if graph.value(rule, ODRL.action) == ODRL.use
    ]
    found: dict = {}
    for left, op, c in constraints_of(graph, grant):
        found.setdefault((left, op), set()).update(graph.objects(c, ODRL.rightOperand))
    assert found[(DT.useKind, ODRL.isAnyOf)] == {URIRef(IRIS.vocab + "use/digital_replica")}
    assert found[(DT.replicaMedium, ODRL.isAnyOf)] == {
        URIRef(IRIS.vocab + "replicaMedium/full_likeness")
    }
    assert found[(ODRL.language, ODRL.isAnyOf)] == {Literal("hi", datatype=XSD.language)}
    assert found[(DT.replicaCategory, ODRL.isAnyOf)] == {
        URIRef(IRIS.vocab + "replicaCategory/advertising")
    }
    assert found[(ODRL.deliveryChannel, ODRL.isAnyOf)] == {
        URIRef(IRIS.vocab + "replicaChannel/social_media"),
        URIRef(IRIS.vocab + "replicaChannel/websites_and_apps"),
    }
    # The grant runs to its own end, past the licence's (which the training rules keep).
    ends = {
        rule: graph.value(c, ODRL.rightOperand).toPython()
        for rule in graph.objects(offer, ODRL.permission)
        for left, op, c in constraints_of(graph, rule)
        if (left, op) == (ODRL.dateTime, ODRL.lt)
    }
    assert ends.pop(grant) == licence.replica_until
    assert set(ends.values()) == {licence.valid_until}
    # "Ask me each time" is a duty to obtain consent, beside the price.
    duties = {graph.value(d, ODRL.action) for d in graph.objects(grant, ODRL.duty)}
    assert ODRL.obtainConsent in duties
    # The notice is the wait before the deletion duty applies.
    [delete] = [
        r
        for r in graph.objects(offer, ODRL.obligation)
        if graph.value(r, ODRL.action) == ODRL.delete
    ]
    delays = [
        graph.value(c, ODRL.rightOperand)
        for left, _op, c in constraints_of(graph, delete)
        if left == ODRL.delayPeriod
    ]
    assert delays == [Literal("P90D", datatype=XSD.duration)]


def test_a_licence_without_the_grant_or_notice_exports_neither():
    doc = licence_to_odrl(a_licence("training_only"), IRIS)
    text = json.dumps(doc)
    assert "delayPeriod" not in text and "obtainConsent" not in text
    assert all(rule["action"] != "use" for rule in doc["permission"])


def test_a_grant_that_names_no_language_allows_none_after_a_round_trip():
    # Stored before the grant's scope existed: no language, category or channel. Read back,
    # it still names none (an empty list is not "any").
    licence = a_licence("voice_library")
    assert licence.replica_languages == frozenset()
    again = imported(jsonld.expand(licence_to_odrl(licence, IRIS)))
    assert again == licence and again.replica_grant_gaps()


def test_the_replica_grant_and_notice_round_trip_through_pyld_and_rdflib():
    licence = a_likeness_grant()
    doc = licence_to_odrl(licence, IRIS, assigner=PERSON)
    assert imported(doc) == licence
    assert imported(jsonld.expand(doc)) == licence
    recompacted = jsonld.compact(jsonld.expand(doc), OTHER_CONTEXT)
    assert imported(recompacted) == licence
    again = json.loads(graph_of(doc).serialize(format="json-ld"))
    assert imported(again) == licence
    use = Use("train", "model_training", "technology", "IN", BUYER, START + timedelta(days=1))
    agreement = Agreement(licence=licence, assignee=BUYER, use=use, agreed_at=use.at, id=41)
    flat = jsonld.flatten(agreement_to_odrl(agreement, IRIS, assigner=PERSON))
    assert agreement_from_jsonld(flat, IRIS) == agreement


def test_a_replica_grant_without_its_description_or_with_an_unknown_channel_is_refused():
    doc = licence_to_odrl(a_likeness_grant(), IRIS)
    del doc["dt:replicaUseDescription"]
    assert any("replica_media" in p for p in _problems(doc))
    doc = licence_to_odrl(a_likeness_grant(), IRIS)
    [grant] = [rule for rule in doc["permission"] if rule["action"] == "use"]
    for c in grant["constraint"]:
        if c["leftOperand"] == "deliveryChannel":
            c["rightOperand"].append({"@id": "dt:replicaChannel/carrier_pigeon"})
    assert any("carrier_pigeon" in p for p in _problems(doc))


# --- equivalent serialisations -------------------------------------------------------


OTHER_CONTEXT = {
    "o": "http://www.w3.org/ns/odrl/2/",
    "privacy": DPV,
    "places": "https://w3id.org/dpv/loc#",
    "mine": IRIS.vocab,
    "terms": "http://purl.org/dc/terms/",
}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_import_reads_the_export_compacted_with_another_context(template):
    licence = a_licence(template, excluded_territories={"US"})
    recompacted = jsonld.compact(jsonld.expand(licence_to_odrl(licence, IRIS)), OTHER_CONTEXT)
    assert "o:permission" in recompacted and "permission" not in recompacted
    assert imported(recompacted) == licence


def test_import_reads_the_export_expanded_and_the_agreement_compacted_elsewhere():
    licence = a_licence("voice_library", offered_to={"org-7"})
    assert imported(jsonld.expand(licence_to_odrl(licence, IRIS))) == licence
    use = Use("train", "model_training", "technology", "IN", BUYER, START + timedelta(days=1))
    agreement = Agreement(licence=licence, assignee=BUYER, use=use, agreed_at=use.at, id=41)
    doc = jsonld.compact(jsonld.expand(agreement_to_odrl(agreement, IRIS)), OTHER_CONTEXT)
    assert agreement_from_jsonld(jsonld.flatten(doc), IRIS) == agreement


def test_import_reads_what_rdflib_serialises_back_as_json_ld():
    licence = a_licence("research_non_commercial", territories={"IN"})
    graph = graph_of(licence_to_odrl(licence, IRIS, assigner=PERSON))
    again = json.loads(graph.serialize(format="json-ld"))
    assert imported(again) == licence


# --- bad input -------------------------------------------------------------------------


def _problems(doc):
    with pytest.raises(InvalidInput) as caught:
        imported(doc)
    return caught.value.details["problems"]


def _coded(doc):
    """The refusal's problems as (field, code, params): what a client matches on."""
    with pytest.raises(InvalidInput) as caught:
        imported(doc)
    return [(p.field, p.code, dict(p.params)) for p in caught.value.problems]


def test_import_refuses_an_unknown_purpose_naming_it():
    doc = licence_to_odrl(a_licence(), IRIS)
    doc["permission"][0]["constraint"][0]["rightOperand"] = [{"@id": "dpv:MindReading"}]
    problems = _problems(json.loads(json.dumps(doc)))
    assert any("unknown purpose https://w3id.org/dpv#MindReading" in p for p in problems)
    assert (
        "permission purpose",
        "odrl.unknown_purpose",
        {"iri": "https://w3id.org/dpv#MindReading"},
    ) in _coded(json.loads(json.dumps(doc)))


def test_import_refuses_an_unknown_territory_and_a_bare_country_code():
    doc = json.loads(json.dumps(licence_to_odrl(a_licence(territories={"IN"}), IRIS)))
    for rule in doc["permission"]:
        rule["constraint"][3]["rightOperand"] = [{"@id": "loc:XX"}]
    problems = _problems(doc)
    assert any("not an ISO 3166-1 territory: https://w3id.org/dpv/loc#XX" in p for p in problems)
    assert (
        "permission spatial",
        "odrl.territory",
        {"iri": "https://w3id.org/dpv/loc#XX"},
    ) in _coded(doc)
    for rule in doc["permission"]:
        rule["constraint"][3]["rightOperand"] = ["IN"]
    assert any("spatial: expected an IRI" in p for p in _problems(doc))
    assert ("spatial", "odrl.expected_iri", {"given": "{'@value': 'IN'}"}) in _coded(doc)


def test_import_refuses_an_unknown_action_naming_it():
    doc = json.loads(json.dumps(licence_to_odrl(a_licence(), IRIS)))
    doc["permission"][0]["action"] = "dt:mindControl"
    problems = _problems(doc)
    assert any(f"unknown action {IRIS.vocab}mindControl" in p for p in problems)
    assert ("permission[0].action", "odrl.unknown_action", {"iri": f"{IRIS.vocab}mindControl"}) in (
        _coded(doc)
    )


def test_import_refuses_a_rule_without_a_target():
    doc = json.loads(json.dumps(licence_to_odrl(a_licence(), IRIS)))
    del doc["prohibition"][0]["target"]
    assert "prohibition[0]: every rule must name its target" in _problems(doc)
    assert ("prohibition[0]", "odrl.target", {}) in _coded(doc)


def test_import_refuses_a_document_that_allows_transfer():
    doc = licence_to_odrl(a_licence(), IRIS)
    doc["prohibition"] = [r for r in doc["prohibition"] if r["action"] != "transfer"]
    assert _problems(doc) == [
        "prohibition: transfer must be prohibited; a licence is not transferable"
    ]
    assert _coded(doc) == [("prohibition", "odrl.must_prohibit", {"action": "transfer"})]


def test_import_lists_every_problem_in_a_tampered_document():
    doc = json.loads(json.dumps(licence_to_odrl(a_licence(), IRIS)))
    doc["dt:revocable"] = False
    doc["permission"][0]["constraint"][0]["rightOperand"] = [{"@id": "dpv:MindReading"}]
    doc["obligation"][0]["constraint"][1]["rightOperand"] = {"@value": "P1Y"}
    doc["conflict"] = "perm"
    problems = _problems(doc)
    assert any(p.startswith("dt:revocable") for p in problems)
    assert any("MindReading" in p for p in problems)
    assert any("every permission must carry the same constraints" in p for p in problems)
    assert any("deadline in days" in p for p in problems)
    assert any("unexpected property http://www.w3.org/ns/odrl/2/conflict" in p for p in problems)
    codes = {(field, code) for field, code, _ in _coded(doc)}
    assert {
        ("dt:revocable", "odrl.revocable"),
        ("permission purpose", "odrl.unknown_purpose"),
        ("permission", "odrl.permissions_differ"),
        ("obligation[0]", "odrl.deadline_days"),
        ("policy", "odrl.unexpected_property"),
    } <= codes


def test_import_refuses_another_instances_profile_and_terms():
    other = InstanceIris.for_base_url("https://elsewhere.example.net")
    problems = _problems(licence_to_odrl(a_licence(), other))
    assert any(
        p.startswith("profile: https://elsewhere.example.net/odrl/profile") for p in problems
    )
    assert any(
        "unknown action https://elsewhere.example.net/odrl/profile#train" in p for p in problems
    )
    assert (
        "profile",
        "odrl.other_profile",
        {"given": "https://elsewhere.example.net/odrl/profile", "profile": IRIS.profile},
    ) in _coded(licence_to_odrl(a_licence(), other))


def test_a_remote_context_that_is_not_bundled_is_refused_without_fetching():
    doc = licence_to_odrl(a_licence(), IRIS)
    doc["@context"] = ["https://evil.example/odrl.jsonld", doc["@context"][1]]
    with pytest.raises(InvalidInput) as caught:
        imported(doc)
    assert "https://evil.example/odrl.jsonld" in str(caught.value)


def test_import_refuses_something_that_is_not_an_offer():
    problems = _problems({"@context": ODRL_CONTEXT_URL, "@type": "Set", "uid": "urn:x"})
    assert problems == ["@type: expected exactly one ODRL Offer or Agreement"]
    coded = _coded({"@context": ODRL_CONTEXT_URL, "@type": "Set", "uid": "urn:x"})
    assert coded == [("@type", "odrl.one_policy", {})]
