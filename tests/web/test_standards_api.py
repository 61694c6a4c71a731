"""The instance's own IRIs resolve: the ODRL profile, each licence version, the parties.
Every IRI an exported policy names under the configured base URL is fetched back as
JSON-LD and read with rdflib; the licence IRI serves the same policy the API exports."""

from __future__ import annotations

import json
from urllib.parse import urldefrag, urlsplit

from rdflib import RDF, Graph, Namespace, URIRef

from datatrust.adapters import jsonld
from datatrust.domain.odrl import licence_from_jsonld

ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
OFFER = {"template": "training_only", "changes": {"price_minor": 500}}


def iris_in(value, base):
    if isinstance(value, dict):
        for v in value.values():
            yield from iris_in(v, base)
    elif isinstance(value, list):
        for v in value:
            yield from iris_in(v, base)
    elif isinstance(value, str) and value.startswith(base):
        yield value


def fetch(client, iri):
    response = client.get(urlsplit(iri).path)
    assert response.status_code == 200, (iri, response.text)
    assert response.headers["content-type"].startswith("application/ld+json")
    graph = Graph()
    graph.parse(data=json.dumps(jsonld.expand(response.json())), format="json-ld")
    return response.json(), graph


def an_offer(client, persona):
    created = client.post("/api/licences", headers=persona.headers, json=OFFER)
    assert created.status_code == 201, created.text
    offer = created.json()
    exported = client.get(f"/api/licences/{offer['id']}/odrl", headers=persona.headers)
    assert exported.headers["content-type"].startswith("application/ld+json")
    return offer, exported.json()


def test_every_iri_an_offer_names_under_the_base_url_resolves_as_json_ld(client, services, people):
    base = services.settings.base_url
    _offer, doc = an_offer(client, people["owner"])
    named = {urldefrag(iri).url for iri in iris_in(jsonld.expand(doc), base)}
    assert {doc["uid"], doc["profile"], doc["assigner"]} <= named
    for iri in sorted(named):
        _served, graph = fetch(client, iri)
        assert len(graph) > 0


def test_the_licence_iri_serves_the_policy_the_api_exports_and_it_reads_back(
    client, services, people
):
    offer, doc = an_offer(client, people["owner"])
    served, graph = fetch(client, doc["uid"])
    # The same policy, but the public IRI names no contributor.
    assert served == {
        k: v
        for k, v in doc.items()
        if k not in ("assigner", "permission", "prohibition", "obligation")
    } | {
        key: [{k: v for k, v in rule.items() if k != "assigner"} for rule in doc[key]]
        for key in ("permission", "prohibition", "obligation")
    }
    assert (URIRef(doc["uid"]), RDF.type, ODRL.Offer) in graph
    licence = licence_from_jsonld(jsonld.flatten(served), services.publication.iris)
    assert licence.to_dict() == offer["licence"]


def test_a_new_version_has_its_own_iri_and_the_old_one_still_resolves(client, people):
    owner = people["owner"]
    offer, doc = an_offer(client, owner)
    revised = client.post(
        f"/api/licences/{offer['id']}/versions",
        headers=owner.headers,
        json={"changes": {"price_minor": 700}},
    )
    assert revised.status_code == 201, revised.text
    v2 = client.get(f"/api/licences/{revised.json()['id']}/odrl", headers=owner.headers).json()
    assert v2["uid"] == doc["uid"][: -len("/v1")] + "/v2"
    assert fetch(client, doc["uid"])[0]["uid"] == doc["uid"]
    assert fetch(client, v2["uid"])[0]["uid"] == v2["uid"]


def test_unknown_licences_forged_people_and_unapproved_organisations_are_not_found(
    client, services, people
):
    _offer, doc = an_offer(client, people["owner"])
    assert client.get(urlsplit(doc["uid"]).path[: -len("/v1")] + "/v9").status_code == 404
    assert client.get("/licences/lic-nobody/v1").status_code == 404
    person = urlsplit(doc["assigner"]).path
    user_id, check = person.rsplit("/", 1)[1].split(".")
    forged = "0" * len(check) if check != "0" * len(check) else "1" * len(check)
    assert client.get(person.replace(check, forged)).status_code == 404
    other = people["other"].actor.user_id
    assert client.get(person.replace(f"/{user_id}.", f"/{other}.")).status_code == 404
    assert client.get("/parties/organisations/999999").status_code == 404


def test_the_buyer_organisation_and_the_operator_resolve_as_parties(client, services, people):
    org_id = people["buyer"].actor.org_id
    served, graph = fetch(client, services.publication.iris.organisation(str(org_id)))
    assert served["vcard:fn"] == "buyer Ltd"
    assert (URIRef(served["@id"]), RDF.type, ODRL.Party) in graph
    operator, _graph = fetch(client, services.publication.iris.operator)
    assert operator["vcard:fn"] == services.settings.operator_name


def test_the_profile_resolves_and_declares_its_terms(client, services):
    _served, graph = fetch(client, services.publication.iris.profile)
    vocab = Namespace(services.publication.iris.vocab)
    assert (vocab.deadlineAfterEvent, RDF.type, ODRL.LeftOperand) in graph
    assert (vocab.revocation, RDF.type, ODRL.RightOperand) in graph
