"""Each persona's journey in Chromium at 360 px, in English, Hindi and isiZulu (issue 18,
"Done when"): a new contributor, the demo contributor, the demo buyer and the operator.
Every page visited is checked as shown (``Journey.see``): axe-core clean and no sideways
scrolling; every money figure on it is one the ledger holds for that persona (read entry
by entry) or a term it is charged by, written by the same Babel formatter for the page's
language; and on Hindi and isiZulu pages no code, snake_case word, H3 id or untranslated
English word (the readers of tests/page_text.py, shared with the page walks).

The journeys share the browser tests' one server (a fresh demo); each language runs as its
own test. With ``DATATRUST_SCREENSHOTS=docs/screenshots`` the pages the README shows are
refreshed from this run."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from contributor_steps import (
    delete_one_item,
    erase_my_account,
    export_my_data,
    give_consent_again,
    search,
    withdraw_consent,
)
from test_browser_journeys import PHONE, sign_in, sign_up, unique_email

import ingest_media as media
from datatrust.domain.accounts import User
from datatrust.domain.campaigns import Campaign
from datatrust.domain.items import Item
from datatrust.domain.money import Money
from datatrust.domain.permissions import Role
from datatrust.i18n import format_money, translator
from datatrust.services import market
from datatrust.services.accounts.accounts import actor_for
from datatrust.services.campaigns import campaigns
from datatrust.services.contributions import items
from datatrust.services.demo import BUYER, DEMO_PASSWORD, OPERATOR
from datatrust.services.market import orders
from page_text import (
    allowed_figures,
    leaked_english,
    not_in_words,
    owner_of,
    read_books,
    tagged_figures,
    unexplained_figures,
    visible,
    words,
    wrong_figures,
)
from support import make_persona

pytestmark = pytest.mark.browser
LANGS = ["en", "hi", "zu"]
# The demo contributor who reads each language: Marcus (Chicago), Priya (Ranchi), Sipho
# (Cape Town).
DEMO_CONTRIBUTOR = {
    "en": "marcus@demo.datatrust",
    "hi": "priya@demo.datatrust",
    "zu": "sipho@demo.datatrust",
}
# Where each language's buyer will use the data: not where the demo's sale (GB) allows
# it already, so there is something new to buy (another territory is a new use).
TERRITORY = {"en": "US", "hi": "IN", "zu": "ZA"}
# A different street recording for each language's new contributor (no duplicates).
CLIP_SEED = {"en": 41, "hi": 42, "zu": 43}
QUEUED_SEED = {"en": 51, "hi": 52, "zu": 53}


@dataclass
class Journey:
    """One persona reading pages in one language."""

    page: Any
    lang: str
    who: str  # the persona's email, or "anonymous"
    check: Callable[[Any, str], None]
    services: Any
    written: str = ""  # what people typed in this journey, shown as written
    tagged: set[str] = field(default_factory=set)  # the tagged figures on the last page seen

    def _(self, msgid: str) -> str:
        return translator(self.lang).gettext(msgid)

    def see(self, name: str, also: Iterable[Money] = ()) -> str:
        """Check the page as shown and return its visible text. ``also``: figures a
        service computed for this page that the ledger does not hold yet (a quote)."""
        services = self.services
        text = visible(self.page.content())
        allowed = allowed_figures(services, self.who) | set(also)
        odd = unexplained_figures(text, self.lang, allowed)
        assert odd == [], f"{name} ({self.lang}): money not from the ledger or the terms: {odd}"
        # Each tagged figure is the one ledger value it stands for, not just any of them.
        self.tagged = {t["figure"] for t in tagged_figures(self.page)}
        wrong = wrong_figures(services, self.who, self.lang, self.page)
        assert wrong == [], (
            f"{name} ({self.lang}): figures not the ledger's they stand for: {wrong}"
        )
        if self.lang != "en":
            leaked = leaked_english(services, self.lang) - words(self.written)
            bad = not_in_words(text, leaked)
            assert bad == [], f"{name} ({self.lang}): not in words: {bad}"
        self.check(self.page, f"{name}_{self.lang}")
        return text

    def go(self, path: str, name: str, also: Iterable[Money] = ()) -> str:
        response = self.page.goto(path)
        assert response.ok, f"{path}: {response.status}"
        return self.see(name, also)


def journey(browser, live_server: str, check, services, lang: str, who: str) -> Journey:
    """A fresh phone in ``lang`` (remembered from the first page on), signed in as the
    demo's ``who`` unless anonymous."""
    context = browser.new_context(viewport=PHONE, base_url=live_server, locale="en-GB")
    page = context.new_page()
    if who != "anonymous":
        sign_in(page, who, DEMO_PASSWORD)
        page.wait_for_load_state()
    page.goto(f"/?lang={lang}")
    return Journey(page, lang, who, check, services)


