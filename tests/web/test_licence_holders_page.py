"""Issue 16 §1 from the pages: a contributor names who may take a licence — any vetted
buyer, named organisations, or one organisation exclusively until a date — on the
licences page, in their language; the new version binds every later selection."""

from __future__ import annotations

from datetime import timedelta

from test_seed_story import (
    TRAINING,
    WALK,
    buyer,
    fund,
    listed_item,
    offer_training_only,
    year_of_use,
)

from datatrust.domain.clock import utcnow

PICKER = {
    "en": ["Who may take this licence", "Any vetted buyer", "Exclusive until"],
    "hi": ["यह लाइसेंस कौन ले सकता है", "कोई भी जाँचा-परखा खरीदार", "इस तारीख तक विशेष"],
    "zu": ["Ngubani ongathatha le layisensi", "Noma yimuphi umthengi ohloliwe"],
}


def _offer(client, persona) -> dict:
    """A training-only offer for three years (so a two-year exclusivity fits)."""
    start = utcnow().replace(microsecond=0)
    return offer_training_only(
        client, persona, valid_until=(start + timedelta(days=3 * 365)).isoformat()
    )


def _active(client, persona) -> list[dict]:
    return client.get("/api/licences", headers=persona.headers).json()


def _name(client, persona, offer_id, lang="en", **form):
    return client.post(
        f"/my/licences/{offer_id}/holders?lang={lang}",
        headers=persona.headers,
        data=form,
        follow_redirects=False,
    )


def test_the_picker_lists_approved_buyers_by_name_in_the_readers_language(client, services, people):
    owner = people["owner"]
    _offer(client, owner)
    buyer(services, people, "ada", ["model_training"], ["technology"])
    for lang, words in PICKER.items():
        page = client.get(f"/my/licences?lang={lang}", headers=owner.headers)
        assert page.status_code == 200
        assert all(w in page.text for w in words), lang
        assert "Ada Labs Ltd" in page.text
        if lang != "en":
            assert not [w for w in PICKER["en"] if w in page.text], lang


def test_an_exclusive_holder_named_on_the_page_is_the_only_buyer_that_can_select_new_items(
    client, services, people
):
    owner = people["owner"]
    offer = _offer(client, owner)
    ada, ada_org = buyer(services, people, "ada", ["model_training"], ["technology"])
    rival, _ = buyer(services, people, "rival", ["model_training"], ["technology"])
    until = (utcnow() + timedelta(days=300)).date().isoformat()
    saved = _name(
        client,
        owner,
        offer["id"],
        who="exclusive",
        exclusive_org=str(ada_org.id),
        exclusive_until=until,
    )
    assert saved.status_code == 303, saved.text
    [current] = _active(client, owner)
    assert saved.headers["location"] == f"/my/licences#licence-{current['id']}"
    assert current["version"] == offer["version"] + 1
    assert current["licence"]["exclusive_to"] == str(ada_org.id)
    assert current["licence"]["exclusive_until"].startswith(until)
    page = client.get("/my/licences", headers=owner.headers).text
    assert "Ada Labs Ltd" in page.split(f'id="licence-{current["id"]}"')[1].split("<details")[1]

    # An item offered under the new version: the rival selects nothing, Ada selects it.
    item = listed_item(services, owner, WALK, "walk")
    given = client.post(
        f"/api/items/{item.id}/consent", headers=owner.headers, json={"offer_id": current["id"]}
    )
    assert given.status_code == 201, given.text
    for persona in (ada, rival):
        fund(services, persona)
    use = {**TRAINING, **year_of_use()}
    refused = client.post("/api/buyers/orders", headers=rival.headers, json=use).json()
    assert refused["selected"] == 0 and "exclusive_to_another" in refused["reasons"]
    taken = client.post("/api/buyers/orders", headers=ada.headers, json=use).json()
    assert taken["selected"] == 1, taken

    # Back to any vetted buyer: a new version without a holder.
    opened = _name(client, owner, current["id"], who="any")
    assert opened.status_code == 303
    [latest] = _active(client, owner)
    assert latest["licence"]["exclusive"] is False and latest["licence"]["offered_to"] == []


def test_named_buyers_chosen_on_the_page_are_the_only_ones_offered(client, services, people):
    owner = people["owner"]
    offer = _offer(client, owner)
    _, ada_org = buyer(services, people, "ada", ["model_training"], ["technology"])
    _, bee_org = buyer(services, people, "bee", ["model_training"], ["technology"])
    buyer(services, people, "cid", ["model_training"], ["technology"])
    saved = _name(client, owner, offer["id"], who="named", orgs=[str(ada_org.id), str(bee_org.id)])
    assert saved.status_code == 303, saved.text
    [current] = _active(client, owner)
    assert sorted(current["licence"]["offered_to"]) == sorted([str(ada_org.id), str(bee_org.id)])
    page = client.get("/my/licences", headers=owner.headers).text
    ticked = [
        name
        for name in ("Ada Labs Ltd", "Bee Labs Ltd", "Cid Labs Ltd")
        if f"checked> {name}" in page
    ]
    assert ticked == ["Ada Labs Ltd", "Bee Labs Ltd"]


def test_a_refused_choice_is_explained_in_the_readers_language_and_changes_nothing(
    client, services, people
):
    owner = people["owner"]
    offer = _offer(client, owner)
    _, ada_org = buyer(services, people, "ada", ["model_training"], ["technology"])
    none_named = _name(client, owner, offer["id"], "hi", who="named")
    assert none_named.status_code == 422
    assert "कम से कम एक संगठन चुनें" in none_named.text
    assert "name at least one organisation" not in none_named.text
    too_long = _name(
        client,
        owner,
        offer["id"],
        "zu",
        who="exclusive",
        exclusive_org=str(ada_org.id),
        exclusive_until=(utcnow() + timedelta(days=800)).date().isoformat(),
    )
    assert too_long.status_code == 422
    assert "ilungelo elikhethekile lingathatha iminyaka emi-2 kuphela" in too_long.text
    assert "exclusive_until" not in too_long.text.split("<main")[1].replace(
        'name="exclusive_until"', ""
    )
    no_date = _name(client, owner, offer["id"], who="exclusive", exclusive_org=str(ada_org.id))
    assert no_date.status_code == 422 and "must say when exclusivity ends" in no_date.text
    assert [o["id"] for o in _active(client, owner)] == [offer["id"]]

    # Another contributor cannot reach this offer; a buyer cannot use the page at all.
    other = _name(client, people["other"], offer["id"], who="any")
    assert other.status_code == 404
    assert _name(client, people["buyer"], offer["id"], who="any").status_code == 403
