"""Withdrawal through the pages takes a confirmation that states its effect (issue 18 §4):
"Withdraw consent" on the item leads to a page saying, in the reader's language, that the
item leaves every future sale at once, how many buyers holding a copy are told to delete
it and within how many days, and that money already paid stays; its button withdraws.
The API still withdraws in one call."""

from __future__ import annotations

from test_feed_protocol import make_holder

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
