"""Lengths, file sizes and countries in the reader's words (issue 18 §2: no code or raw
number format reaches a person). The catalogue and review queue wrote "6 s", the item
page "(192044 B)" and the vetting page a buyer's country as "GB" in every language;
CLDR's units and names say "6 सेकंड", "6 amasekhondi", "192 kB", "i-United Kingdom".
The page-reading rule (``page_text.not_in_words``) now refuses a bare unit symbol on hi
and zu pages, so the demo walk and the persona journeys catch one anywhere."""

from __future__ import annotations

import re

import pytest

from datatrust.domain.accounts import Organisation
from datatrust.web.pages.explain import duration_words, size_words
from page_text import not_in_words


@pytest.mark.parametrize(
    ("lang", "seconds", "shown"),
    [
        ("en", 6, "6 seconds"),
        ("en", 2.93, "2.9 seconds"),
        ("en", 1, "1 second"),
        ("en", 120, "2 minutes"),
        ("hi", 6.0, "6 सेकंड"),
        ("hi", 2.93, "2.9 सेकंड"),
        ("zu", 6, "6 amasekhondi"),
        ("zu", 3600, "1 ihora"),
    ],
)
def test_a_length_is_written_with_the_readers_unit(lang, seconds, shown):
    assert duration_words(seconds, lang) == shown


@pytest.mark.parametrize(
    ("lang", "size", "shown"),
    [("en", 192044, "192 kB"), ("hi", 192044, "192 kB"), ("en", 12_345_678, "12.3 MB")],
)
def test_a_file_size_is_written_in_kilo_or_megabytes(lang, size, shown):
    assert size_words(size, lang) == shown


def test_the_page_reading_rule_refuses_a_bare_unit_symbol():
    assert not_in_words("किसी जगह की आवाज़ · 6 s · रांची", set()) == ["6 s"]
    assert not_in_words("street.wav (192044 B)", set()) == ["192044 B"]
    assert not_in_words("6 सेकंड · 192 kB · 1:05", set()) == []


def test_the_vetting_page_names_a_buyers_country_not_its_code(client, services, people):
    with services.uow() as uow:
        uow.add(Organisation(legal_name="Kanpur Audio Ltd", country="IN"))
        uow.commit()
    headers = people["operator"].headers
    for lang, country in (("en", "India"), ("hi", "भारत"), ("zu", "i-India")):
        page = client.get(f"/operator/vetting?lang={lang}", headers=headers).text
        card = page.split("Kanpur Audio Ltd", 1)[1].split("</li>", 1)[0]
        assert f"· {country}" in card and "· IN" not in card, (lang, card[:300])


def test_a_buyer_chooses_the_country_of_use_by_its_name_never_typing_a_code(client, people):
    headers = people["buyer"].headers
    orders = client.get("/buyer/orders?lang=zu", headers=headers).text
    assert 'name="territory" type="text"' not in orders and '<input id="f-territory"' not in orders
    chosen = re.search(r'<option value="GB" selected>([^<]+)</option>', orders)
    assert chosen and chosen.group(1) == "i-United Kingdom"  # the form's default, by name
    assert orders.count("<option value=") >= 249
    catalogue = client.get("/buyer/catalogue?territory=IN&lang=hi", headers=headers).text
    assert '<option value="IN" selected>भारत</option>' in catalogue
    assert '<option value="">कोई भी</option>' in catalogue  # or any country


def test_a_buyer_registers_its_organisations_country_by_name(client, services):
    from datatrust.domain.permissions import Role
    from support import make_persona

    newcomer = make_persona(services, "newcomer", Role.BUYER)
    page = client.get("/buyer/organisation?lang=hi", headers=newcomer.headers).text
    assert '<select id="f-country" name="country" required' in page
    assert '<option value="">देश चुनें</option>' in page and '<option value="IN">भारत</option>' in page
    assert 'name="country" type="text"' not in page


def test_a_person_signing_up_chooses_their_country_by_name(client):
    client.cookies.clear()
    page = client.get("/sign-up?lang=zu").text
    assert '<select id="f-country" name="country">' in page
    assert '<option value="ZA">iNingizimu Afrika</option>' in page
    assert 'name="country" type="text"' not in page and "ZA, IN" not in page
