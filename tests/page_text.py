"""Reading a page as a person does, shared by the page walks (tests/web/test_demo_pages.py)
and the persona journeys in Chromium (tests/browser/test_browser_personas.py): the visible
text, what on it is a code or an untranslated English word, and whether every money figure
on it is the ledger's (read entry by entry) or the terms it was charged by, formatted by
Babel for the reader."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from babel import Locale
from babel.messages.pofile import read_po
from babel.numbers import get_currency_name, get_currency_symbol

from datatrust.bootstrap import Services
from datatrust.domain.accounts import Organisation, User
from datatrust.domain.campaigns import Campaign
from datatrust.domain.consent import LicenceOffer
from datatrust.domain.currencies import MINOR_UNITS
from datatrust.domain.items import Item
from datatrust.domain.licence import TEMPLATES
from datatrust.domain.money import Money
from datatrust.domain.orders import unit_pay
from datatrust.domain.places import PLACES
from datatrust.i18n import LOCALE_DIR, format_money
from datatrust.services import money
from datatrust.services.accounts import accounts
from datatrust.services.campaigns import campaigns
from datatrust.services.demo import BUYER, OPERATOR, RECORDINGS
from datatrust.services.licensing import licences
from datatrust.services.market import orders

# A code as the services write them: ``subject:action`` or ``snake_case``. Times
# ("18:33") and amounts start with digits, so they do not match; "org:1" does.
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)*:[a-z0-9_]+\b|\b[a-z]+_[a-z_]+\b", re.IGNORECASE)


# Left out of what is read: scripts and styles, and text set as <code> on purpose (a new
# token, its random prefix, recovery codes), which may spell an English word by chance.
UNREAD = ("script", "style", "code")


class VisibleText(HTMLParser):
    """The text a reader sees: no tags, attributes, scripts, styles or <code>."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in UNREAD:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in UNREAD:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z][a-z]{2,}", text)}


@functools.cache
def catalogue_words(lang: str, domain: str = "messages") -> tuple[set[str], set[str]]:
    """The words of every English msgid of a catalogue (``messages`` or ``problems``), and
    those of ``lang``'s translations."""
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
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
        # An organisation's name and site, what it says it will use the data for, and
        # the operator's reason for its vetting.
        texts += [
            f"{o.legal_name} {o.website} {o.intended_uses.get('description', '')} "
            f"{o.status_reason or ''}"
            for o in uow.all(Organisation)
        ]
        texts += [u.display_name + " " + u.email for u in uow.all(User)]
    texts += [r.title for r in RECORDINGS]  # sealed at rest, so read from the demo's table
    return words(" ".join(texts)) | ENGLISH_EVERYWHERE


# Words every language's pages keep: the product's and the standards' names.
ENGLISH_EVERYWHERE = {"datatrust", "api", "json", "odrl", "jsonld", "totp", "csv"}
# An H3 cell id (15 hex digits, resolution digit after the leading 8).
H3_ID = re.compile(r"\b8[0-9a-f]{14}\b")
# A date or time as a machine writes it (ISO 8601: "2026-12-02", "2026-12-02T14:20:46"),
# where a person reads one written by CLDR for their language.
ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
# A figure with a bare English unit symbol ("6 s", "192044 B"), where a reader gets CLDR's
# unit in their language ("6 सेकंड", "187.5 kB").
RAW_UNIT = re.compile(r"\b\d+(?:\.\d+)? (?:s|B)\b")


def leaked_english(svc: Services, lang: str) -> set[str]:
    """English words of the catalogue that ``lang``'s translations never use, less what
    people wrote themselves and the country and currency names CLDR writes in ``lang``
    ("i-United States", "i-South African Rand"): such a word on a page is untranslated."""
    return untranslated_english(lang) - user_content(svc)


