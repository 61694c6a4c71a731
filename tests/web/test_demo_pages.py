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
from babel import Locale
from babel.messages.pofile import read_po
from babel.numbers import get_currency_name, get_currency_symbol

from datatrust.adapters.db import migrate
from datatrust.bootstrap import Services, build
from datatrust.domain.accounts import Organisation, User
from datatrust.domain.campaigns import Campaign
from datatrust.domain.consent import LicenceOffer
from datatrust.domain.currencies import MINOR_UNITS
from datatrust.domain.items import Item
from datatrust.domain.licence import TEMPLATES
from datatrust.domain.money import Money
from datatrust.domain.orders import unit_pay
from datatrust.domain.permissions import ROLE_PERMISSIONS
from datatrust.domain.places import PLACES
from datatrust.i18n import LOCALE_DIR, format_money, translator
from datatrust.services import accounts, campaigns, licences
from datatrust.services.demo import BUYER, CONTRIBUTORS, OPERATOR, RECORDINGS, seed_demo
from support import TEST_QUEUE, make_settings, redis_reachable, require_service

# A code as the services write them: ``subject:action`` or ``snake_case``. Times
# ("18:33") and amounts start with digits, so they do not match; "org:1" does.
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)*:[a-z0-9_]+\b|\b[a-z]+_[a-z_]+\b", re.IGNORECASE)


class VisibleText(HTMLParser):
    """The text a reader sees: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


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


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z][a-z]{2,}", text)}


def catalogue_words(lang: str) -> tuple[set[str], set[str]]:
    """The words of every English msgid, and those of ``lang``'s translations."""
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = read_po(f)
    english, translated = set(), set()
    for message in catalogue:
        for msgid in message.id if isinstance(message.id, tuple) else (message.id,):
            english |= words(re.sub(r"%\(\w+\)[sd]", " ", msgid or ""))
        for string in message.string if isinstance(message.string, tuple) else (message.string,):
            translated |= words(string or "")
    return english, translated


def user_content(svc: Services) -> set[str]:
    """What people wrote themselves (titles, descriptions, names): shown as written."""
    with svc.uow() as uow:
        texts = [c.title + " " + c.description for c in uow.all(Campaign)]
        texts += [i.title for i in uow.all(Item)]
        texts += [o.legal_name + " " + o.website for o in uow.all(Organisation)]
        texts += [u.display_name + " " + u.email for u in uow.all(User)]
    texts += [r.title for r in RECORDINGS]  # sealed at rest, so read from the demo's table
    return words(" ".join(texts)) | ENGLISH_EVERYWHERE


# Words every language's pages keep: the product's and the standards' names.
ENGLISH_EVERYWHERE = {"datatrust", "api", "json", "odrl", "jsonld", "totp", "csv"}
# An H3 cell id (15 hex digits, resolution digit after the leading 8).
H3_ID = re.compile(r"\b8[0-9a-f]{14}\b")


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
    english, translated = catalogue_words(lang)
    # Country and currency names as CLDR writes them in the reader's language
    # ("i-United States", "i-South African Rand"): the profile offers every currency.
    countries = Locale.parse(lang).territories
    cldr = words(" ".join(countries.get(p.country, "") for p in PLACES))
    cldr |= words(" ".join(get_currency_name(code, locale=lang) for code in MINOR_UNITS))
    leaked = (english - translated) - user_content(demo) - cldr
    found = {}
    for path, text in walks[persona, lang].pages.items():
        bad = set(CODE.findall(text)) | set(H3_ID.findall(text))
        bad |= {w for w in words(text) if w in leaked}
        if bad:
            found[path] = sorted(bad)
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


@dataclass
class Books:
    """The journal as it stands, read entry by entry (not through the statements the pages
    are built from): each account's postings and each sale's figures."""

    postings: dict[str, list[Money]]  # account ref -> its postings, oldest first
    sales: list[dict[str, Any]]  # buyer org id, total, fee, items, contributors' share

    def balance(self, ref: str, currency: str = "USD") -> Money:
        return sum(self.postings.get(ref, []), Money(0, currency))

    def owned_by(self, owner: str) -> dict[str, list[Money]]:
        return {ref: amounts for ref, amounts in self.postings.items() if f":{owner}:" in ref}


def read_books(svc: Services) -> Books:
    books = Books({}, [])
    with svc.uow(read_only=True) as uow:
        for entry in uow.queries.ledger.all_entries():
            for posting in entry.postings:
                books.postings.setdefault(str(posting.account), []).append(posting.amount)
            if entry.source.get("type") != "sale":
                continue
            paid = [p.amount for p in entry.postings if p.account.kind.value == "buyer_funds"]
            shares = [
                p.amount for p in entry.postings if p.account.kind.value == "contributor_payable"
            ]
            total = -sum(paid, Money(0, entry.source["currency"]))
            fee = Money(entry.source["platform_fee_minor"], total.currency)
            books.sales.append(
                {
                    "org": entry.source["buyer_org_id"],
                    "total": total,
                    "fee": fee,
                    "items": total - fee,
                    "share": sum(shares, Money(0, total.currency)),
                }
            )
    return books


