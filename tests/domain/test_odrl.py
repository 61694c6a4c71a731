import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from test_licence_laws import licences, uses  # sibling module; tests/domain is on sys.path

from datatrust.domain.errors import InvalidInput
from datatrust.domain.licence import TEMPLATES, Organisation, Use, licence_from_template
from datatrust.domain.odrl import (
    ODRL_CONTEXT_URL,
    Agreement,
    agreement_from_odrl,
    agreement_to_odrl,
    inline_context,
    licence_from_odrl,
    licence_to_odrl,
)

ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
DPV = Namespace("https://w3id.org/dpv#")
DT = Namespace("https://datatrust.example/odrl#")
START = datetime(2025, 3, 1, tzinfo=UTC)
BUYER = Organisation(id="org-7", name="Acme AI Lab")


def a_licence(template="training_only", **changes):
    changes.setdefault("id", "lic-1")
    changes.setdefault("valid_from", START)
    changes.setdefault("price_minor", 50)
    changes.setdefault("currency", "INR")
    if template == "voice_library":
        changes.setdefault(
            "replica_use_description", "Narration voice for audiobooks of one named publisher"
        )
    return licence_from_template(template, **changes)


def graph_of(doc):
    """Parse as RDF with the ODRL context inlined, so nothing is fetched."""
    graph = Graph()
    graph.parse(data=json.dumps(inline_context(doc)), format="json-ld")
    return graph


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_round_trips_through_odrl(template):
    licence = a_licence(template)
    assert licence_from_odrl(licence_to_odrl(licence)) == licence


def test_an_exclusive_territorial_licence_round_trips_through_odrl():
    licence = a_licence(
        territories={"IN", "NP"},
        exclusive=True,
        exclusive_until=START + timedelta(days=200),
        exclusive_to="org-7",
        deletion_deadline_days=7,
        on_end="delete_model",
    )
    assert licence_from_odrl(licence_to_odrl(licence)) == licence


@settings(max_examples=150)
@given(licences())
def test_every_generated_licence_round_trips_through_odrl(licence):
    doc = json.loads(json.dumps(licence_to_odrl(licence)))  # JSON-friendly all the way
    assert licence_from_odrl(doc) == licence


@settings(max_examples=50)
@given(licences(), uses())
def test_every_generated_agreement_round_trips_through_odrl(licence, use):
    agreement = Agreement(licence=licence, assignee=BUYER, use=use, agreed_at=use.at)
    doc = json.loads(json.dumps(agreement_to_odrl(agreement)))
    assert doc["@type"] == "Agreement"
    assert agreement_from_odrl(doc) == agreement


def test_an_offer_names_the_odrl_context_and_the_project_profile():
    doc = licence_to_odrl(a_licence(), assigner="https://datatrust.example/user/5")
    assert doc["@context"][0] == ODRL_CONTEXT_URL
    assert doc["@context"][1]["dpv"] == "https://w3id.org/dpv#"
    assert doc["@type"] == "Offer"
    assert doc["uid"] == "https://datatrust.example/licence/lic-1/v1"
    assert doc["assigner"] == "https://datatrust.example/user/5"
    assert {rule["action"] for rule in doc["permission"]} == {
        "dt:train",
        "dt:fineTune",
        "dt:evaluate",
    }
    assert {"action": "transfer"} in doc["prohibition"]
    assert {"action": "grantUse"} in doc["prohibition"]


