"""Where recordings are wanted (issue 18 §5), without a browser: /map lists every open task
that pays a coverage bonus with its places by name in the page's language (never an H3
id), the bonus each can still earn and the recordings already there, counted the way the
bonus is paid; the map's data rides in one attribute for map.js; no tile server is used
unless the operator names one."""

from __future__ import annotations

import html
import json
import re

import h3
import pytest
from test_pages_contributor import open_campaign

from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.money import Money
from datatrust.domain.permissions import Role
from datatrust.services.campaigns import campaigns
from datatrust.web.security import PAGE_CSP
from support import make_persona, sign_up_page

CAPE_TOWN = h3.latlng_to_cell(-33.9249, 18.4241, 8)
KHAYELITSHA = h3.latlng_to_cell(-34.0404, 18.6775, 8)
STELLENBOSCH_AREA = h3.latlng_to_cell(-33.9321, 18.8602, 6)  # a task may name a large area
IN_STELLENBOSCH = h3.latlng_to_cell(-33.9321, 18.8602, 8)
RANCHI = h3.latlng_to_cell(23.3441, 85.3096, 8)
H3_ID = re.compile(r"\b8[0-9a-f]{14}\b")
MAP_DATA = re.compile(r"data-cells='([^']*)'")


def recorded(services, owner_id: int, cell: str, campaign_id: int | None = None) -> None:
    """An accepted and listed street recording from ``cell`` (stored directly: the
    pipeline that finds the cell is tested elsewhere)."""
    with services.uow() as uow:
        uow.add(
            Item(
                owner_id=owner_id,
                kind=ItemKind.AMBIENT,
                filename="street.ogg",
                content_type="audio/ogg",
                size=10,
                original_key=f"k-{cell}-{campaign_id}",
                original_sha256="0" * 64,
                status=ItemStatus.LISTED,
                campaign_id=campaign_id,
                h3_cell=cell,
            )
        )
        uow.commit()


@pytest.fixture
def contributor(client, services):
    assert sign_up_page(client, services, "nandi@example.org").status_code == 303
    return client


@pytest.fixture
def cape_task(contributor, people, services):
    """A task naming three places (one a large area), USD 0.75 for the first recording
    from a place, two recordings in Cape Town and one inside the Stellenbosch area."""
    task = open_campaign(
        contributor,
        people["operator"],
        title="Cape streets",
        coverage_bonus_minor=75,
        quota=10,
        spec={"max_duration_s": 60, "h3_cells": [CAPE_TOWN, KHAYELITSHA, STELLENBOSCH_AREA]},
    )
    owner = people["owner"].actor.user_id
    recorded(services, owner, CAPE_TOWN, task["id"])
    recorded(services, people["other"].actor.user_id, CAPE_TOWN, task["id"])
    recorded(services, owner, IN_STELLENBOSCH, task["id"])
    return task


def rows(page: str) -> list[tuple[str, str, str]]:
    """(place, bonus, recordings) of each line of the list, as a reader sees them."""
    found = re.findall(
        r'<tr class="(?:wanted|recorded)"><th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td>',
        page,
    )
    return [tuple(html.unescape(cell) for cell in row) for row in found]


def test_each_place_is_named_with_the_bonus_it_can_still_earn_and_its_recordings(
    contributor, cape_task
):
    page = contributor.get("/map?lang=en")
    assert page.status_code == 200
    text = page.text
    assert rows(text) == [  # where the bonus is still paid first
        ("Stellenbosch, South Africa", "$0.75", "1"),  # 49 cells there; one recorded
        ("Khayelitsha, South Africa", "$0.75", "0"),
        ("Cape Town, South Africa", "None: already recorded", "2"),
    ]
    assert "Recordings this task still takes: 7" in text  # quota 10, three accepted
    assert f'<a href="/tasks/{cape_task["id"]}">Cape streets</a>' in text
    # The map's data: each cell once, with the words of its line; nowhere else an H3 id.
    cells = json.loads(html.unescape(MAP_DATA.search(text).group(1)))
    assert {c["cell"]: c["wanted"] for c in cells} == {
        CAPE_TOWN: False,
        STELLENBOSCH_AREA: True,
        KHAYELITSHA: True,
    }
    assert {c["label"] for c in cells} >= {
        "Cape Town, South Africa: already recorded, no bonus",
        "Khayelitsha, South Africa: $0.75 for the first recording",
    }
    assert H3_ID.findall(MAP_DATA.sub("", text)) == []
    # Reads without JavaScript: the list is the page; map.js is the one script.
    assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/map.js" defer>']


