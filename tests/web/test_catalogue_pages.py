"""The buyer's catalogue in pages (issue 18 §4): every item on offer for the chosen
facets, twenty a page, in the same de-identified form the sample had, with a pager that
keeps the facets; the API keeps its short sample."""

from __future__ import annotations

import re

import h3
from test_seed_story import (
    TRAINING,
    WALK,
    buyer,
    license_training_only,
    listed_item,
    offer_training_only,
)

from datatrust.domain.errors import Problem
from datatrust.domain.items import Item
from datatrust.i18n import render_problem
from datatrust.pipeline.regions import REGION_RESOLUTION, region_cell

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


def test_the_catalogue_narrows_by_language_and_least_quality_as_each_report_names_them(
    client, services, people
):
    owner = people["owner"]
    offer = offer_training_only(client, owner)
    reports = {
        "en": {"language": "en", "quality": {"score": 0.9}},
        "hi": {"language": "hi", "quality": {"score": 0.5}},
        "none": {"quality": {"score": 0.8}},  # names no language
        "zu": {"campaign": {"language": "zu"}, "quality": {"figures": {}}},  # and no score
    }
    for n, report in enumerate(reports.values()):
        item = listed_item(services, owner, WALK + b"%d" % n, f"walk {n}")
        with services.uow() as uow:
            uow.get(Item, item.id).write_report(report)
            uow.commit()
        given = client.post(
            f"/api/items/{item.id}/consent", headers=owner.headers, json={"offer_id": offer["id"]}
        )
        assert given.status_code == 201, given.text
    trainer, _org = buyer(services, people, "trainer", ["model_training"], ["technology"])

    def search(**narrowed) -> dict:
        got = client.get(
            "/api/buyers/catalogue",
            headers=trainer.headers,
            params={"purpose": "model_training", **narrowed},
        )
        assert got.status_code == 200, got.text
        return got.json()

    everything = search()
    assert everything["count"] == 4
    assert everything["facets"]["language"] == {"en": 1, "hi": 1, "unknown": 1, "zu": 1}
    assert sorted((s["language"] or "", s["quality"] or 0) for s in everything["sample"]) == [
        ("", 0.8),
        ("en", 0.9),
        ("hi", 0.5),
        ("zu", 0),
    ]
    hindi = search(language="hi")
    assert hindi["count"] == 1 and hindi["sample"][0]["quality"] == 0.5
    assert hindi["facets"]["language"] == {"hi": 1}
    good = search(min_quality=0.8)  # a score equal to the least counts; none does not
    assert good["count"] == 2 and {s["quality"] for s in good["sample"]} == {0.8, 0.9}
    assert search(min_quality=0.8, language="en")["count"] == 1
    assert search(language="zu")["sample"][0]["quality"] is None
    assert search(language="unknown")["count"] == 0
    assert search(min_quality=0.95)["count"] == 0


def test_a_region_finer_than_the_catalogue_shows_is_refused_in_the_readers_language(
    client, services, people
):
    """Outside review: a region chosen down to resolution 15 let about 28 searches, each
    halving the area, find the cell an item is stored under. Only a region as coarse as
    the one the catalogue shows (``REGION_RESOLUTION``) is searched by."""
    trainer, _org = buyer(services, people, "trainer", ["model_training"], ["technology"])
    walk = listed_item(services, people["owner"], WALK, "walk")
    license_training_only(client, people["owner"], walk.id)
    with services.uow() as uow:
        stored = uow.get(Item, walk.id).h3_cell
    base = {k: TRAINING[k] for k in ("action", "purpose", "industry")}
    shown = region_cell(stored)
    found = client.get(
        "/api/buyers/catalogue", headers=trainer.headers, params={**base, "region": shown}
    ).json()
    assert found["count"] == 1 and found["facets"]["region"] == {shown: 1}
    coarser = h3.cell_to_parent(stored, REGION_RESOLUTION - 1)
    found = client.get(
        "/api/buyers/catalogue", headers=trainer.headers, params={**base, "region": coarser}
    ).json()
    assert found["count"] == 1
    for region in (h3.cell_to_parent(stored, REGION_RESOLUTION + 1), stored, "not-a-cell"):
        refused = client.get(
            "/api/buyers/catalogue", headers=trainer.headers, params={**base, "region": region}
        )
        assert refused.status_code == 422, refused.text
        assert [(p["field"], p["code"]) for p in refused.json()["problems"]] == [
            ("region", "catalogue.region_too_fine")
        ]
    problem = Problem("region", "catalogue.region_too_fine", {"maximum": REGION_RESOLUTION})
    assert render_problem(problem, "en") in refused.json()["detail"]
    # The API speaks English (a client renders the code); a page says it in hi and zu.
    said = {lang: render_problem(problem, lang) for lang in ("en", "hi", "zu")}
    assert len(set(said.values())) == 3 and all("4" in s for s in said.values())
