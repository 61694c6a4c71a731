"""Every page of the demo, walked by its links as each persona (anonymous, the three
contributors, the buyer, the operator) in English, Hindi and isiZulu: every page opens;
in Hindi and isiZulu no code (``item:review``, ``org:1``), no snake_case word
(``model_training``), no H3 id and no English word the catalogue translates reaches the
visible text; and every money figure is the ledger's (read entry by entry) or the terms
it was charged by, formatted by Babel for the reader."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from datatrust.adapters.db import migrate
from datatrust.bootstrap import Services, build
from datatrust.domain.accounts import User
from datatrust.domain.items import Item
from datatrust.domain.money import Money
from datatrust.domain.permissions import ROLE_PERMISSIONS
from datatrust.i18n import format_money, translator
from datatrust.services.accounts import accounts
from datatrust.services.campaigns import campaigns
from datatrust.services.demo import BUYER, CONTRIBUTORS, OPERATOR, seed_demo
from page_text import (
    Books,
    escrow_figures,
    figures,
    leaked_english,
    ledger_figures,
    not_in_words,
    owner_of,
    read_books,
    terms_shown,
    visible,
)
from support import TEST_QUEUE, make_settings, redis_reachable, require_service


@pytest.fixture(scope="module")
def demo(databases, tmp_path_factory) -> Iterator[Services]:
    """The demo seeded once over its own committed database, as ``serve --demo`` does."""
    if TEST_QUEUE == "redis":
        require_service("Redis", redis_reachable())
    settings = make_settings(
        tmp_path_factory.mktemp("demo"),
        database_url=databases.create(),
        queue_backend=TEST_QUEUE if TEST_QUEUE == "redis" else "sqlite",
        queue_name=f"dt-demo-pages-{uuid.uuid4().hex[:8]}",
    )
    svc = build(settings, upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    seed_demo(svc, svc.payment_rail, svc.payouts)
    yield svc
    svc.queue.huey.storage.flush_all()
    svc.close()


@pytest.fixture(scope="module")
def client(demo) -> Iterator:
    from fastapi.testclient import TestClient

    from datatrust.web.app import create_app

    with TestClient(create_app(demo, start_worker=False)) as test_client:
        yield test_client


def token_for(svc: Services, email: str) -> dict[str, str]:
    """A bearer token with every permission of the person's role."""
    with svc.uow() as uow:
        user = uow.one(User, email=email)
        actor = accounts.actor_for(uow, user)
        scopes = sorted(p.value for p in ROLE_PERMISSIONS[actor.role])
        token = accounts.create_api_token(uow, actor, name="pages", scopes=scopes).secret
    return {"Authorization": f"Bearer {token}"}


def contributor_pages(svc: Services, email: str) -> tuple[dict[str, str], list[str]]:
    """A token for the demo contributor, and every page of theirs to read."""
    with svc.uow() as uow:
        user = uow.one(User, email=email)
        actor = accounts.actor_for(uow, user)
        tasks = [c.id for c in campaigns.list_campaigns(uow, actor) if c.state.value == "open"]
        owned = [i.id for i in uow.all(Item, order_by="id", owner_id=user.id)]
    pages = ["/tasks", "/my/items", "/my/earnings", "/my/licences"]
    pages += [f"/tasks/{c}" for c in tasks]
    pages += [p for i in owned for p in (f"/my/items/{i}", f"/my/items/{i}/passport")]
    return token_for(svc, email), pages