def actor(services, email: str):
    with services.uow() as unit:
        return actor_for(unit, unit.one(User, email=email))


@pytest.mark.parametrize("lang", LANGS)
def test_a_new_contributor_signs_up_takes_a_task_uploads_and_follows_it(
    browser, live_server, check, open_task, live_services, lang
):
    me = journey(browser, live_server, check, live_services, lang, "anonymous")
    _ = me._
    me.go("/", "home")
    # Tasks, their pay and their licence can be read before signing up.
    me.go("/tasks", "tasks_before_sign_up")
    me.go(f"/tasks/{open_task['id']}", "task_before_sign_up")
    email = unique_email(f"new-{lang}")
    sign_up(me.page, live_services, email, lang=lang)
    me.page.wait_for_url("**/my/items")
    me.who = email
    me.see("new_contributor_items")

    me.go("/tasks", "tasks")
    card = me.page.locator("li.task", has=me.page.get_by_role("link", name=open_task["title"]))
    card.get_by_role("link", name=open_task["title"]).click()
    me.page.wait_for_url(f"**/tasks/{open_task['id']}")
    assert me.page.locator("li.risk").count() > 0  # the licence's risks, before accepting
    me.see("task")
    me.page.locator("form[action$='/accept'] button").click()
    me.page.wait_for_url("**/capture?offer=*")
    me.see("capture")

    clip = media.ambient(seed=CLIP_SEED[lang], fmt="opus")
    me.page.set_input_files(
        "#f-file", files=[{"name": "street.ogg", "mimeType": "audio/ogg", "buffer": clip}]
    )
    me.page.locator("#upload button[type=submit]").click()
    me.page.wait_for_url("**/my/items/*", timeout=60_000)
    status = me.page.locator("#item-status")
    for _attempt in range(60):
        if status.get_attribute("data-status") not in ("received", "validated"):
            break
        me.page.wait_for_timeout(1000)
        me.page.reload()
    assert status.get_attribute("data-status") in ("processed", "accepted", "listed")
    # Not paid yet: what acceptance will pay, as the function that pays it computes it.
    item_id = int(me.page.url.rsplit("/", 1)[1].split("?")[0])
    with live_services.uow() as unit:
        pay = campaigns.item_pay(unit.get(Campaign, open_task["id"]), unit.get(Item, item_id))
    text = me.see("new_contributor_item", also=[pay])
    assert _("Consent given") in text
    will_pay = _("When it is accepted, %(amount)s goes to your balance.")
    assert will_pay % {"amount": format_money(pay, lang)} in text

    # Her own media in the export: the recording exactly as she sent it.
    exported = export_my_data(me.page, _)
    assert exported.read(f"media/{item_id}-original.ogg") == clip

    # A long list: pages of twenty, and a search that finds one item among them.
    with live_services.uow() as unit:
        for n in range(1, 21):
            items.receive_item(
                unit,
                live_services.storage,
                actor(live_services, email),
                kind="ambient",
                filename=f"corner-{n:02d}.ogg",
                content_type="audio/ogg",
                chunks=[b"not a recording %d" % n],  # refused by its checks, kept in the list
                title=f"Corner {n:02d}",
            )
    text = me.go("/my/items", "items_page_1")
    assert _("Page %(page)s of %(pages)s") % {"page": 1, "pages": 2} in text
    me.page.locator("a[rel=next]").click()
    me.page.wait_for_url("**/my/items?n=2")
    assert _("Page %(page)s of %(pages)s") % {"page": 2, "pages": 2} in me.see("items_page_2")
    search(me.page, _("Words in the title or file name"), "Corner 07")
    text = me.see("items_search")
    assert _("Items found: %(count)s") % {"count": 1} in text and "Corner 07" in text

    # Deleting one item, after reading what it does; then the whole account.
    effects = delete_one_item(me.page, item_id, me.see)
    kept = _("Money already paid for it stays yours: the accounts of what was paid are kept.")
    assert kept in effects
    assert _("The item was deleted.") in me.page.locator("main").inner_text()

    def signed_out(name: str) -> str:
        me.who = "anonymous"  # erased: no account, no ledger of her own to read
        return me.see(name)

    erase_my_account(me.page, _, signed_out)
    assert me.page.locator("h1").inner_text() == _("Your account is deleted")
    me.page.context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_the_demo_contributor_reads_items_passport_earnings_payouts_and_inbox(
    browser, live_server, check, live_services, lang
):
    email = DEMO_CONTRIBUTOR[lang]
    me = journey(browser, live_server, check, live_services, lang, email)
    _ = me._
    me.go("/my/items", "items")
    first = me.page.locator("main a[href^='/my/items/']").first.get_attribute("href")
    me.go(first, "item")
    me.page.get_by_role("link", name=_("Data passport: who saw and bought it")).click()
    me.page.wait_for_url("**/passport")
    me.see("passport")

    # Earnings: the balance is the ledger's, to the minor unit, in the reader's format.
    text = me.go("/my/earnings", "earnings")
    owner = owner_of(me.services, email)
    available = read_books(me.services).balance(f"contributor_payable:{owner}:USD")
    assert f"{_('Available')}: {format_money(available, lang)}" in text
    paid_out = read_books(me.services).postings.get(f"payouts_in_transit:{owner}:USD")
    tags = {"available", "in-transit", "statement-line"} | ({"payout"} if paid_out else set())
    assert tags <= me.tagged  # Marcus has asked for payouts; Priya and Sipho not yet

    # "Where I am paid", or "Add a payout method" for someone with none yet.
    me.page.locator("main a[href='/my/payout-methods']").first.click()
    me.page.wait_for_url("**/my/payout-methods")
    mpesa = me.page.locator("section", has=me.page.locator("#h-mpesa"))
    mpesa.locator("#f-mpesa-phone").fill("0712 345 678")
    mpesa.locator("#f-mpesa-current_password").fill(DEMO_PASSWORD)  # asked again
    mpesa.locator("button[type=submit]").click()
    me.page.wait_for_selector(f"text={_('Payout method added.')}")
    me.see("payout_methods")

    me.go("/my/inbox", "inbox")

    # Withdrawing consent from the item: a confirmation stating the effect, as the
    # service counts it (buyers holding a copy, their deadline), then its button: two
    # steps, as giving was (the licence read, then its button).
    item_id = int(first.rsplit("/", 1)[1])
    with live_services.uow() as unit:
        effects = market.deletion_effects(unit, actor(live_services, email), item_id)
        stood = unit.get(Item, item_id).status.value
    if effects.buyers_holding:
        expected = _(
            "Withdrawing takes it out of every future sale at once. Buyers that hold a copy "
            "(%(count)s) are told to delete it within %(days)s days. Money already paid "
            "stays yours."
        ) % {"count": effects.buyers_holding, "days": effects.deletion_deadline_days}
    else:
        expected = _(
            "Withdrawing takes it out of every future sale at once. No buyer holds a copy. "
            "Money already paid stays yours."
        )
    assert withdraw_consent(me.page, first, _, me.see) == expected
    assert _("Consent withdrawn. Buyers that hold it must delete it.") in me.see("withdrawn")

    # ...and given again, through the licence choice a first consent takes: a new
    # consent, the item back where it stood, the passport telling both.
    said = give_consent_again(me.page, first, _, me.see)
    assert said == _(
        "This is a new consent, with its own receipt. Your earlier consent and its "
        "withdrawal stay in the item's history, and buyers already told to delete it must "
        "still delete it. Buyers can license it again only under the licence you choose now."
    )
    assert _("Consent given") in me.see("consent_given_again")
    assert me.page.locator("#item-status").get_attribute("data-status") == stood
    assert _("consent given again") in me.go(f"{first}/passport", "passport_again")
    me.page.context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_the_demo_buyer_declares_a_use_buys_and_builds_a_snapshot(
    browser, live_server, check, live_services, lang
):
    me = journey(browser, live_server, check, live_services, lang, BUYER)
    _ = me._
    me.go("/buyer/catalogue", "buyer_catalogue")
    me.go("/buyer/orders", "buyer_orders")
    me.page.locator("#f-action").select_option("train")
    me.page.locator("#f-purpose").select_option("model_training")
    me.page.locator("#f-industry").select_option("technology")
    me.page.locator("#f-task").select_option("scene_understanding")
    me.page.locator('input[name="outputs"][value="labels"]').check()
    me.page.locator("#f-territory").select_option(TERRITORY[lang])
    me.page.get_by_role("button", name=_("See the selection and quote")).click()
    me.page.wait_for_url("**/buyer/orders/*")
    order_id = int(me.page.url.rsplit("/", 1)[1].split("?")[0])

    # The quote as the orders service computed it, shown exactly.
    with me.services.uow() as unit:  # type: ignore[attr-defined]
        quote = orders.get_order(unit, actor(me.services, BUYER), order_id).quote
    quoted = [
        Money(t[key], currency)
        for currency, t in quote.get("currencies", {}).items()
        for key in ("total_minor", "items_minor", "fee_minor", "contributors_minor")
    ]
    text = me.see("buyer_quote", also=quoted)
    for currency, t in quote.get("currencies", {}).items():
        total = format_money(Money(t["total_minor"], currency), lang)
        assert f"{_('Total to pay')}: {total}" in text
    assert {"order-total", "order-items", "order-fee", "order-share"} <= me.tagged

    assert quote["items"] > 0, "nothing new to buy for this use"
    me.page.get_by_role("button", name=_("Buy")).click()
    me.page.wait_for_selector("p.ok")
    # Bought: the order shows what the ledger charged for it, to the minor unit.
    sale = read_books(me.services).sales[-1]
    text = me.see("buyer_bought")
    assert f"{_('Total to pay')}: {format_money(sale['total'], lang)}" in text
    assert f"{_('Platform fee')}: {format_money(sale['fee'], lang)}" in text
    entries = {t["entry"] for t in tagged_figures(me.page) if t["figure"] == "order-total"}
    assert entries == {f"sale:order-{order_id}-{c}" for c in quote["currencies"]}
    me.page.get_by_role("button", name=_("Build a snapshot")).click()
    me.page.wait_for_url("**/buyer/snapshots")
    me.see("buyer_snapshots")
    me.go("/buyer/feed", "feed")
    me.page.context.close()