def untranslated_english(lang: str, domains: tuple[str, ...] = ("messages",)) -> set[str]:
    """``leaked_english`` without an instance: the English words of the catalogues'
    msgids that ``lang``'s translations never use, less CLDR's names in ``lang``."""
    english, translated = set(), set()
    for domain in domains:
        words_in, words_out = catalogue_words(lang, domain)
        english, translated = english | words_in, translated | words_out
    countries = Locale.parse(lang).territories
    cldr = words(" ".join(countries.get(p.country, "") for p in PLACES))
    cldr |= words(" ".join(get_currency_name(code, locale=lang) for code in MINOR_UNITS))
    return (english - translated) - cldr - ENGLISH_EVERYWHERE


def not_in_words(text: str, leaked: set[str]) -> list[str]:
    """What on a page is not in words in the reader's language: codes (``item:review``,
    ``org:1``, ``model_training``), H3 ids, ISO 8601 dates and times, figures with a bare
    unit symbol, and untranslated English words."""
    bad = set(CODE.findall(text)) | set(H3_ID.findall(text)) | set(ISO_TIME.findall(text))
    bad |= set(RAW_UNIT.findall(text))
    return sorted(bad | {w for w in words(text) if w in leaked})


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
        for entry in uow.ledger.all_entries():
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
    the rate and bonus), what is still missing, and what closing now would give back
    (the service's figure; tests/services/test_campaign_money.py holds it to what closing
    then gives back)."""
    if persona not in (BUYER, OPERATOR):
        return set()
    owner = owner_of(svc, persona)
    out = set()
    with svc.uow(read_only=True) as uow:
        for campaign in uow.all(Campaign):
            if persona == BUYER and f"org:{campaign.org_id}" != owner:
                continue
            held = books.balance(f"escrow:campaign:{campaign.id}:{campaign.currency}")
            needed = money.required_escrow(campaign)
            out |= {held, needed, max(needed - held, Money(0, campaign.currency))}
            if not campaign.finished:
                out.add(campaigns.returned_if_closed(uow, campaign))
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


def allowed_figures(svc: Services, persona: str) -> set[Money]:
    """Every figure a persona's pages may show, as the ledger holds it now: its own
    postings and balances (a buyer's sales), the terms prices are charged by, and the
    escrow of the campaigns it runs."""
    books = read_books(svc)
    allowed = ledger_figures(books, owner_of(svc, persona)) | terms_shown(svc)
    return allowed | escrow_figures(svc, books, persona)


# The money figures the pages tag with what they stand for: ``data-figure`` names the
# figure, ``data-account`` the ledger account whose balance it is, ``data-entry`` the ledger
# entry it is read from (a statement line, a payout, a sale), ``data-campaign`` and
# ``data-order`` the campaign or order a term or a quote belongs to.
TAGGED = """els => els.map(e => ({figure: e.dataset.figure, account: e.dataset.account || "",
  entry: e.dataset.entry || "", campaign: e.dataset.campaign || "", order: e.dataset.order || "",
  currency: e.dataset.currency || "", text: e.textContent}))"""


def tagged_figures(page: Any) -> list[dict[str, str]]:
    """Each ``[data-figure]`` on the page as shown in the browser: its tags and text."""
    return page.locator("[data-figure]").evaluate_all(TAGGED)


def _posted(entry: Any, ref: str) -> Money | None:
    """What ``entry`` posts to the account written ``ref``; None when it does not."""
    found = [p.amount for p in entry.postings if str(p.account) == ref]
    return sum(found[1:], found[0]) if found else None


def expected_figure(svc: Services, persona: str, tag: dict[str, str]) -> Money | str:
    """The one ledger value (or, for an order not bought, the quote) a tagged figure stands
    for, read for ``persona``; a sentence saying why there is none otherwise."""
    owner = owner_of(svc, persona)
    figure, ref, key = tag["figure"], tag["account"], tag["entry"]
    with svc.uow(read_only=True) as uow:
        ledger = uow.ledger
        entry = ledger.entry(key) if key else None
        if key and entry is None:
            return f"no ledger entry {key}"
        if figure in ("available", "in-transit"):
            if f":{owner}:" not in ref:
                return f"{ref} is not {persona}'s"
            return books_balance(ledger, ref)
        if figure == "statement-line":
            cur = (
                [
                    str(p.account)
                    for p in entry.postings
                    if str(p.account).startswith(f"contributor_payable:{owner}:")
                ]
                if entry
                else []
            )
            found = _posted(entry, cur[0]) if cur else None
            return found if found is not None else f"{key} pays nothing to {persona}"
        if figure == "payout":
            out = (
                [
                    str(p.account)
                    for p in entry.postings
                    if str(p.account).startswith(f"payouts_in_transit:{owner}:")
                ]
                if entry
                else []
            )
            found = _posted(entry, out[0]) if out else None
            return found if found is not None else f"{key} is no payout of {persona}"
        if figure.startswith("order-"):
            what = figure.removeprefix("order-")
            if entry is not None:
                funds = f"buyer_funds:{owner}:{tag['currency']}"
                paid = _posted(entry, funds)
                if paid is None:
                    return f"{key} is no sale to {persona}"
                total = -paid
                fee = Money(entry.source["platform_fee_minor"], total.currency)
                share = [
                    p.amount
                    for p in entry.postings
                    if p.account.kind.value == "contributor_payable"
                ]
                return {
                    "total": total,
                    "fee": fee,
                    "items": total - fee,
                    "share": sum(share, Money(0, total.currency)),
                }[what]
            user = uow.one(User, email=persona)
            quote = orders.get_order(uow, accounts.actor_for(uow, user), int(tag["order"])).quote
            minor = {
                "total": "total_minor",
                "fee": "fee_minor",
                "items": "items_minor",
                "share": "contributors_minor",
            }[what]
            return Money(quote["currencies"][tag["currency"]][minor], tag["currency"])
        if figure.startswith("escrow-"):
            campaign = uow.get(Campaign, int(tag["campaign"] or ref.split(":")[2]))
            if persona != OPERATOR and f"org:{campaign.org_id}" != owner:
                return f"campaign {campaign.id} is not run by {persona}"
            cur = campaign.currency
            held = books_balance(ledger, f"escrow:campaign:{campaign.id}:{cur}")
            needed = money.required_escrow(campaign)
            returned = Money(0, cur)
            for release in (
                f"escrow-release:{campaign.id}:{cur}",
                f"escrow-release:{campaign.id}:{cur}:final",
            ):
                found = ledger.entry(release)
                gave = _posted(found, f"escrow:campaign:{campaign.id}:{cur}") if found else None
                returned = returned - (gave or Money(0, cur))
            return {
                "held": held,
                "needed": needed,
                "returned": returned,
                "short": max(needed - held, Money(0, cur)),
            }[figure.removeprefix("escrow-")]
    return f"no rule for {figure}"


def books_balance(ledger: Any, ref: str) -> Money:
    """An account's balance summed from the journal's postings, entry by entry."""
    currency = ref.rsplit(":", 1)[1]
    amounts = [p.amount for e in ledger.all_entries() for p in e.postings if str(p.account) == ref]
    return sum(amounts, Money(0, currency))


def wrong_figures(svc: Services, persona: str, lang: str, page: Any) -> list[str]:
    """Each tagged money figure on ``page`` that is not the ledger value it stands for, as
    Babel writes it for ``lang``: what it shows and what it should."""
    wrong = []
    for tag in tagged_figures(page):
        want = expected_figure(svc, persona, tag)
        shown = tag["text"].strip()
        if isinstance(want, str) or shown != format_money(want, lang):
            said = want if isinstance(want, str) else format_money(want, lang)
            wrong.append(f"{tag['figure']} {tag['entry'] or tag['account']}: {shown!r} != {said!r}")
    return wrong


def unexplained_figures(text: str, lang: str, allowed: set[Money]) -> list[str]:
    """The money figures in ``text`` that are none of ``allowed`` as Babel writes it."""
    written = {format_money(amount, lang) for amount in allowed}
    currencies = {amount.currency for amount in allowed}
    return [f for f in figures(text, lang, currencies) if f not in written]
