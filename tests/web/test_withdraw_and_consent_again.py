"""Withdrawal through the pages takes a confirmation that states its effect (issue 18 §4):
"Withdraw consent" on the item leads to a page saying, in the reader's language, that the
item leaves every future sale at once, how many buyers holding a copy are told to delete
it and within how many days, and that money already paid stays; its button withdraws.
The API still withdraws in one call."""

from __future__ import annotations

from datetime import timedelta

from test_feed_protocol import make_holder
from test_seed_story import TRAINING, buyer, fund, year_of_use

import ingest_media as media
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import utcnow
from datatrust.domain.consent import ConsentRecord
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.jobs import OutboxJob
from datatrust.domain.orders import AgreementRow, Order
from datatrust.domain.snapshots import Revocation, Snapshot
from datatrust.services.market.revocations import check_deadlines
from support import withdrawn_while_being_checked


def test_the_withdrawal_confirmation_counts_the_buyers_told_to_delete_in_each_language(
    client, services, people
):
    trainer, walk, _park = make_holder(client, services, people)
    owner = people["owner"].headers
    item_url = f"/my/items/{walk.id}"
    item = client.get(f"{item_url}?lang=en", headers=owner).text
    # The item's page leads to the confirmation; it does not withdraw by itself.
    assert f'href="{item_url}/withdraw"' in item
    assert f'action="{item_url}/withdraw"' not in item

    confirm = client.get(f"{item_url}/withdraw?lang=en", headers=owner)
    assert confirm.status_code == 200
    assert (
        "Withdrawing takes it out of every future sale at once. Buyers that hold a copy (1) "
        "are told to delete it within 30 days. Money already paid stays yours."
    ) in confirm.text
    hindi = client.get(f"{item_url}/withdraw?lang=hi", headers=owner).text
    assert "जिन खरीदारों के पास इसकी कॉपी है (1)" in hindi and "30 दिनों" in hindi
    assert "Withdraw" not in hindi  # every word in Hindi
    zulu = client.get(f"{item_url}/withdraw?lang=zu", headers=owner).text
    assert "Abathengi abanekhophi yayo (1)" in zulu and "ezingu-30" in zulu
    with services.uow() as uow:  # reading the confirmation withdrew nothing
        assert uow.all(Revocation, item_id=walk.id) == []

    done = client.post(
        f"{item_url}/withdraw",
        headers=owner,  # a bearer token is no ambient credential: no CSRF token needed
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == item_url
    with services.uow() as uow:
        [notice] = uow.all(Revocation, item_id=walk.id)
    assert notice.org_id == trainer.actor.org_id


def test_another_persons_withdrawal_confirmation_is_not_found(client, services, people):
    _trainer, walk, _park = make_holder(client, services, people)
    other = client.get(f"/my/items/{walk.id}/withdraw", headers=people["other"].headers)
    assert other.status_code == 404


def test_consent_given_again_through_the_pages_never_undoes_a_buyers_deletion_duty(
    client, services, people
):
    """A buyer holds the walk; its contributor withdraws, then gives consent again from
    the item's page, choosing the licence as for a first consent. The buyer's notice
    stands, its old snapshot stays refused, the old order's next build drops the walk,
    and the passport says "consent given again" in the reader's language."""
    trainer, walk, _park = make_holder(client, services, people)
    owner = people["owner"].headers
    item_url = f"/my/items/{walk.id}"
    assert client.delete(f"/api/items/{walk.id}/consent", headers=owner).status_code == 200
    [snapshot] = client.get("/api/buyers/snapshots", headers=trainer.headers).json()
    files = client.get(f"/api/buyers/snapshots/{snapshot['id']}", headers=trainer.headers).json()
    urls = [meta["url"] for meta in files["downloads"]["files"].values()]
    assert {client.get(url).status_code for url in urls} == {403}  # revoked for the buyer

    with services.uow() as uow:
        licence_id = uow.get(Item, walk.id).licence_id
    withdrawn = client.get(f"{item_url}?lang=en", headers=owner).text
    assert f'href="{item_url}/consent"' in withdrawn and "Give consent again" in withdrawn
    page = client.get(f"{item_url}/consent?lang=en", headers=owner)
    assert page.status_code == 200
    assert "buyers already told to delete it must still delete it" in page.text
    assert f'value="{licence_id}" checked' in page.text  # its own licence, chosen
    assert f'action="{item_url}/consent/again"' in page.text
    for lang, words in (("hi", "फिर से सहमति दें"), ("zu", "Phinda unikeze imvume")):
        translated = client.get(f"{item_url}/consent?lang={lang}", headers=owner).text
        assert words in translated and "Give consent again" not in translated
    client.get(f"{item_url}?lang=en", headers=owner)

    given = client.post(
        f"{item_url}/consent/again",
        headers=owner,
        data={"offer_id": str(licence_id)},
        follow_redirects=False,
    )
    assert given.status_code == 303 and given.headers["location"] == item_url
    item = client.get(item_url, headers=owner).text
    assert "Consent given" in item and 'data-status="listed"' in item

    with services.uow() as uow:
        [notice] = uow.all(Revocation, item_id=walk.id)  # the duty stands, unattested
    assert notice.attested_at is None and notice.org_id == trainer.actor.org_id
    assert {client.get(url).status_code for url in urls} == {403}
    [order] = client.get("/api/buyers/orders", headers=trainer.headers).json()
    rebuilt = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    assert rebuilt.status_code == 201, rebuilt.text
    assert rebuilt.json()["items"] == 1  # the park only
    dropped = rebuilt.json()["dropped"][str(walk.id)]
    assert {"revoked", "no_consent_for_agreed_licence"} <= set(dropped)

    # Never sold again to the buyer that must delete it; on offer to others, under the
    # new consent.
    trainers = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    )
    assert trainers.status_code == 201, trainers.text
    assert trainers.json()["reasons"].get("told_to_delete") == 1
    second, _org = buyer(services, people, "second", ["model_training"], ["technology"])
    seconds = client.post(
        "/api/buyers/orders", headers=second.headers, json={**TRAINING, **year_of_use()}
    )
    assert seconds.status_code == 201, seconds.text
    assert "told_to_delete" not in seconds.json()["reasons"]
    with services.uow() as uow:
        assert walk.id not in uow.get(Order, trainers.json()["id"]).item_ids
        assert walk.id in uow.get(Order, seconds.json()["id"]).item_ids

    passport = client.get(f"{item_url}/passport?lang=hi", headers=owner).text
    assert "सहमति फिर से दी गई" in passport
    again = client.post(f"/api/items/{walk.id}/consent/again", headers=owner)
    assert again.status_code == 409 and "consent_again.not_withdrawn" in again.text