class Links(HTMLParser):
    """The links of a page a person can follow: same site, pages (not the API or files)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if not href:
            return
        parts = urlsplit(href)
        if parts.netloc or not parts.path.startswith("/") or parts.path.startswith(NOT_PAGES):
            return
        query = sorted((k, v) for k, v in parse_qsl(parts.query) if k != "lang")
        self.links.append(parts.path + (f"?{urlencode(query)}" if query else ""))


NOT_PAGES = ("/static", "/api", "/docs", "/openapi", "/.well-known")
# Where each persona starts, besides what its pages link to: pages reached by a form
# (the capture page after accepting a task, a catalogue narrowed to one use facet) and
# an error page.
STARTS = {
    "anonymous": ["/", "/sign-in", "/sign-up", "/licences", "/nothing-here"],
    "contributor": ["/my/items", "/tasks", "/review", "/my/notices", "/my/account"],
    "buyer": [
        "/buyer/organisation",
        "/buyer/catalogue?purpose=model_training",
        "/buyer/catalogue?industry=technology",
        "/buyer/catalogue?action=train",
        "/buyer/catalogue?territory=IN",
    ],
    "operator": ["/operator/vetting", "/operator/campaigns", "/operator/incidents"],
}
EXPECTED_STATUS = {"/nothing-here": 404}
MAX_PAGES = 120


@dataclass
class Walk:
    pages: dict[str, str]  # path -> visible text
    statuses: dict[str, int]


def walk(client: Any, headers: dict[str, str], starts: list[str], lang: str) -> Walk:
    """Every page reachable by links from ``starts``, read in ``lang``."""
    todo, seen = list(starts), set(starts)
    out = Walk({}, {})
    while todo and len(out.statuses) < MAX_PAGES:
        path = todo.pop(0)
        sep = "&" if "?" in path else "?"
        page = client.get(f"{path}{sep}lang={lang}", headers=headers, follow_redirects=False)
        out.statuses[path] = page.status_code
        if "text/html" not in page.headers.get("content-type", ""):
            continue
        out.pages[path] = visible(page.text)
        links = Links()
        links.feed(page.text)
        for link in links.links:
            if link not in seen:
                seen.add(link)
                todo.append(link)
    return out


def personas(svc: Services) -> dict[str, tuple[dict[str, str], list[str]]]:
    """Each persona of the demo: its headers and where it starts."""
    out = {"anonymous": ({}, STARTS["anonymous"])}
    for email in CONTRIBUTORS:
        headers, pages = contributor_pages(svc, email)
        out[email] = (headers, STARTS["contributor"] + pages)
    out[BUYER] = (token_for(svc, BUYER), STARTS["buyer"])
    out[OPERATOR] = (token_for(svc, OPERATOR), STARTS["operator"])
    return out


@pytest.fixture(scope="module")
def walks(demo, client) -> dict[tuple[str, str], Walk]:
    """Every persona's walk in every language, read once for the tests below."""
    return {
        (name, lang): walk(client, headers, starts, lang)
        for name, (headers, starts) in personas(demo).items()
        for lang in ("en", "hi", "zu")
    }


PERSONAS = ["anonymous", *CONTRIBUTORS, BUYER, OPERATOR]


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_a_persona_can_reach_opens_without_an_error(walks, persona, lang):
    statuses = walks[persona, lang].statuses
    wrong = {p: s for p, s in statuses.items() if s != EXPECTED_STATUS.get(p, 200)}
    assert wrong == {}
    assert len(statuses) >= len(STARTS.get(persona, STARTS["contributor"]))


