"""``GET /api/items`` pages a contributor's items (issue 12): the list grew with every
upload and was read, opened and sent whole on each request."""

from __future__ import annotations

import pytest

from datatrust.domain.items import ERASED_FILENAME, Item, ItemKind


@pytest.fixture
def sixty(services, people):
    """The owner's 61 items, one of them deleted, newest last (ids ascending); another
    person's item."""
    with services.uow() as uow:
        for i in range(62):
            who = people["owner"] if i < 61 else people["other"]
            seal = services.storage.seal_text
            uow.add(
                Item(
                    owner_id=who.actor.uid,
                    kind=ItemKind.PHOTO,
                    filename=seal(uow, who.actor.uid, f"walk-{i}.jpg")
                    if i != 3
                    else ERASED_FILENAME,
                    content_type="image/jpeg",
                    size=1,
                    original_key=f"c/{who.actor.uid}/items/walk-{i}",
                    original_sha256=f"{i:064d}",
                    title=seal(uow, who.actor.uid, f"A walk, part {i}"),
                )
            )
        uow.commit()
    return people["owner"]


def test_my_items_come_50_a_page_and_the_pages_together_are_every_item_newest_first(client, sixty):
    first = client.get("/api/items", headers=sixty.headers)
    assert first.status_code == 200
    assert len(first.json()) == 50  # not 60
    assert first.headers["x-total-count"] == "60"
    assert first.headers["link"] == ('<http://testserver/api/items?page=2&per_page=50>; rel="next"')
    second = client.get(first.headers["link"].split(">")[0][1:], headers=sixty.headers)
    assert second.headers["link"] == (
        '<http://testserver/api/items?page=1&per_page=50>; rel="prev"'
    )
    titles = [i["title"] for i in first.json() + second.json()]
    assert titles == [f"A walk, part {i}" for i in reversed(range(61)) if i != 3]


def test_a_page_of_my_items_is_as_long_as_asked_up_to_200_and_past_the_last_it_is_empty(
    client, sixty
):
    asked = client.get("/api/items?per_page=7&page=3", headers=sixty.headers)
    assert [i["title"] for i in asked.json()] == [
        f"A walk, part {i}" for i in range(46, 39, -1)
    ]  # items 60..54, 53..47, then these
    assert asked.headers["link"] == (
        '<http://testserver/api/items?page=2&per_page=7>; rel="prev", '
        '<http://testserver/api/items?page=4&per_page=7>; rel="next"'
    )
    past = client.get("/api/items?page=3", headers=sixty.headers)
    assert past.json() == [] and past.headers["x-total-count"] == "60"
    for wrong in ("per_page=201", "per_page=0", "page=0", "page=x"):
        assert client.get(f"/api/items?{wrong}", headers=sixty.headers).status_code == 422
