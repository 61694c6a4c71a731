"""Giving consent again after a withdrawal (issue 18 §4): a NEW consent record under a
licence chosen as for a first consent, with the same checks; the old record and its
withdrawal stay in the history and the passport; the item returns to the status it had
and is selectable again only under the new terms. An item withdrawn before its checks
finished is checked again, as a fresh upload, and ends accepted (then offered) or
rejected; one deleted or rejected, or one to check again whose original is gone, can
never be offered again, each with its own coded problem."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_auto_approve import opened_campaign
from test_consent_service import T0, a_training_use, give, listed_item, offer_for, withdraw

import ingest_media as media
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import utcnow
from datatrust.domain.consent import ConsentRecord, ConsentState, LicenceOffer, OfferStatus
from datatrust.domain.errors import Conflict, NotFound
from datatrust.domain.items import Item, ItemStatus, ReviewState
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.services import market
from datatrust.services.campaigns import campaigns
from datatrust.services.licensing import consent, licences
from datatrust.services.market import rights
from datatrust.services.trust import item_passport
from support import withdrawn_while_being_checked


def give_again(services, persona, item_id, **kwargs):
    with services.uow() as uow:
        return consent.give_consent_again(
            uow,
            services.signer,
            persona.actor,
            item_id,
            storage=services.storage,
            keep_in_notice=market.keep_buyers_in_notice,
            **kwargs,
        )


def selectable(services, at) -> set[int]:
    with services.uow() as uow:
        return set(licences.selectable_items(uow, a_training_use(at), at).item_ids)


def test_consent_given_again_is_a_new_record_and_the_item_returns_under_the_new_terms(
    services, people
):
    owner = people["owner"]
    first = offer_for(services, owner)
    item = listed_item(services, owner, offer=first)
    given = give(services, owner, item.id, at=T0 + timedelta(hours=1))
    withdraw(services, owner, item.id, at=T0 + timedelta(hours=2))
    later = T0 + timedelta(days=2)
    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        assert (stored.status, stored.withdrawn_from) == (ItemStatus.WITHDRAWN, ItemStatus.LISTED)
    assert item.id not in selectable(services, later)

    second = offer_for(services, owner)  # another licence, chosen for the new consent
    again = give_again(services, owner, item.id, offer_id=second.id, language="zu", at=later)

    assert again.record.id != given.record.id
    assert again.record.offer_id == second.id and again.record.state is ConsentState.ACTIVE
    assert [e.type.value for e in again.record.events] == ["given"]
    assert [r.event_type.value for r in again.view.receipts] == ["given"]
    assert again.record.terms.notice_language == "zu"
    with services.uow() as uow:
        old = uow.get(ConsentRecord, given.record.id)  # kept, withdrawn, with its receipts
        assert old.state is ConsentState.WITHDRAWN
        assert [e.type.value for e in old.events] == ["given", "withdrawn"]
        stored = uow.get(Item, item.id)
        assert stored.status is ItemStatus.LISTED and stored.withdrawn_from is None
        assert stored.consent_id == again.record.id and stored.licence_id == second.id
        assert (stored.consent_offer_id, stored.consent_state) == (second.id, ConsentState.ACTIVE)
        [logged] = uow.all(AuditEvent, tag="consent:give_again", subject_id=str(item.id))
        assert logged.data["previous_consent_id"] == given.record.id
        assert logged.data["consent_id"] == again.record.id
        assert logged.data["status"] == "listed"
        passport = item_passport(uow, owner.actor, item.id)
    assert item.id in selectable(services, later)
    steps = [e["step"] for e in passport["events"]]
    assert steps.index("consent given") < steps.index("withdrawn")
    assert steps.index("withdrawn") < steps.index("consent given again")

    # Withdrawn again: the new record is withdrawn, the old one untouched.
    withdraw(services, owner, item.id, at=later + timedelta(hours=1))
    assert item.id not in selectable(services, later + timedelta(hours=2))
    with services.uow() as uow:
        assert uow.get(ConsentRecord, again.record.id).state is ConsentState.WITHDRAWN
        assert len(uow.get(ConsentRecord, given.record.id).events) == 2


def test_an_item_waiting_for_review_returns_to_waiting_not_to_listed(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    with services.uow() as uow:
        uow.get(Item, item.id).status = ItemStatus.ACCEPTED  # accepted, not yet reviewed
        uow.commit()
    give(services, owner, item.id)
    withdraw(services, owner, item.id)
    give_again(services, owner, item.id)  # the item's own licence, as a first consent
    with services.uow() as uow:
        assert uow.get(Item, item.id).status is ItemStatus.ACCEPTED
    assert item.id not in selectable(services, T0 + timedelta(days=2))  # still not listed


def test_consent_again_takes_the_same_licence_checks_as_a_first_consent(services, people):
    owner = people["owner"]
    offer = offer_for(services, owner)
    item = listed_item(services, owner, offer=offer)
    give(services, owner, item.id)
    withdraw(services, owner, item.id)
    with services.uow() as uow:
        uow.get(LicenceOffer, offer.id).status = OfferStatus.REPLACED
        uow.commit()
    with pytest.raises(Conflict) as caught:
        give_again(services, owner, item.id)  # the item's licence was replaced meanwhile
    assert caught.value.codes == ["licence.replaced"]
    someone_elses = offer_for(services, people["other"])
    with pytest.raises(NotFound):
        give_again(services, owner, item.id, offer_id=someone_elses.id)
    with pytest.raises(NotFound):  # nor for someone else's item
        give_again(services, people["other"], item.id, offer_id=someone_elses.id)
    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        assert stored.status is ItemStatus.WITHDRAWN and stored.withdrawn_from is ItemStatus.LISTED
        assert uow.count(ConsentRecord, item_id=item.id) == 1


def test_a_first_consent_is_refused_for_a_withdrawn_item_pointing_to_consent_again(
    services, people
):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    with pytest.raises(Conflict) as caught:
        give_again(services, owner, item.id)  # nothing withdrawn yet
    assert caught.value.codes == ["consent_again.not_withdrawn"]
    withdraw(services, owner, item.id)
    with pytest.raises(Conflict) as caught:
        give(services, owner, item.id)
    assert caught.value.codes == ["consent.withdrawn_give_again"]


@pytest.mark.parametrize("before_0031", [False, True])
def test_a_rejected_item_is_never_offered_again(services, people, before_0031):
    """Rejected by its checks, then withdrawn; or withdrawn before migration 0031, which
    left ``withdrawn_from`` empty, its report saying it was rejected."""
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        stored.status = ItemStatus.REJECTED
        stored.report = {**stored.report, "verdict": "rejected"}
        uow.commit()
    withdraw(services, owner, item.id)
    if before_0031:
        with services.uow() as uow:
            uow.get(Item, item.id).withdrawn_from = None
            uow.commit()
    with pytest.raises(Conflict) as caught:
        give_again(services, owner, item.id)
    assert caught.value.codes == ["consent_again.rejected"]
    with services.uow() as uow:
        assert uow.get(Item, item.id).status is ItemStatus.WITHDRAWN
        assert uow.count(ConsentRecord, item_id=item.id) == 1


def steps_of(services, persona, item_id) -> list[str]:
    with services.uow() as uow:
        return [e["step"] for e in item_passport(uow, persona.actor, item_id)["events"]]


def test_an_item_withdrawn_while_being_checked_is_checked_again_and_offered_once_it_passes(
    services, people
):
    """The job runs for real (drained after commit): consent given again puts the item
    back in "being checked", its processing job runs again, the pipeline accepts it into
    its campaign's review, and once the review window passes it is listed and on offer
    under the new consent."""
    owner = people["owner"]
    campaign = opened_campaign(services, people, review_window_days=7)
    item = withdrawn_while_being_checked(
        services, owner, media.photo(seed=5), campaign_id=campaign.id
    )

    again = give_again(services, owner, item.id)

    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        assert stored.status is ItemStatus.ACCEPTED, stored.report.get("reasons")
        assert stored.review_state is ReviewState.WAITING and stored.deidentified_key
        assert stored.consent_id == again.record.id and stored.withdrawn_from is None
        key = f"item.process:{item.id}:consent:{again.record.id}"
        assert uow.one(OutboxJob, idempotency_key=key).state is JobState.DONE
        [logged] = uow.all(AuditEvent, tag="consent:give_again", subject_id=str(item.id))
        assert logged.data["status"] == "received"
    steps = steps_of(services, owner, item.id)
    after = steps[steps.index("consent given again") :]
    recheck = ["being checked again, as a new upload is", "processed", "accepted"]
    assert after[:4] == ["consent given again", *recheck]
    assert steps.index("withdrawn") < steps.index("consent given again")
    assert item.id not in selectable(services, utcnow() + timedelta(hours=1))  # in review

    with services.uow() as uow:
        assert campaigns.settle_overdue_reviews(uow, utcnow() + timedelta(days=8)) == 1
    with services.uow() as uow:
        assert uow.get(Item, item.id).status is ItemStatus.LISTED
    assert item.id in selectable(services, utcnow() + timedelta(hours=1))


@pytest.mark.parametrize("before_0031", [False, True])
def test_an_item_checked_again_that_fails_its_checks_is_rejected_with_its_reasons(
    services, people, before_0031
):
    """Its checks fail as a fresh upload's would (here: not a picture at all). Withdrawn
    before migration 0031, an item without a de-identified version has no
    ``withdrawn_from`` either, and is checked again the same way."""
    owner = people["owner"]
    item = withdrawn_while_being_checked(services, owner, b"not a picture at all " * 40)
    if before_0031:
        with services.uow() as uow:
            uow.get(Item, item.id).withdrawn_from = None
            uow.commit()

    give_again(services, owner, item.id)

    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        assert stored.status is ItemStatus.REJECTED
        assert stored.report["verdict"] == "rejected" and stored.report["reasons"]
    steps = steps_of(services, owner, item.id)
    assert steps[-3:] == ["being checked again, as a new upload is", "processed", "rejected"]


def test_an_item_to_check_again_whose_original_is_gone_is_refused_in_words(services, people):
    owner = people["owner"]
    item = withdrawn_while_being_checked(services, owner, media.photo(seed=6))
    services.storage.store.delete(item.original_key)
    with pytest.raises(Conflict) as caught:
        give_again(services, owner, item.id)
    assert caught.value.codes == ["consent_again.original_gone"]
    with services.uow() as uow:
        stored = uow.get(Item, item.id)
        assert (stored.status, stored.withdrawn_from) == (
            ItemStatus.WITHDRAWN,
            ItemStatus.RECEIVED,
        )
        assert uow.count(ConsentRecord, item_id=item.id) == 1
        assert uow.count(OutboxJob, job="item.process") == 1


def test_a_deleted_item_is_never_offered_again(services, people):
    owner = people["owner"]
    item = listed_item(services, owner, offer=offer_for(services, owner))
    give(services, owner, item.id)
    with services.uow() as uow:
        rights.delete_my_item(uow, services.storage, owner.actor, item.id, signer=services.signer)
    with pytest.raises(Conflict) as caught:
        give_again(services, owner, item.id)
    assert caught.value.codes == ["consent_again.erased"]
