"""Withdrawal through the pages takes a confirmation that states its effect (issue 18 §4):
"Withdraw consent" on the item leads to a page saying, in the reader's language, that the
item leaves every future sale at once, how many buyers holding a copy are told to delete
it and within how many days, and that money already paid stays; its button withdraws.
The API still withdraws in one call."""

from __future__ import annotations

from test_feed_protocol import make_holder
from test_seed_story import TRAINING, buyer, year_of_use

from datatrust.domain.items import Item
from datatrust.domain.orders import Order
from datatrust.domain.snapshots import Revocation


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
