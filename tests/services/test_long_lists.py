"""Long lists in SQL (issue 18): "My items" and the open tasks filter by their columns
(status, kind, state) and page in the database, reading one page of rows; words are still
searched among a person's own rows (titles and file names are sealed under their key),
and every page shows what filtering all rows in Python showed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from datatrust.domain.campaigns import Campaign, CampaignState, PayBasis
from datatrust.domain.items import ERASED_FILENAME, Item, ItemKind, ItemStatus
from datatrust.services.campaigns import campaigns
from datatrust.services.contributions import items
from datatrust.services.listing import matches, paged

KINDS = [ItemKind.PHOTO, ItemKind.VIDEO, ItemKind.VOICE]
STATUSES = [ItemStatus.ACCEPTED, ItemStatus.LISTED, ItemStatus.REJECTED]


@contextlib.contextmanager
def loaded(cls: type) -> Iterator[list[object]]:
    """The rows of ``cls`` the database hands back as objects meanwhile."""
    rows: list[object] = []

    def count(target: object, _context: object) -> None:
        rows.append(target)

    event.listen(cls, "load", count)
    try:
        yield rows
    finally:
        event.remove(cls, "load", count)


@pytest.fixture
def many(services, people):
    """The owner's 45 items (titles and file names sealed, as uploads store them), one of
    them deleted, and another person's item."""
    owner = people["owner"]
    with services.uow() as uow:
        for i in range(46):
            who = owner if i < 45 else people["other"]
            seal = services.storage.seal_text
            uow.add(
                Item(
                    owner_id=who.actor.uid,
                    kind=KINDS[i % 3],
                    filename=seal(uow, who.actor.uid, f"clip-{i}.bin")
                    if i != 7
                    else ERASED_FILENAME,
                    content_type="application/octet-stream",
                    size=1,
                    original_key=f"c/{who.actor.uid}/items/x{i}",
                    original_sha256=f"{i:064d}",
                    status=STATUSES[i % 3],
                    title=seal(uow, who.actor.uid, f"Lobby {i} {'rain' if i % 4 == 0 else 'sun'}"),
                )
            )
        uow.commit()
    return owner


def in_python(services, persona, query="", status="", kind="", page=1):
    """What the page showed when every row was read and filtered here."""
    with services.uow() as uow:
        shown = [
            i
            for i in items.show_my_items(uow, services.storage, persona.actor)
            if (not status or i.status.value == status)
            and (not kind or i.kind.value == kind)
            and matches(query, i.title, i.filename)
        ]
        found = paged(shown, page)
        return [(i.id, i.title, i.filename) for i in found.rows], found.pages, found.total


@pytest.mark.parametrize(
    "asked",
    [
        {},
        {"page": 2},
        {"page": 3},
        {"page": 99},
        {"status": "listed"},
        {"kind": "video", "page": 2},
        {"status": "rejected", "kind": "voice"},
        {"status": "nonsense"},
        {"query": "rain"},
        {"query": "RAIN lobby", "kind": "photo"},
        {"query": "clip-1", "page": 2},
        {"query": "nothing like it"},
    ],
)
def test_each_page_of_my_items_shows_what_filtering_every_row_showed(services, many, asked):
    with services.uow() as uow:
        found = items.find_my_items(uow, services.storage, many.actor, **asked)
        got = [(i.id, i.title, i.filename) for i in found.rows], found.pages, found.total
    assert got == in_python(services, many, **asked)


def test_a_page_of_my_items_reads_one_page_of_rows_and_words_only_the_persons_filtered_rows(
    services, many
):
    with loaded(Item) as rows, services.uow() as uow:
        found = items.find_my_items(uow, services.storage, many.actor, page=2)
    assert (len(found.rows), found.total, found.pages) == (20, 44, 3)
    assert len(rows) == 20  # not 44
    with loaded(Item) as rows, services.uow() as uow:
        found = items.find_my_items(uow, services.storage, many.actor, status="listed")
    assert len(rows) == found.total == 14  # 15 listed, one of them deleted
    with loaded(Item) as rows, services.uow() as uow:
        found = items.find_my_items(uow, services.storage, many.actor, query="rain", kind="video")
    assert {i.kind for i in found.rows} == {ItemKind.VIDEO} and found.total == 4
    assert len(rows) == 14  # the owner's videos left: words are searched among these alone


def test_the_open_tasks_read_one_page_of_campaigns_filtered_by_kind_in_the_database(
    services, people
):
    buyer = people["buyer"].actor
    with services.uow() as uow:
        for i in range(30):
            state = CampaignState.OPEN if i != 3 else CampaignState.DRAFT
            uow.add(
                Campaign(
                    created_by=buyer.uid,
                    org_id=buyer.org_id,
                    title=f"Task {i} {'rain' if i % 5 == 0 else ''}",
                    kind=KINDS[i % 3],
                    pay_basis=PayBasis.PER_ITEM,
                    rate_minor=100,
                    currency="USD",
                    quota=10,
                    state=state,
                )
            )
        uow.commit()
    anyone = people["other"].actor
    with loaded(Campaign) as rows, services.uow() as uow:
        found = campaigns.open_tasks(uow, anyone, page=2)
    assert (len(found.rows), found.total, found.pages) == (9, 29, 2) and len(rows) == 9
    assert [c.id for c in found.rows] == sorted((c.id for c in found.rows), reverse=True)
    with loaded(Campaign) as rows, services.uow() as uow:
        found = campaigns.open_tasks(uow, anyone, kind="video")
    assert found.total == len(rows) == 10 and {c.kind for c in found.rows} == {ItemKind.VIDEO}
    with services.uow() as uow:
        assert campaigns.open_tasks(uow, anyone, kind="nonsense").total == 0
        words = campaigns.open_tasks(uow, anyone, query="RAIN", kind="photo")
    assert [c.title for c in words.rows] == ["Task 15 rain", "Task 0 rain"]