@pytest.mark.parametrize(
    ("lang", "place", "words"),
    [
        ("hi", "केप टाउन", ["रिकॉर्डिंग कहाँ चाहिए", "नक्शा दिखाएँ", "अब तक की रिकॉर्डिंग"]),
        ("zu", "iKapa", ["Lapho okuqoshiwe kudingeka khona", "Bonisa imephu", "Indawo"]),
    ],
)
def test_the_page_speaks_the_readers_language(contributor, cape_task, lang, place, words):
    text = contributor.get(f"/map?lang={lang}").text
    assert rows(text)[-1][0].startswith(place)
    for phrase in words:
        assert phrase in text
    assert "Cape Town" not in text and "already recorded" not in text
    labels = [c["label"] for c in json.loads(html.unescape(MAP_DATA.search(text).group(1)))]
    assert [label for label in labels if label.startswith(place)] != []
    assert [label for label in labels if "South Africa" in label or "bonus" in label] == []


def test_a_task_naming_no_place_lists_only_the_places_enough_people_recorded_in(
    contributor, people, services
):
    """Outside review: every recorded cell (resolution 8, well under a km²) was listed to
    anyone, so one person's recordings showed where they record. A place is listed once
    ``SHOWN_FROM_PEOPLE`` (3) different people recorded there; one person's many
    recordings are still one person."""
    task = open_campaign(
        contributor, people["operator"], title="Any street", coverage_bonus_minor=50, quota=5
    )
    for _ in range(4):
        recorded(services, people["owner"].actor.user_id, RANCHI)
    recorded(services, people["other"].actor.user_id, RANCHI)
    text = contributor.get("/map?lang=en").text
    assert rows(text) == [] and "Ranchi" not in text and RANCHI not in text
    assert (
        "Other places earn the bonus too, unless someone has recorded there already. A place "
        "where fewer than 3 people have recorded is not listed, so that no one can tell where "
        "a person records." in text
    )
    assert "Recordings this task still takes: 5" in text  # the recordings were for no task
    assert f"/tasks/{task['id']}" in text
    third = make_persona(services, "third", Role.CONTRIBUTOR)
    recorded(services, third.actor.user_id, RANCHI)
    text = contributor.get("/map?lang=en").text
    assert rows(text) == [("Ranchi, India", "None: already recorded", "6")]
    cells = json.loads(html.unescape(MAP_DATA.search(text).group(1)))
    assert [c["cell"] for c in cells] == [RANCHI]
    words = contributor.get("/map?lang=hi").text
    assert "3 से कम लोगों ने रिकॉर्ड किया है" in words
    assert campaigns.SHOWN_FROM_PEOPLE == 3


def test_the_coverage_api_lists_no_cell_fewer_than_three_people_recorded_in(
    client, people, services
):
    task = open_campaign(
        client,
        people["operator"],
        title="Named",
        coverage_bonus_minor=50,
        quota=5,
        spec={"max_duration_s": 60, "h3_cells": [CAPE_TOWN, RANCHI]},
    )
    recorded(services, people["owner"].actor.user_id, RANCHI)
    recorded(services, people["other"].actor.user_id, KHAYELITSHA)
    recorded(services, people["other"].actor.user_id, KHAYELITSHA)

    def coverage() -> dict:
        got = client.get(f"/api/campaigns/{task['id']}/coverage", headers=people["buyer"].headers)
        assert got.status_code == 200, got.text
        return got.json()

    # The bonus still reads right for the places the task names; no cell is listed.
    assert coverage()["cells"] == {} and coverage()["uncovered"] == [CAPE_TOWN]
    for name in ("third", "fourth"):
        recorded(services, make_persona(services, name, Role.CONTRIBUTOR).actor.user_id, RANCHI)
    assert coverage()["cells"] == {RANCHI: 3}