def test_the_offer_parses_as_rdf_with_the_expected_triples():
    licence = a_licence("research_non_commercial", excluded_territories={"US"})
    graph = graph_of(licence_to_odrl(licence))
    offer = URIRef("https://datatrust.example/licence/lic-1/v1")
    assert (offer, RDF.type, ODRL.Offer) in graph
    assert (offer, DT.licenceId, Literal("lic-1")) in graph
    actions = {graph.value(p, ODRL.action) for p in graph.objects(offer, ODRL.permission)}
    assert actions == {DT.train, DT.fineTune, DT.evaluate}

    purposes = set()
    for permission in graph.objects(offer, ODRL.permission):
        for constraint in graph.objects(permission, ODRL.constraint):
            if graph.value(constraint, ODRL.leftOperand) == ODRL.purpose:
                assert graph.value(constraint, ODRL.operator) == ODRL.isAnyOf
                purposes |= set(graph.objects(constraint, ODRL.rightOperand))
    assert purposes == {DPV.AcademicResearch, DPV.NonCommercialResearch}

    banned = set()
    for prohibition in graph.objects(offer, ODRL.prohibition):
        for constraint in graph.objects(prohibition, ODRL.constraint):
            banned |= {
                (graph.value(constraint, ODRL.leftOperand), o)
                for o in graph.objects(constraint, ODRL.rightOperand)
            }
    assert (ODRL.purpose, DPV.CommercialResearch) in banned
    assert (DT.industry, DT["industry/political_campaigning"]) in banned
    assert (DT.useKind, DT["use/digital_replica"]) in banned
    assert (ODRL.spatial, Literal("US")) in banned
    prohibited_actions = {
        graph.value(p, ODRL.action) for p in graph.objects(offer, ODRL.prohibition)
    }
    assert {ODRL.transfer, ODRL.grantUse} <= prohibited_actions


def test_dates_and_price_are_typed_literals_in_rdf():
    licence = a_licence()
    graph = graph_of(licence_to_odrl(licence))
    start = Literal(START.isoformat(), datatype=URIRef("http://www.w3.org/2001/XMLSchema#dateTime"))
    assert any(
        graph.value(c, ODRL.leftOperand) == ODRL.dateTime
        and graph.value(c, ODRL.operator) == ODRL.gteq
        and graph.value(c, ODRL.rightOperand) == start
        for c in graph.subjects(ODRL.leftOperand, ODRL.dateTime)
    )
    prices = {
        graph.value(c, ODRL.rightOperand).toPython()
        for c in graph.subjects(ODRL.leftOperand, DT.priceMinor)
    }
    assert prices == {50}
    compensations = set(graph.subjects(RDF.value, ODRL.compensate))
    assert compensations


def test_an_agreement_names_its_buyer_and_agreed_use_in_rdf():
    use = Use(
        action="train",
        purpose="speech_recognition_training",
        industry="technology",
        territory="IN",
        recipient_org=BUYER,
        at=START + timedelta(days=3),
    )
    agreement = Agreement(licence=a_licence(), assignee=BUYER, use=use, agreed_at=use.at)
    doc = agreement_to_odrl(agreement)
    graph = graph_of(doc)
    policy = URIRef(doc["uid"])
    assert (policy, RDF.type, ODRL.Agreement) in graph
    buyer = URIRef("https://datatrust.example/org/org-7")
    assert (policy, ODRL.assignee, buyer) in graph
    agreed = graph.value(policy, DT.agreedUse)
    assert (
        graph.value(agreed, URIRef("https://w3id.org/dpv#hasPurpose"))
        == DT.SpeechRecognitionTraining
    )


def test_import_rejects_a_document_that_allows_transfer():
    doc = licence_to_odrl(a_licence())
    doc["prohibition"] = [r for r in doc["prohibition"] if r["action"] != "transfer"]
    with pytest.raises(InvalidInput) as caught:
        licence_from_odrl(doc)
    assert caught.value.problems == [
        "prohibition: transfer must be prohibited; a licence is not transferable"
    ]


def test_import_lists_every_problem_in_a_tampered_document():
    doc = json.loads(json.dumps(licence_to_odrl(a_licence())))  # unshare nested lists
    doc["dt:revocable"] = False
    doc["permission"][0]["constraint"][0]["rightOperand"] = [{"@id": "dpv:MindReading"}]
    doc["obligation"][0]["constraint"][0]["rightOperand"] = {"@value": "P1Y"}
    with pytest.raises(InvalidInput) as caught:
        licence_from_odrl(doc)
    problems = caught.value.problems
    assert any(p.startswith("dt:revocable") for p in problems)
    assert any("MindReading" in p for p in problems)
    assert any("every permission must carry the same constraints" in p for p in problems)
    assert any("duration in days" in p for p in problems)


def test_import_rejects_something_that_is_not_an_offer():
    with pytest.raises(InvalidInput):
        licence_from_odrl({"@type": "Set"})