def test_consent_again_through_the_api_is_one_call_and_a_deleted_item_is_refused(
    client, services, people
):
    _trainer, walk, park = make_holder(client, services, people)
    owner, other = people["owner"].headers, people["other"].headers
    assert client.delete(f"/api/items/{walk.id}/consent", headers=owner).status_code == 200
    refused = client.post(f"/api/items/{walk.id}/consent", headers=owner)  # a first consent
    assert refused.status_code == 409 and "consent.withdrawn_give_again" in refused.text
    assert client.post(f"/api/items/{walk.id}/consent/again", headers=other).status_code == 404
    given = client.post(f"/api/items/{walk.id}/consent/again", headers=owner, json={})
    assert given.status_code == 201, given.text
    out = given.json()["consent"]
    assert out["state"] == "active" and [e["type"] for e in out["events"]] == ["given"]

    deleted = client.post(f"/my/items/{park.id}/delete", headers=other, follow_redirects=False)
    assert deleted.status_code == 303
    gone = client.post(f"/api/items/{park.id}/consent/again", headers=other)
    assert gone.status_code == 409 and "consent_again.erased" in gone.text
    # Its page offers nothing to give: the consent page sends the reader back.
    page = client.get(f"/my/items/{park.id}/consent", headers=other, follow_redirects=False)
    assert page.status_code == 303


def _buy_and_build(client, persona) -> dict:
    """``persona``'s buyer orders the training use, buys and builds: the built snapshot."""
    order = client.post(
        "/api/buyers/orders", headers=persona.headers, json={**TRAINING, **year_of_use()}
    )
    assert order.status_code == 201, order.text
    bought = client.post(
        f"/api/buyers/orders/{order.json()['id']}/purchase", headers=persona.headers
    )
    assert bought.status_code in (200, 201), bought.text
    built = client.post(
        f"/api/buyers/orders/{order.json()['id']}/snapshots", headers=persona.headers
    )
    assert built.status_code == 201, built.text
    return order.json() | {"built": built.json()}


