"""The buyer's catalogue in pages (issue 18 §4): every item on offer for the chosen
facets, twenty a page, in the same de-identified form the sample had, with a pager that
keeps the facets; the API keeps its short sample."""

from __future__ import annotations

import re

from test_seed_story import WALK, buyer, listed_item, offer_training_only

ON_OFFER = re.compile(r'id="on-offer".*?<ul class="cards">(.*?)</ul>', re.S)


def cards(html: str) -> int:
    found = ON_OFFER.search(html)
    return found.group(1).count('<li class="card">') if found else 0


def test_the_catalogue_shows_every_item_on_offer_twenty_a_page_keeping_the_facets(
    client, services, people
):
    owner = people["owner"]
    offer = offer_training_only(client, owner)
    for n in range(21):
        item = listed_item(services, owner, WALK + b"%d" % n, f"walk {n}")
        given = client.post(
            f"/api/items/{item.id}/consent", headers=owner.headers, json={"offer_id": offer["id"]}
        )
        assert given.status_code == 201, given.text
    trainer, _org = buyer(services, people, "trainer", ["model_training"], ["technology"])

    first = client.get("/buyer/catalogue?purpose=model_training&lang=en", headers=trainer.headers)
    assert first.status_code == 200
    assert "21 items match" in first.text and cards(first.text) == 20
    assert "Page 1 of 2" in first.text
    following = re.search(r'href="(/buyer/catalogue\?[^"]*)" rel="next"', first.text).group(1)
    assert "purpose=model_training" in following and "n=2" in following

    second = client.get(following.replace("&amp;", "&"), headers=trainer.headers)
    assert second.status_code == 200
    assert cards(second.text) == 1 and "Page 2 of 2" in second.text
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    hindi = client.get(
        "/buyer/catalogue?purpose=model_training&n=2&lang=hi", headers=trainer.headers
    )
    assert "बिक्री के लिए उपलब्ध आइटम" in hindi.text and "Page 2 of 2" not in hindi.text

    # The API answers as before: counts, facets and a short sample.
    api = client.get("/api/buyers/catalogue?purpose=model_training", headers=trainer.headers)
    assert api.status_code == 200, api.text
    assert api.json()["count"] == 21 and len(api.json()["sample"]) == 5