def terms_shown(svc: Services) -> set[Money]:
    """The prices pages quote before any money moves: each campaign's rate, coverage bonus
    and hourly rate by the pay-floor check, each listed item's licence price, the
    instance's pay floor and the licence templates' example price."""
    floors = svc.policy.pay_floors
    out = {Money(licences.EXAMPLE_PRICE_MINOR, "USD")}
    out.add(floors.floor_for(None))
    # The smallest payout, shown before asking: the figure request_payout refuses below.
    out.add(svc.policy.minimum_payout)
    with svc.uow(read_only=True) as uow:
        for campaign in uow.all(Campaign):
            out.add(campaign.rate)
            out.add(Money(campaign.coverage_bonus_minor or 0, campaign.currency))
            out.add(campaigns.pay_floor_check(uow, campaign, floors).hourly_rate)
        for item in uow.all(Item):
            offer = uow.get(LicenceOffer, item.licence_id) if item.licence_id else None
            if offer is not None:
                terms = offer.terms()
                out.add(Money(terms.price_with_surcharge_minor, terms.currency))
        # The licence summaries state a unit's money as a sale charges it (issue 16 §6):
        # offers, each task's licence at its rate, and the templates' example.
        fee = svc.policy.platform_fee_percent
        every = [offer.terms() for offer in uow.all(LicenceOffer)]
        for campaign in uow.all(Campaign):
            every.append(licences.task_licence(campaign, str))
        every += [licences.template_example(name, str) for name in TEMPLATES]
        for terms in every:
            pay = unit_pay(terms, fee)
            out |= {
                Money(a.minor, a.currency) for a in (pay.paid, pay.fee, pay.platform, pay.share)
            }
    return out


def owner_of(svc: Services, persona: str) -> str | None:
    """The ledger owner whose figures a persona's pages show: ``user:N`` or ``org:N``."""
    if persona == "anonymous":
        return None
    with svc.uow(read_only=True) as uow:
        user = uow.one(User, email=persona)
        if persona == BUYER:
            return f"org:{accounts.list_organisations(uow, accounts.actor_for(uow, user))[0].id}"
        return f"user:{user.id}"


def escrow_figures(svc: Services, books: Books, persona: str) -> set[Money]:
    """For the campaigns a persona runs (the buyer its organisation's, the operator every
    one): what escrow holds (summed from the journal), what opening needs (the quota at
    the rate and bonus), what is still missing."""
    if persona not in (BUYER, OPERATOR):
        return set()
    owner = owner_of(svc, persona)
    out = set()
    with svc.uow(read_only=True) as uow:
        for campaign in uow.all(Campaign):
            if persona == BUYER and f"org:{campaign.org_id}" != owner:
                continue
            held = books.balance(f"escrow:campaign:{campaign.id}:{campaign.currency}")
            needed = campaigns.required_escrow(campaign)
            out |= {held, needed, max(needed - held, Money(0, campaign.currency))}
    return out


def ledger_figures(books: Books, owner: str | None) -> set[Money]:
    """Every figure the journal holds for ``owner``: its postings, its balances, and for an
    organisation each sale's total, fee, items and contributors' share."""
    if owner is None:
        return set()
    out: set[Money] = set()
    for ref, amounts in books.owned_by(owner).items():
        out |= {abs(a) for a in amounts} | set(amounts)  # a payout is a debit: "-$10.00"
        out.add(books.balance(ref, amounts[0].currency))
    for sale in books.sales:
        if f"org:{sale['org']}" == owner:
            out |= {sale["total"], sale["fee"], sale["items"], sale["share"]}
    return out | {Money(0, "USD")}


def figures(text: str, lang: str, currencies: set[str]) -> list[str]:
    """Every amount of money in ``text`` as written there: digits next to a currency's
    symbol or code in ``lang`` (Babel's CLDR data), with a sign."""
    marks = set()
    for currency in currencies:
        marks |= {currency, get_currency_symbol(currency, locale=lang)}
    mark = "|".join(sorted(map(re.escape, marks), key=len, reverse=True))
    number = r"\d[\d,\u00a0\u202f]*(?:\.\d+)?"
    sign = r"(?:(?<!\w)[-\u2212])?"  # not isiZulu's "u-" before an amount ("u-$1.00")
    pattern = rf"{sign}(?:{mark})\s?[-\u2212]?{number}|{sign}{number}\s?(?:{mark})"
    return [m.group(0).strip() for m in re.finditer(pattern, text)]


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
def test_the_street_task_shows_its_coverage_bonus_and_the_areas_already_recorded(walks, lang):
    text = walks[CONTRIBUTORS[0], lang].pages["/tasks/1"]
    _ = translator(lang).gettext
    bonus = _("%(bonus)s more for the first recording from an area nobody has recorded yet")
    assert bonus % {"bonus": format_money(Money(50, "USD"), lang)} in text
    # The three demo recordings that were accepted cover Cape Town, Ranchi and Chicago.
    for city in ("Cape Town", "Ranchi", "Chicago"):
        assert _(city) in text.split(_("Already recorded (no bonus there):"))[1]