@pytest.mark.parametrize("lang", ["hi", "zu"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_of_the_demo_reads_in_words_in_the_readers_language(demo, walks, persona, lang):
    """No code (``item:review``, ``org:1``), no snake_case word (``model_training``), no H3
    id, and no English word the catalogue translates, outside what people wrote."""
    leaked = leaked_english(demo, lang)
    found = {}
    for path, text in walks[persona, lang].pages.items():
        bad = not_in_words(text, leaked)
        if bad:
            found[path] = bad
    assert found == {}


def test_a_sold_items_passport_reads_in_words_in_hindi(demo, client):
    headers, pages = contributor_pages(demo, CONTRIBUTORS[0])
    passport = next(p for p in pages if p.endswith("/passport"))
    text = visible(client.get(f"{passport}?lang=hi", headers=headers).text)
    # The buyer's declared use: its action, purpose and territory in Hindi, dates by CLDR.
    assert "एआई मॉडल को प्रशिक्षित करना" in text and "यूनाइटेड किंगडम" in text
    assert "दिसंबर" in text
    assert "Ada Lab Ltd" in text  # a buyer by its organisation's name, never org:1
    assert "कोई दूसरा योगदानकर्ता" in text  # the peer reviewers, never "user"
    assert "$1.50" in text  # the pay for the work, from the ledger entry's audit event


def test_a_catalogue_area_is_a_place_name_in_isizulu(walks):
    text = walks[BUYER, "zu"].pages["/buyer/catalogue"]
    assert "iKapa, iNingizimu Afrika" in text  # Long Street's cell, never "84ad361ffffffff"
    assert "Ranchi, i-India" in text, text


@pytest.mark.parametrize(
    ("facet", "matches"),
    [
        ("purpose=model_training", True),
        ("purpose=direct_marketing", False),  # training_only permits training, evaluation
        ("industry=technology", True),
        ("industry=surveillance", False),  # prohibited by the licence
        ("action=train", True),
        ("action=create_replica", False),
    ],
)
def test_one_use_facet_alone_narrows_the_catalogue(demo, client, facet, matches):
    headers = token_for(demo, BUYER)
    every = client.get("/buyer/catalogue", headers=headers).text
    page = client.get(f"/buyer/catalogue?{facet}", headers=headers)
    assert page.status_code == 200
    count, listed = (re.search(r'id="match-count">(\d+)', t).group(1) for t in (page.text, every))
    assert int(listed) > 0
    assert count == (listed if matches else "0")


# --- money: every figure on a page is the ledger's, or the terms it was charged by -------


@pytest.fixture(scope="module")
def books(demo) -> Books:
    return read_books(demo)


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_money_figure_on_a_page_is_the_ledgers_or_the_terms_it_was_charged_by(
    demo, walks, books, persona, lang
):
    allowed = ledger_figures(books, owner_of(demo, persona)) | terms_shown(demo)
    allowed |= escrow_figures(demo, books, persona)
    written = {format_money(amount, lang) for amount in allowed}
    currencies = {amount.currency for amount in allowed}
    unexplained = {}
    for path, text in walks[persona, lang].pages.items():
        odd = [f for f in figures(text, lang, currencies) if f not in written]
        if odd:
            unexplained[path] = odd
    assert unexplained == {}


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
@pytest.mark.parametrize("email", CONTRIBUTORS)
def test_a_contributors_earnings_show_the_ledgers_balance_and_every_payment(
    demo, walks, books, email, lang
):
    owner = owner_of(demo, email)
    text = walks[email, lang].pages["/my/earnings"]
    available = books.balance(f"contributor_payable:{owner}:USD")
    assert available.amount_minor > 0
    label = translator(lang).gettext("Available")
    assert f"{label}: {format_money(available, lang)}" in text
    payments = books.postings[f"contributor_payable:{owner}:USD"]
    for amount in payments:  # pay for the work, the coverage bonus, the royalty
        assert format_money(amount, lang) in text
    shown = figures(text.split(translator(lang).gettext("Statement"))[-1], lang, {"USD"})
    assert sorted(shown) == sorted(format_money(a, lang) for a in payments)


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_buyers_order_shows_what_the_ledger_charged(demo, walks, books, lang):
    (sale,) = books.sales
    text = walks[BUYER, lang].pages["/buyer/orders/1"]
    _ = translator(lang).gettext
    for label, key in (
        ("Total to pay", "total"),
        ("Items", "items"),
        ("Platform fee", "fee"),
        ("Contributors' share", "share"),
    ):
        assert f"{_(label)}: {format_money(sale[key], lang)}" in text, label


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_street_task_shows_its_coverage_bonus_and_no_place_one_person_recorded(walks, lang):
    text = walks[CONTRIBUTORS[0], lang].pages["/tasks/1"]
    _ = translator(lang).gettext
    bonus = _("%(bonus)s more for the first recording from an area nobody has recorded yet")
    assert bonus % {"bonus": format_money(Money(50, "USD"), lang)} in text
    # The three demo recordings that were accepted cover Cape Town, Ranchi and Chicago,
    # one person each: no place is listed, since it would say where that person records.
    for city in ("Cape Town", "Ranchi", "Chicago"):
        assert _(city) not in text
    assert _("Already recorded (no bonus there):") not in text
    unlisted = _(
        "Other places earn the bonus too, unless someone has recorded there already. A place "
        "where fewer than %(count)s people have recorded is not listed, so that no one can tell "
        "where a person records."
    )
    assert unlisted % {"count": 3} in text