def test_consent_given_again_before_the_notice_job_runs_neither_cancels_nor_duplicates_it(
    client, services, people
):
    """The race of issue 18: withdraw, give consent again at once (the job that tells the
    holding buyer has not run), a second buyer buys the item under the new consent, then
    the job runs. The buyer that held it under the old consent is told exactly once, as a
    withdrawal; the second buyer is not told; the old agreement stays dead, the new
    consent alone offers the item, and the first buyer cannot buy it afresh meanwhile."""
    trainer, walk, _park = make_holder(client, services, people)
    owner = people["owner"].headers
    with services.uow() as uow:
        old_consent = uow.get(Item, walk.id).consent_id
    dispatch, held = services.queue.dispatch, []
    services.queue.dispatch = lambda outbox_id, delay_seconds=0: held.append(outbox_id)
    assert client.delete(f"/api/items/{walk.id}/consent", headers=owner).status_code == 200
    again = client.post(f"/api/items/{walk.id}/consent/again", headers=owner, json={})
    assert again.status_code == 201, again.text  # at once: no waiting for the job
    services.queue.dispatch = dispatch
    with services.uow() as uow:
        [job] = uow.all(OutboxJob, job="consent.notify_holders")
        assert job.id in held and job.payload["consent_id"] == old_consent
        assert uow.all(Revocation, item_id=walk.id) == []  # nobody told yet
        assert uow.get(Item, walk.id).status is ItemStatus.LISTED

    # Meanwhile the first buyer cannot buy the item afresh: it must delete it.
    quote = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    )
    assert quote.status_code == 201, quote.text
    assert quote.json()["reasons"].get("told_to_delete") == 1
    with services.uow() as uow:
        assert walk.id not in uow.get(Order, quote.json()["id"]).item_ids
    second, _org = buyer(services, people, "second", ["model_training"], ["technology"])
    fund(services, second)
    bought = _buy_and_build(client, second)  # under the new consent
    assert bought["built"]["items"] >= 1
    with services.uow() as uow:
        assert walk.id in uow.get(Order, bought["id"]).item_ids

    for outbox_id in held:  # the withdrawal's jobs run now, twice for good measure
        services.run_job(outbox_id)
    assert services.run_job(job.id) == "skipped"
    with services.uow() as uow:
        [notice] = uow.all(Revocation, item_id=walk.id)
        assert (notice.org_id, notice.reason) == (trainer.actor.org_id, "withdrawn")
        told = uow.all(AuditEvent, tag="revocation:notify", subject_id=str(walk.id))
        assert [e.data.get("org_id") for e in told if "org_id" in e.data] == [trainer.actor.org_id]
        record = uow.get(ConsentRecord, old_consent)
        assert record.holders_notified == [f"org:{trainer.actor.org_id}"]
        item = uow.get(Item, walk.id)
        assert item.status is ItemStatus.LISTED and item.consent_id == again.json()["consent"]["id"]
    # The old agreement is not revived: the trainer's old order rebuilds without the walk.
    first = min(o["id"] for o in client.get("/api/buyers/orders", headers=trainer.headers).json())
    rebuilt = client.post(f"/api/buyers/orders/{first}/snapshots", headers=trainer.headers)
    assert rebuilt.status_code == 201, rebuilt.text
    assert {"revoked", "no_consent_for_agreed_licence"} <= set(
        rebuilt.json()["dropped"][str(walk.id)]
    )


def test_a_buyer_whose_build_never_finished_may_buy_an_item_given_consent_again(
    client, services, people
):
    """Only deliveries bind a buyer to delete: a build that failed gave it nothing, so
    after a withdrawal and consent given again the same buyer may buy the item afresh."""
    trainer, walk, _park = make_holder(client, services, people)
    owner = people["owner"].headers
    with services.uow() as uow:
        for snapshot in uow.all(Snapshot, org_id=trainer.actor.org_id):
            snapshot.state = "failed"
        uow.commit()
    dispatch = services.queue.dispatch
    services.queue.dispatch = lambda outbox_id, delay_seconds=0: None  # the notice waits
    assert client.delete(f"/api/items/{walk.id}/consent", headers=owner).status_code == 200
    again = client.post(f"/api/items/{walk.id}/consent/again", headers=owner, json={})
    services.queue.dispatch = dispatch
    assert again.status_code == 201, again.text
    quote = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    )
    assert quote.status_code == 201, quote.text
    assert "told_to_delete" not in quote.json()["reasons"]
    with services.uow() as uow:
        assert walk.id in uow.get(Order, quote.json()["id"]).item_ids