def test_tasks_without_a_bonus_are_not_on_the_map(contributor, people):
    """Only ambient-sound tasks may pay a coverage bonus (the campaign rules refuse it on
    others); one without a bonus and one of another kind are not listed."""
    open_campaign(contributor, people["operator"], title="No bonus here")
    open_campaign(contributor, people["operator"], "voice")
    text = contributor.get("/map?lang=en").text
    assert "No task pays a bonus for new places right now." in text
    assert "<script" not in text and "map-box" not in text


def test_a_large_area_with_every_cell_recorded_pays_no_more_bonus(services, people):
    area = h3.cell_to_parent(CAPE_TOWN, 7)
    for cell in h3.cell_to_children(area, 8):
        recorded(services, people["owner"].actor.user_id, cell)
    with services.uow() as uow:
        covered = campaigns.coverage(uow)
    assert campaigns._place_need(area, covered, Money(75, "USD")).bonus is None
    one_short = dict(list(covered.items())[1:])
    assert campaigns._place_need(area, one_short, Money(75, "USD")).bonus is not None


def test_the_task_page_shows_the_bonus_for_the_same_places_as_the_map(
    contributor, cape_task, services, people
):
    """One source: the task's own page lists where its bonus is still paid and where it is
    not as /map does; a recording outside the task's places (Ranchi) is not its concern."""
    recorded(services, people["owner"].actor.user_id, RANCHI)
    page = contributor.get(f"/tasks/{cape_task['id']}?lang=en").text
    wanted = re.search(r'<ul id="bonus-wanted">(.*?)</ul>', page).group(1)
    covered = re.search(r'<ul id="bonus-covered">(.*?)</ul>', page).group(1)
    assert re.findall(r"<li>(.*?)</li>", wanted) == [
        "Stellenbosch, South Africa",
        "Khayelitsha, South Africa",
    ]
    assert re.findall(r"<li>(.*?)</li>", covered) == ["Cape Town, South Africa"]
    assert "$0.75 more for the first recording" in page


def test_the_task_and_the_tasks_list_link_to_the_map(contributor, cape_task):
    assert 'href="/map"' in contributor.get(f"/tasks/{cape_task['id']}").text
    assert 'href="/map"' in contributor.get("/tasks").text


def test_no_tile_server_unless_the_operator_names_one(contributor, cape_task, services):
    plain = contributor.get("/map")
    assert plain.headers["content-security-policy"] == PAGE_CSP
    assert 'data-tiles=""' in plain.text
    services.settings.map_tile_url = "https://tiles.example.org/{z}/{x}/{y}.png"
    services.settings.map_tile_attribution = "© Example tiles"
    tiled = contributor.get("/map")
    csp = tiled.headers["content-security-policy"]
    assert "img-src 'self' data: blob: https://tiles.example.org;" in csp
    assert csp.replace(" https://tiles.example.org", "") == PAGE_CSP
    assert 'data-tiles="https://tiles.example.org/{z}/{x}/{y}.png"' in tiled.text
    services.settings.map_tile_url = "javascript:alert(1)"  # not a tile server: ignored
    assert contributor.get("/map").headers["content-security-policy"] == PAGE_CSP


def test_the_operator_sees_which_map_background_the_instance_uses(client, people, services):
    headers = people["operator"].headers
    page = client.get("/operator/settings", headers=headers)
    assert "Blank: no map tiles are fetched from other sites" in page.text