@pytest.fixture
def waiting_item(open_task: dict[str, object], live_services, lang: str) -> int:
    """One of Priya's street recordings sent to the open task, processed and waiting for
    the operator's review."""
    with live_services.uow() as unit:
        item = items.receive_item(
            unit,
            live_services.storage,
            actor(live_services, "priya@demo.datatrust"),
            kind="ambient",
            filename="queued.ogg",
            content_type="audio/ogg",
            chunks=[media.ambient(seed=QUEUED_SEED[lang], fmt="opus")],
            title="Queued street",
            campaign_id=open_task["id"],
        )
    return item.id


@pytest.fixture
def pending_org(live_services, lang: str) -> str:
    """A buyer's organisation waiting for the operator's vetting: its name."""
    return make_persona(live_services, f"vetted-{lang}", Role.BUYER, org=True).name + " Ltd"


@pytest.mark.parametrize("lang", LANGS)
def test_the_operator_launches_a_campaign_reviews_with_reasons_vets_and_pays_out(
    browser, live_server, check, live_services, open_task, waiting_item, pending_org, lang
):
    me = journey(browser, live_server, check, live_services, lang, OPERATOR)
    _ = me._
    me.go("/operator/vetting", "operator_vetting")
    # Vetting: refusing an organisation needs a reason, which its buyer will read.
    card = me.page.locator("li.card", has=me.page.get_by_role("heading", name=pending_org))
    card.get_by_role("button", name=_("Reject")).click()
    card = me.page.locator("li.card", has=me.page.get_by_role("heading", name=pending_org))
    card.locator(".error").wait_for()
    me.see("operator_vetting_reason")
    card.locator("input[name=reason]").fill("No address we could check")
    card.get_by_role("button", name=_("Reject")).click()
    me.page.wait_for_url("**/operator/vetting#org-*")
    card = me.page.locator("li.card", has=me.page.get_by_role("heading", name=pending_org))
    assert "No address we could check" in card.inner_text()

    # A campaign from the pages: created as a draft, funded, opened.
    me.go("/operator/campaigns", "operator_campaigns")
    me.page.goto("/campaigns/new")
    me.page.locator("#f-title").fill(f"Bus stops at dawn ({lang})")
    me.page.locator("#f-description").fill("The stop, before seven")
    me.page.locator("#f-expected_minutes").fill("5")
    me.page.locator("#f-rate").fill("1.00")
    me.page.locator("#f-quota").fill("10")
    with me.page.expect_navigation():
        me.page.get_by_role("button", name=_("Create the campaign (as a draft)")).click()
    me.see("campaign_draft")
    me.page.get_by_role("button", name=_("Fund escrow")).click()
    me.page.wait_for_selector("#open")
    me.page.locator("#open").click()
    me.page.wait_for_selector("#pause")
    text = me.see("campaign_open")
    campaign_id = int(me.page.url.rsplit("/", 1)[1].split("?")[0].split("#")[0])
    held = read_books(me.services).balance(f"escrow:campaign:{campaign_id}:USD")
    assert held.amount_minor > 0
    assert f"{_('Held in escrow')} {format_money(held, lang)}" in text
    assert {"escrow-held", "escrow-needed"} <= me.tagged

    # The review queue: rejecting needs a reason, which the contributor will read.
    me.go(f"/operator/review?campaign={open_task['id']}", "operator_review")
    card = me.page.locator(f"#item-{waiting_item}")
    card.get_by_role("button", name=_("Reject")).click()
    card = me.page.locator(f"#item-{waiting_item}")
    card.locator(".error").wait_for()
    me.see("operator_review_reason")
    card.locator(f"#note-{waiting_item}").fill("A car horn covers the street")
    card.get_by_role("button", name=_("Reject")).click()
    me.page.wait_for_load_state()
    assert me.page.locator(f"#item-{waiting_item}").count() == 0
    # ...and Priya reads that reason on her item's page, in the same language.
    priya = journey(browser, live_server, check, live_services, lang, "priya@demo.datatrust")
    priya.written = "Queued street. A car horn covers the street"  # her title, its reason
    assert "A car horn covers the street" in priya.go(f"/my/items/{waiting_item}", "rejected")
    priya.page.context.close()

    me.go("/operator/payouts", "operator_payouts")
    me.page.get_by_role("button", name=_("Run a payout batch")).click()
    me.page.wait_for_url("**/operator/payouts?queued=*")
    me.see("operator_payouts_queued")
    me.page.context.close()
