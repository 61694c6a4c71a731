"""Issue 16, done-when: one likeness licence end to end. An actor offers their face and
voice for Hindi social-media adverts ("no politics, no alcohol, no tobacco, no porn"),
reads the offer explained in Hindi with its money and risks, and a matching and a
non-matching replica use are judged. The money the explanation states is what a
purchase then charges and pays.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from test_seed_story import WALK, buyer, listed_item

from datatrust.adapters.payments import FakeCardRail
from datatrust.domain.clock import utcnow
from datatrust.domain.licence import Licence
from datatrust.domain.money import Money
from datatrust.domain.orders import unit_pay
from datatrust.services import money

DESCRIPTION = "Sunrise Tea adverts on Instagram and YouTube, in Hindi, with my face and voice"
LIKENESS = {
    "template": "voice_library",
    "changes": {
        "title": "मेरा चेहरा और आवाज़: चाय के विज्ञापन",
        "price_minor": 40_000,
        "currency": "INR",
        "permitted_purposes": ["advertising", "media_production"],
        "prohibited_purposes": [],
        "permitted_actions": ["create_replica", "display"],
        "prohibited_uses": ["impersonation", "biometric_identification", "sexual_content"],
        "prohibited_industries": [
            "political_campaigning",
            "alcohol",
            "tobacco",
            "adult_content",
            "surveillance",
        ],
        "replica_use_description": DESCRIPTION,
        "replica_media": ["full_likeness"],
        "replica_languages": ["hi"],
        "replica_categories": ["advertising"],
        "replica_channels": ["social_media"],
        "withdrawal_notice_days": 90,
    },
}


def import_odrl(document: dict, iris) -> Licence:
    """The licence in an ODRL document, read by meaning (PyLD flattens, then the importer)."""
    from datatrust.adapters import jsonld
    from datatrust.domain.odrl import licence_from_jsonld

    return licence_from_jsonld(jsonld.flatten(document), iris)


def rdf_round_trip(document: dict) -> str:
    """The document as rdflib reads it and writes it back as JSON-LD."""
    from rdflib import Graph

    from datatrust.adapters import jsonld

    graph = Graph()
    graph.parse(data=json.dumps(jsonld.expand(document)), format="json-ld")
    return graph.serialize(format="json-ld")


def advert(industry="retail", **replica) -> dict:
    start = utcnow().replace(microsecond=0)
    return {
        "action": "create_replica",
        "purpose": "advertising",
        "industry": industry,
        "territory": "IN",
        "task": "face_generation",
        "outputs": ["person_likeness", "person_voice"],
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=60)).isoformat(),
        "replica": {
            "languages": ["hi"],
            "category": "advertising",
            "channels": ["social_media"],
            **replica,
        },
    }


def test_a_likeness_licence_end_to_end_explained_in_hindi(client, services, people, capsys):
    actor = people["owner"]
    item = listed_item(services, actor, WALK, "my face")
    valid_from = (utcnow() - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    body = {**LIKENESS, "changes": {**LIKENESS["changes"], "valid_from": valid_from}}
    offer = client.post("/api/licences", headers=actor.headers, json=body)
    assert offer.status_code == 201, offer.text
    given = client.post(
        f"/api/items/{item.id}/consent",
        headers=actor.headers,
        json={"offer_id": offer.json()["id"]},
    )
    assert given.status_code == 201, given.text

    # 1. The offer explained in Hindi: every sentence Hindi, the description as written.
    explained = client.get(
        f"/api/licences/{offer.json()['id']}/explain?lang=hi", headers=actor.headers
    ).json()
    sentences = explained["sentences"]
    for sentence in sentences:
        shown = sentence.replace(DESCRIPTION, "")
        assert not re.search(r"[A-Za-z]{3,}", shown.replace("US$", "")), sentence
    text = "\n".join(sentences)
    assert f"“{DESCRIPTION}” (योगदानकर्ता के अपने शब्द, जैसे लिखे गए वैसे ही)" in text
    assert "“मेरा चेहरा और आवाज़: चाय के विज्ञापन”" in text  # the actor's own title, as written
    assert "आपकी पूरी छवि (आवाज़ और चेहरा)" in text and "हिन्दी" in text
    assert "90 दिन" in text
    assert {
        "allows_digital_replica",
        "allows_voice_cloning",
        "allows_face_avatar",
        "public_display",
        "withdrawal_notice",
    } <= set(explained["risks"])
    # 2. The money stated is the money a sale charges and pays (the same functions).
    terms = Licence.from_dict(
        client.get(f"/api/licences/{offer.json()['id']}", headers=actor.headers).json()["licence"]
    )
    pay = unit_pay(terms, services.policy.platform_fee_percent)
    assert pay.paid.minor == 53_083  # ceil((40,000 + 90 days' notice 2,466) / 0.8)
    assert pay.paid.minor == pay.platform.minor + pay.share.minor
    # 3. The same offer in ODRL carries the whole replica grant and the notice, and reads
    #    back as these terms through PyLD (the importer's flattening) and through rdflib.
    exported = client.get(f"/api/licences/{offer.json()['id']}/odrl", headers=actor.headers)
    odrl = exported.json()
    [grant] = [rule for rule in odrl["permission"] if rule["action"] == "use"]
    operands = {c["leftOperand"]: c["rightOperand"] for c in grant["constraint"]}
    assert operands["language"] == [{"@value": "hi", "@type": "xsd:language"}]
    assert operands["deliveryChannel"] == [{"@id": "dt:replicaChannel/social_media"}]
    assert operands["dt:replicaMedium"] == [{"@id": "dt:replicaMedium/full_likeness"}]
    assert "P90D" in exported.text and "delayPeriod" in exported.text
    iris = services.publication.iris
    assert import_odrl(odrl, iris) == terms
    assert import_odrl(json.loads(rdf_round_trip(odrl)), iris) == terms

    studio, _ = buyer(services, people, "studio", ["advertising"], ["retail"])
    with services.uow() as uow:  # the studio pays in rupees
        money.deposit_buyer_funds(
            uow, FakeCardRail(), studio.actor, Money(10_000_000, "INR"), "studio-topup"
        )

    # 3. A matching replica use: selected, bought, charged exactly the stated figures.
    matching = client.post("/api/buyers/orders", headers=studio.headers, json=advert()).json()
    assert matching["selected"] == 1, matching
    assert matching["quote"]["currencies"]["INR"]["total_minor"] == pay.paid.minor
    bought = client.post(f"/api/buyers/orders/{matching['id']}/purchase", headers=studio.headers)
    assert bought.status_code == 200, bought.text
    [agreement] = bought.json()["agreements"]
    assert agreement["contributor_share_minor"] == pay.share.minor

    # 4. A non-matching use: the same advert in English on television.
    english_tv = advert(languages=["en"], channels=["broadcast_tv"])
    refused = client.post("/api/buyers/orders", headers=studio.headers, json=english_tv).json()
    assert refused["selected"] == 0
    assert refused["reasons"] == {
        "replica_channel_not_granted": 1,
        "replica_language_not_granted": 1,
    }

    with capsys.disabled():
        print("\n--- likeness walk-through (Hindi) ---")
        print("\n".join(f"{'⚠ ' if f['risk'] else ''}{f['text']}" for f in explained["flagged"]))
        print("matching:", matching["selected"], "selected; quote", matching["quote"]["currencies"])
        print("non-matching:", refused["reasons"])
