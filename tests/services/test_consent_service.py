"""Consent: given and withdrawn in one step each, with events, receipts and audit; a
person's export and erasure."""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from datatrust.adapters.crypto import verify_jws
from datatrust.domain.audit import AuditEvent
from datatrust.domain.consent import ConsentEvent, ConsentRecord, ConsentState, Receipt
from datatrust.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.licence import Organisation, Use
from datatrust.services.accounts import accounts
from datatrust.services.contributions import items
from datatrust.services.licensing import consent, licences
from datatrust.services.market import rights
from support import mark_listed

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def offer_for(services, persona, *, default=False):
    with services.uow() as uow:
        return licences.create_offer(
            uow,
            persona.actor,
            template="training_only",
            changes={"price_minor": 500, "valid_from": T0.isoformat()},
            make_default=default,
        )


def listed_item(services, persona, *, offer=None, title="lobby ambience"):
    with services.uow() as uow:
        item = items.receive_item(
            uow,
            services.storage,
            persona.actor,
            kind="voice",
            filename="lobby.wav",
            content_type="audio/wav",
            chunks=[b"RIFF" + title.encode() + b"\x00" * 64],
            title=title,
        )
    mark_listed(services, item.id)
    if offer is not None:
        with services.uow() as uow:
            licences.attach_offer(uow, persona.actor, offer.id, [item.id])
    return item


def give(services, persona, item_id, **kwargs):
    with services.uow() as uow:
        return consent.give_consent_for_item(uow, services.signer, persona.actor, item_id, **kwargs)


def withdraw(services, persona, item_id, **kwargs):
    with services.uow() as uow:
        return consent.withdraw_consent(uow, services.signer, persona.actor, item_id, **kwargs)


def a_training_use(at):
    return Use(
        action="train",
        purpose="model_training",
        industry="technology",
        territory="ZA",
        recipient_org=Organisation("org-1", "Lab"),
        at=at,
    )


def test_giving_consent_records_the_27560_fields_a_given_event_a_signed_receipt_and_audit(
    services, people
):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    change = give(services, owner, item.id, language="hi", at=T0 + timedelta(hours=1))

    record = change.view.record
    assert record.state is ConsentState.ACTIVE
    assert record.terms.subject_id == f"user:{owner.actor.user_id}"
    assert record.terms.notice_language == "hi"
    assert record.includes_biometric_data  # a voice
    assert "model_training" in record.terms.purposes
    assert [e.type.value for e in record.events] == ["given"]

    claims = verify_jws(change.receipt.jws, services.signer.public_jwk())
    assert claims["event"]["type"] == "given"
    assert claims["record_id"] == record.record_id
    assert claims["item"]["sha256"] == item.original_sha256
    with services.uow() as uow:
        assert uow.get(Item, item.id).consent_id == change.record.id
        assert uow.count(AuditEvent, tag="consent:give", subject_id=str(item.id)) == 1


def test_consent_without_any_licence_is_refused_and_the_default_licence_is_used(services, people):
    owner = people["owner"]
    item = listed_item(services, owner)
    with pytest.raises(InvalidInput) as caught:
        give(services, owner, item.id)
    assert caught.value.codes == ["consent.no_licence"]
    assert "no default licence" in caught.value.details["problems"][0]

    default = offer_for(services, owner, default=True)
    change = give(services, owner, item.id)
    assert change.record.offer_id == default.id