def test_the_deadline_check_tells_a_buyer_of_an_earlier_consent_whose_notice_job_never_ran(
    client, services, people
):
    """Withdrawn, then consent given again before the notice job ran, and that job never
    runs (dead-lettered): the deadline check still finds the buyer that received the item
    under the withdrawn record and tells it, as a withdrawal."""
    trainer, walk, _park = make_holder(client, services, people)
    owner = people["owner"].headers
    dispatch = services.queue.dispatch
    services.queue.dispatch = lambda outbox_id, delay_seconds=0: None  # never runs
    assert client.delete(f"/api/items/{walk.id}/consent", headers=owner).status_code == 200
    again = client.post(f"/api/items/{walk.id}/consent/again", headers=owner, json={})
    services.queue.dispatch = dispatch
    assert again.status_code == 201, again.text
    with services.uow() as uow:
        assert check_deadlines(uow)["noticed"] == 1
        [notice] = uow.all(Revocation, item_id=walk.id)
        assert (notice.org_id, notice.reason) == (trainer.actor.org_id, "withdrawn")
        uow.commit()
    with services.uow() as uow:
        assert check_deadlines(uow)["noticed"] == 0  # once


def test_one_buyers_licence_ending_tells_that_buyer_alone(client, services, people):
    """Two buyers hold an item; the first one's agreed licence ends: only it is told to
    delete, the second keeps what it holds under a licence still running."""
    trainer, walk, _park = make_holder(client, services, people)
    second, _org = buyer(services, people, "second", ["model_training"], ["technology"])
    fund(services, second)
    _buy_and_build(client, second)
    with services.uow() as uow:
        [first] = uow.all(AgreementRow, org_id=trainer.actor.org_id, item_id=walk.id)
        first.valid_until = utcnow() - timedelta(minutes=1)
        uow.commit()
    with services.uow() as uow:
        assert check_deadlines(uow)["noticed"] == 1
        told = {(n.org_id, n.reason) for n in uow.all(Revocation, item_id=walk.id)}
        assert told == {(trainer.actor.org_id, "expired")}


RECHECK_WORDS = {
    "en": "being checked again, as a new upload is",
    "hi": "फिर से जाँची जा रही है, जैसे नया अपलोड",
    "zu": "iyahlolwa futhi, njengokulayisha okusha",
}


def test_an_item_given_consent_again_before_its_checks_finished_is_being_checked_in_words(
    client, services, people
):
    """Through the page: the item withdrawn while being checked is received again (its job
    queued after commit), its passport says it is being checked again in each language,
    and once the job runs it is accepted."""
    owner = people["owner"]
    item = withdrawn_while_being_checked(services, owner, media.photo(seed=7))
    item_url = f"/my/items/{item.id}"
    for lang, words in (
        ("en", "given consent again, it is checked again first"),
        ("hi", "दोबारा सहमति देने पर इसकी पहले फिर से जाँच होगी"),
        ("zu", "iqala ihlolwe futhi"),
    ):
        withdrawn = client.get(f"{item_url}?lang={lang}", headers=owner.headers).text
        assert words in withdrawn and f'href="{item_url}/consent"' in withdrawn, lang
    dispatch, held = services.queue.dispatch, []
    services.queue.dispatch = lambda outbox_id, delay_seconds=0: held.append(outbox_id)
    given = client.post(f"{item_url}/consent/again", headers=owner.headers, follow_redirects=False)
    services.queue.dispatch = dispatch
    assert given.status_code == 303, given.text
    page = client.get(f"{item_url}?lang=en", headers=owner.headers).text
    assert 'data-status="received"' in page
    for lang, words in RECHECK_WORDS.items():
        passport = client.get(f"{item_url}/passport?lang={lang}", headers=owner.headers).text
        assert words in passport, lang
    assert "item:recheck" not in passport
    with services.uow() as uow:
        [job] = [uow.get(OutboxJob, i) for i in held if uow.get(OutboxJob, i).job == "item.process"]
    assert services.run_job(job.id) == "done"
    with services.uow() as uow:
        assert uow.get(Item, item.id).status is ItemStatus.ACCEPTED


def test_an_item_to_check_again_whose_original_is_gone_is_refused_in_the_readers_words(
    client, services, people
):
    owner = people["owner"]
    item = withdrawn_while_being_checked(services, owner, media.photo(seed=8))
    services.storage.store.delete(item.original_key)
    api = client.post(f"/api/items/{item.id}/consent/again", headers=owner.headers)
    assert api.status_code == 409 and "consent_again.original_gone" in api.text
    for lang, words in (
        ("en", f"the original of item {item.id} is no longer stored"),
        ("hi", f"आइटम {item.id} की मूल फ़ाइल अब रखी नहीं है"),
        ("zu", f"ifayela langempela lento {item.id} alisagcinwanga"),
    ):
        refused = client.post(
            f"/my/items/{item.id}/consent/again?lang={lang}", headers=owner.headers
        )
        assert refused.status_code == 409 and words in refused.text, lang
        assert "original_gone" not in refused.text
    with services.uow() as uow:
        assert uow.get(Item, item.id).status is ItemStatus.WITHDRAWN
