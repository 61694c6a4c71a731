"""The item page offers what the item record says (issue 15: no business rule in a page):
the consent link by ``Item.consent_step``, the "did we miss something?" form by
``Item.ships``; the consent page opens only for a step that gives consent. Each check
fails on a page that decides by the status itself (the record's answers are changed
here to ones no status gives)."""

from __future__ import annotations

import pytest

import ingest_media
from datatrust.domain.items import Item
from datatrust.services.contributions import items


@pytest.fixture
def photo(services, people):
    """The owner's photo, checked and processed: it ships, and no consent is given yet."""
    with services.uow() as uow:
        return items.receive_item(
            uow,
            services.storage,
            people["owner"].actor,
            kind="photo",
            filename="p.jpg",
            content_type="image/jpeg",
            chunks=[ingest_media.photo(seed=5)],
        )


def _links(client, people, item_id: int) -> dict[str, bool]:
    page = client.get(f"/my/items/{item_id}", headers=people["owner"].headers).text
    return {
        "give": 'id="consent-link"' in page,
        "give_again": 'id="consent-again-link"' in page,
        "withdraw": 'id="withdraw-link"' in page,
        "mark": 'id="h-missed"' in page,
    }


def test_the_item_page_offers_consent_and_marks_as_the_record_says(
    client, people, photo, monkeypatch
):
    assert _links(client, people, photo.id) == {
        "give": True,
        "give_again": False,
        "withdraw": False,
        "mark": True,
    }
    monkeypatch.setattr(Item, "consent_step", property(lambda self: "withdraw"))
    monkeypatch.setattr(Item, "ships", property(lambda self: False))
    assert _links(client, people, photo.id) == {
        "give": False,
        "give_again": False,
        "withdraw": True,
        "mark": False,
    }


def test_the_consent_page_opens_only_for_a_step_that_gives_consent(
    client, people, photo, monkeypatch
):
    owner = people["owner"].headers
    url = f"/my/items/{photo.id}/consent"
    assert client.get(url, headers=owner, follow_redirects=False).status_code == 200
    monkeypatch.setattr(Item, "consent_step", property(lambda self: None))
    gone = client.get(url, headers=owner, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == f"/my/items/{photo.id}"
