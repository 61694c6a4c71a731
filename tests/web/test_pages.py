"""The server-rendered pages without a browser: languages, errors next to fields, CSRF,
refusals in HTML, and the stylesheet's contrast."""

from __future__ import annotations

import re

import pytest

from datatrust.web import pages
from support import post_form, sign_up_page

CSS = pages.STATIC / "site.css"
# (text, background) pairs the stylesheet actually uses.
CONTRAST_PAIRS = [
    ("--fg", "--bg"),
    ("--muted", "--bg"),
    ("--link", "--bg"),
    ("--button-fg", "--button-bg"),
    ("--link", "--card-bg"),
    ("--fg", "--card-bg"),
    ("--muted", "--card-bg"),
    ("--error", "--bg"),
    ("--error", "--card-bg"),
    ("--risk-fg", "--risk-bg"),
    ("--ok-fg", "--ok-bg"),
]


def palette() -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize(("text", "background"), CONTRAST_PAIRS)
def test_the_palette_meets_wcag_aa_contrast(text, background):
    colours = palette()
    assert contrast(colours[text], colours[background]) >= 4.5


def test_the_contrast_formula_matches_known_values():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


def test_a_language_chosen_with_lang_is_remembered_in_a_cookie(client):
    first = client.get("/?lang=hi")
    assert first.status_code == 200
    assert '<html lang="hi">' in first.text
    assert client.cookies.get(pages.LANG_COOKIE) == "hi"
    again = client.get("/sign-in")
    assert '<html lang="hi">' in again.text and "साइन इन करें" in again.text


def test_the_browser_language_is_the_default(client):
    page = client.get("/", headers={"accept-language": "zu-ZA, en;q=0.5"})
    assert '<html lang="zu">' in page.text


def test_an_unknown_language_falls_back_to_english(client):
    page = client.get("/?lang=xx", headers={"accept-language": "fr"})
    assert '<html lang="en">' in page.text


def test_signing_up_with_problems_shows_them_by_field_and_keeps_the_input(client):
    response = post_form(
        client,
        "/sign-up?lang=hi",
        data={"email": "nope", "password": "short", "display_name": "Priya"},
    )
    assert response.status_code == 422
    html = response.text
    assert 'value="nope"' in html and 'value="Priya"' in html
    assert "यह मान्य ईमेल पता नहीं है" in html
    assert "short" not in html  # the password is never sent back


def test_a_contributor_signs_up_and_lands_on_their_items(client, services):
    response = sign_up_page(client, services, "lerato@example.org")
    assert response.status_code == 303 and response.headers["location"] == "/my/items"
    items = client.get("/my/items")
    assert items.status_code == 200 and "lerato@example.org" in items.text


def test_a_page_that_needs_an_account_asks_to_sign_in_in_html(client):
    response = client.get("/my/items")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert 'name="password"' in response.text


def test_a_session_form_without_the_csrf_token_is_refused(client, services):
    sign_up_page(client, services, "buyer-csrf@example.org", role="buyer")
    response = client.post(
        "/buyer/organisation", data={"legal_name": "Sneaky Ltd", "country": "GB"}
    )
    assert response.status_code == 403
    assert "Sneaky Ltd" not in client.get("/buyer/organisation").text


def test_sign_in_never_redirects_off_site(client, services):
    sign_up_page(client, services, "thabo@example.org")
    client.cookies.clear()
    response = post_form(
        client,
        "/sign-in",
        "/sign-in?next=//evil.example/",
        data={"email": "thabo@example.org", "password": "correct horse battery"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/my/items"