def test_consent_cannot_be_given_twice_nor_for_someone_elses_item(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    with pytest.raises(Conflict, match="already active"):
        give(services, owner, item.id)
    with pytest.raises(NotFound):
        withdraw(services, people["other"], item.id)


def test_withdrawal_followed_by_a_selection_in_the_same_second(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    moment = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    give(services, owner, item.id, at=moment - timedelta(days=1))
    with services.uow() as uow:
        before = licences.selectable_items(uow, a_training_use(moment), moment)
    assert item.id in set(before.item_ids)

    withdraw(services, owner, item.id, at=moment)
    with services.uow() as uow:
        after = licences.selectable_items(uow, a_training_use(moment), moment)  # the same second
    assert item.id not in set(after.item_ids)
    assert after.reasons["item_withdrawn"] >= 1
    assert after.reasons["consent_withdrawn"] >= 1


def test_withdrawal_marks_the_item_appends_an_event_and_receipt_and_queues_the_notice(
    services, people
):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    change = withdraw(services, owner, item.id)

    assert [e.type.value for e in change.view.record.events] == ["given", "withdrawn"]
    assert [r.event_type.value for r in change.view.receipts] == ["given", "withdrawn"]
    claims = verify_jws(change.receipt.jws, services.signer.public_jwk())
    assert claims["event"]["resulting_state"] == "withdrawn"
    with services.uow() as uow:
        assert uow.get(Item, item.id).status is ItemStatus.WITHDRAWN
        assert uow.get(ConsentRecord, change.record.id).state is ConsentState.WITHDRAWN
        assert uow.count(AuditEvent, tag="consent:withdraw", subject_id=str(item.id)) == 1
        jobs = uow.all(OutboxJob, job="consent.notify_holders")
        assert [j.payload["item_id"] for j in jobs] == [item.id]
        # What the buyers hold: the de-identified version.
        shipped = uow.get(Item, item.id).deidentified_sha256
        assert jobs[0].payload["content_sha256"] == shipped
    with pytest.raises(Conflict, match="already withdrawn"):
        withdraw(services, owner, item.id)
    with pytest.raises(Conflict, match="withdrawn"):
        give(services, owner, item.id)


class CountingUnitOfWork:
    """Counts the transactions (commits) a service call needs: one per step taken."""

    def __init__(self, inner):
        self.inner = inner
        self.commits = 0

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)

    def commit(self):
        self.commits += 1
        self.inner.commit()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_withdrawing_takes_no_more_steps_than_giving(services, people):
    """One call and one transaction each, and withdrawing asks for nothing more than
    which item: no reason, no form, no licence."""

    def required(fn):
        return [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.default is inspect.Parameter.empty
        ]

    assert required(consent.withdraw_consent) == ["uow", "signer", "actor", "item_id"]
    assert len(required(consent.withdraw_consent)) <= len(required(consent.give_consent_for_item))

    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    steps = {}
    for name, service in (
        ("give", consent.give_consent_for_item),
        ("withdraw", consent.withdraw_consent),
    ):
        with CountingUnitOfWork(services.uow()) as uow:
            service(uow, services.signer, owner.actor, item.id)
            steps[name] = uow.commits
    assert steps["withdraw"] <= steps["give"] == 1
    with services.uow() as uow:
        assert uow.get(Item, item.id).status is ItemStatus.WITHDRAWN


def test_the_notify_holders_job_records_the_holders_once_however_often_it_runs(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    seen = []

    def finder(_uow, found_item, withdrawn):
        assert withdrawn.state is ConsentState.WITHDRAWN
        seen.append(found_item.id)
        return ["org:7", "org:7"]

    services.queue.dispatch = lambda *args, **kwargs: None  # its message is lost: it waits
    change = withdraw(services, owner, item.id)
    with services.uow() as uow:
        job = uow.one(OutboxJob, job="consent.notify_holders")
        assert job.state is JobState.PENDING
        for _ in range(2):
            consent.record_holders(uow, job.payload, job.id, find_holders=finder)
        uow.commit()
    # The real handler (the revocations service's) finds the record made: nothing twice.
    assert services.run_job(job.id) == "done"
    assert services.run_job(job.id) == "skipped"
    assert seen == [item.id]
    with services.uow() as uow:
        row = uow.get(ConsentRecord, change.record.id)
        assert row.holders_notified == ["org:7"] and row.holders_notified_at is not None
        assert uow.count(AuditEvent, tag="revocation:notify", subject_id=str(item.id)) == 1


def test_my_consent_records_are_mine_alone(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    change = give(services, owner, item.id)
    with services.uow() as uow:
        assert [v.record.id for v in consent.list_my_consents(uow, owner.actor)] == [
            change.record.id
        ]
        assert consent.list_my_consents(uow, people["other"].actor) == []
        with pytest.raises(NotFound):
            consent.get_consent(uow, people["other"].actor, change.record.id)
        with pytest.raises(NotFound):
            consent.receipt_document(uow, services.signer, people["other"].actor, change.receipt.id)
        document = consent.receipt_document(uow, services.signer, owner.actor, change.receipt.id)
    assert verify_jws(document["receipt"], document["public_jwk"])["event"]["type"] == "given"


def test_export_my_data_is_a_zip_of_json_with_everything_about_me(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    with services.uow() as uow:
        data = rights.export_my_data(uow, services.storage, owner.actor, signer=services.signer)
    archive = zipfile.ZipFile(io.BytesIO(data))
    files = {name: json.loads(archive.read(name)) for name in archive.namelist()}
    assert {
        "account.json",
        "items.json",
        "licences.json",
        "consent_records.json",
        "receipts.json",
        "audit_events.json",
        "platform_key.json",
    } <= set(files)
    assert files["account.json"]["email"] == owner.email
    assert [i["id"] for i in files["items.json"]] == [item.id]
    assert files["consent_records.json"][0]["events"][0]["type"] == "given"
    receipt = files["receipts.json"][0]["receipt"]
    assert verify_jws(receipt, files["platform_key.json"])["item"]["id"] == item.id
    tags = {e["tag"] for e in files["audit_events.json"]}
    assert {"item:create", "licence:attach", "consent:give"} <= tags
    with services.uow() as uow:
        assert uow.count(AuditEvent, tag="personal_data:export") == 1


def test_after_erasure_the_original_cannot_be_read_and_sign_in_fails(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    with services.uow() as uow, pytest.raises(InvalidInput, match="confirm"):
        rights.erase_me(uow, services.storage, owner.actor, signer=services.signer, confirm="x")
    with services.uow() as uow:
        user = rights.erase_me(
            uow, services.storage, owner.actor, signer=services.signer, confirm=" Erase me "
        )
    assert user.email == f"erased-{user.id}@invalid" and user.erased_at is not None

    with services.uow() as uow, pytest.raises(NotFound):
        _, chunks = items.open_original(uow, services.storage, owner.actor, item.id)
        b"".join(chunks)
    with services.uow() as uow, pytest.raises(NotAuthenticated):
        accounts.sign_in(
            uow,
            services.hasher,
            email=owner.email,
            password="correct horse battery",
            client="ip:test",
            storage=services.storage,
            session_max_age_seconds=3600,
        )
    with services.uow() as uow, pytest.raises(NotAuthenticated):
        accounts.authenticate_token(uow, owner.token)
    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        assert stored.status is ItemStatus.WITHDRAWN and stored.title == ""
        assert stored.original_sha256 == "" and stored.fingerprints is None  # issue 14 §1
        assert stored.deidentified_sha256  # what buyers received: they delete by it
        events = uow.all(ConsentEvent, consent_id=stored.consent_id, order_by="seq")
        assert [e.type.value for e in events] == ["given", "withdrawn"]
        assert uow.count(Receipt, consent_id=stored.consent_id) == 2
        tags = [e.tag for e in uow.all(AuditEvent, subject_id=str(user.id), subject_type="user")]
        assert "key:destroy" in tags and "account:erase" in tags
