"""Consent receipts as ISO/IEC TS 27560 records in JSON-LD with DPV, read with rdflib;
a new receipt when the recipients change; verification through the published key set,
across a key rotation, for receipts and audit checkpoints alike."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rdflib import Graph, Namespace, URIRef
from test_consent_service import T0, listed_item, offer_for  # sibling module

from datatrust.adapters import jsonld
from datatrust.adapters.crypto import Ed25519Signer, verify_jwks
from datatrust.domain.consent import Receipt
from datatrust.domain.errors import InvalidInput
from datatrust.services.jobs import JobContext
from datatrust.services.licensing import consent
from datatrust.services.trust import audit

DPV = Namespace("https://w3id.org/dpv#")
DPV_AI = Namespace("https://w3id.org/dpv/ai#")
LOC = Namespace("https://w3id.org/dpv/loc#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")


@pytest.fixture
def operator_identity(services):
    services.settings.operator_name = "Ubuntu Data Trust"
    services.settings.operator_email = "privacy@trust.example"
    services.settings.privacy_policy_url = "https://trust.example/privacy"


def give(services, persona, item_id):
    with services.uow() as uow:
        return consent.give_consent_for_item(
            uow,
            services.signer,
            persona.actor,
            item_id,
            at=T0 + timedelta(hours=1),
            publication=services.publication,
        )


def graph_of(claims):
    graph = Graph()
    graph.parse(data=json.dumps(jsonld.expand(claims)), format="json-ld")
    return graph


def test_a_receipt_is_a_27560_record_with_every_field_in_json_ld_with_dpv(
    services, people, operator_identity
):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    change = give(services, owner, item.id)
    claims = services.signer.verify(change.receipt.jws)

    iris = services.publication.iris
    assert claims["iss"] == claims["issuer"] == iris.base
    assert claims["jwks_uri"] == iris.base + "/.well-known/jwks.json"
    assert claims["collection_method"].startswith("explicit action")
    assert claims["policy_url"] == "https://trust.example/privacy"
    (controller,) = claims["pii_controllers"]
    assert controller == {
        "@id": iris.operator,
        "name": "Ubuntu Data Trust",
        "contact": "mailto:privacy@trust.example",
    }
    assert claims["pii_principal"] == services.publication.person(owner.actor.user_id)
    assert claims["licence"] == iris.licence(*change.view.record.terms.licence_id.split("/v"))
    assert claims["sensitive"] is True and claims["spi_categories"]  # a voice is biometric
    assert claims["recipient_parties"] == []
    for purpose in claims["purpose_consents"]:
        assert purpose["consent_type"] == str(DPV.ExplicitlyExpressedConsent)
        assert purpose["termination"].startswith("until withdrawn")
        assert purpose["third_party_disclosure"] is False

    graph = graph_of(claims)
    receipt = URIRef(claims["@id"])
    assert (receipt, DPV.hasPurpose, DPV_AI.ModelTraining) in graph
    assert (receipt, DPV.hasConsentStatus, DPV.ConsentGiven) in graph
    assert (receipt, DPV.hasDataController, URIRef(iris.operator)) in graph
    assert (URIRef(iris.operator), VCARD.hasEmail, URIRef("mailto:privacy@trust.example")) in graph
    assert (receipt, DPV.hasPolicy, URIRef("https://trust.example/privacy")) in graph
    legal_bases = set(graph.objects(None, DPV.hasLegalBasis))
    assert legal_bases == {DPV.ExplicitlyExpressedConsent}


def test_a_sale_issues_a_new_receipt_naming_the_buyer_and_only_once(services, people):
    owner, buyer = people["owner"], people["buyer"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    payload = {"org_id": buyer.actor.org_id, "item_ids": [item.id]}
    for attempt in (1, 2):  # a job may run twice
        with services.uow() as uow:
            consent.reissue_for_recipients(uow, payload, JobContext(1, attempt, services))
            uow.commit()
    with services.uow() as uow:
        receipts = uow.all(Receipt, owner_id=owner.actor.user_id, order_by="id")
    assert len(receipts) == 2
    latest = services.signer.verify(receipts[-1].jws)
    org = services.publication.iris.organisation(str(buyer.actor.org_id))
    assert latest["recipient_parties"] == [{"@id": org, "name": "buyer Ltd"}]
    assert latest["recipients"] == [str(buyer.actor.org_id)]
    assert all(p["third_party_disclosure"] for p in latest["purpose_consents"])
    assert (URIRef(latest["@id"]), DPV.hasRecipient, URIRef(org)) in graph_of(latest)
    first = services.signer.verify(receipts[0].jws)
    assert first["recipient_parties"] == [] and first["event"] == latest["event"]


def test_receipts_and_checkpoints_signed_before_a_key_rotation_still_verify(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    old_signer = services.signer
    old_receipt = give(services, owner, item.id).receipt
    with services.uow(read_only=True) as uow:
        old_checkpoint = audit.sign_checkpoint(uow, old_signer)

    # The rotation: a new key signs, the old one is published as retired.
    new_signer = Ed25519Signer(Ed25519PrivateKey.generate()).with_retired([old_signer.public_jwk()])
    services.signer = new_signer
    published = new_signer.jwks()
    assert [k["kid"] for k in published["keys"]] == [
        new_signer.public_jwk()["kid"],
        old_signer.public_jwk()["kid"],
    ]
    assert new_signer.verify(old_receipt.jws)["event"]["type"] == "given"
    assert verify_jwks(old_checkpoint.jws, published)["head"] == old_checkpoint.checkpoint.head
    held = audit.read_checkpoint(json.dumps(old_checkpoint.document()), new_signer.verify)
    assert held == old_checkpoint.checkpoint
    with services.uow() as uow:
        document = consent.receipt_document(uow, new_signer, owner.actor, old_receipt.id)
    assert document["public_jwk"]["kid"] == old_signer.public_jwk()["kid"]

    # New receipts are signed by the new key only.
    other = listed_item(services, owner, offer=offer_for(services, owner), title="second")
    new_receipt = give(services, owner, other.id).receipt
    assert new_receipt.kid == new_signer.public_jwk()["kid"] != old_receipt.kid
    with pytest.raises(InvalidInput, match="does not hold"):
        verify_jwks(new_receipt.jws, old_signer.jwks())


def test_a_retired_key_cannot_sign_and_an_unknown_key_id_is_refused(services):
    old = Ed25519Signer(Ed25519PrivateKey.generate())
    with pytest.raises(ValueError, match="retired key cannot sign"):
        old.with_retired([old.public_jwk()])
    stranger = Ed25519Signer(Ed25519PrivateKey.generate())
    with pytest.raises(InvalidInput, match="which the key set does not hold"):
        services.signer.verify(stranger.sign({"record_id": "forged"}))


def test_the_command_verifies_a_receipt_of_a_retired_key_with_the_published_key_set(
    services, people, tmp_path
):
    from typer.testing import CliRunner

    from datatrust.cli import app

    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    old_signer = services.signer
    receipt = give(services, owner, item.id).receipt
    rotated = Ed25519Signer(Ed25519PrivateKey.generate()).with_retired([old_signer.public_jwk()])
    (tmp_path / "receipt.jws").write_text(receipt.jws)
    (tmp_path / "jwks.json").write_text(json.dumps(rotated.jwks()))
    runner = CliRunner()
    args = ["consent", "verify-receipt", str(tmp_path / "receipt.jws")]
    result = runner.invoke(app, [*args, "--key", str(tmp_path / "jwks.json")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kid"] == old_signer.public_jwk()["kid"]
    (tmp_path / "other.json").write_text(
        json.dumps(Ed25519Signer(Ed25519PrivateKey.generate()).jwks())
    )
    result = runner.invoke(app, [*args, "--key", str(tmp_path / "other.json")])
    assert result.exit_code == 1
    assert "does not hold" in json.loads(result.output)["problem"]


def test_withdrawal_and_erasure_receipts_are_27560_records_with_the_withdrawn_status(
    services, people
):
    from datatrust.services.market import rights

    owner = people["owner"]
    offer = offer_for(services, owner)
    first = listed_item(services, owner, offer=offer)
    second = listed_item(services, owner, offer=offer, title="second")
    give(services, owner, first.id)
    give(services, owner, second.id)
    with services.uow() as uow:
        withdrawn = consent.withdraw_consent(
            uow, services.signer, owner.actor, first.id, publication=services.publication
        )
    with services.uow() as uow:
        rights.erase_me(
            uow,
            services.storage,
            owner.actor,
            signer=services.signer,
            confirm=rights.ERASE_CONFIRMATION,
            publication=services.publication,
        )
    with services.uow() as uow:
        last = uow.all(Receipt, owner_id=owner.actor.user_id, order_by="id")[-1]
    for receipt in (withdrawn.receipt, last):
        claims = services.signer.verify(receipt.jws)
        assert claims["consent_status"] == str(DPV.ConsentWithdrawn)
        assert claims["pii_controllers"][0]["@id"] == services.publication.iris.operator
