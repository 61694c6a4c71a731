"""Campaign pages for the people who run them (a buyer's organisation, the operator):
create with the pay-floor check of the typed terms, fund escrow, open, close with what
came back shown, and the progress; every figure the ledger's or the pay-floor check's."""

from __future__ import annotations

import re
from html import escape

import pytest
from babel.numbers import get_currency_name

from datatrust.domain.campaigns import Campaign
from datatrust.domain.errors import Problem
from datatrust.domain.ledger import AccountRef
from datatrust.domain.money import Money
from datatrust.i18n import format_money, render_problem, translator
from datatrust.services.campaigns import campaigns
from datatrust.web.pages.manage import OPEN_REFUSALS

FORM = {
    "title": "Bus stops at dawn",
    "description": "Thirty seconds of a bus stop before seven",
    "kind": "ambient",
    "pay_basis": "per_item",
    "rate": "1.00",
    "currency": "USD",
    "quota": "20",
    "expected_minutes": "5",
    "coverage_bonus": "0.25",
    "max_duration_s": "",
    "review_mode": "operator",
    "licence_template": "training_only",
}


def balance(services, ref: AccountRef) -> Money:
    with services.uow(read_only=True) as uow:
        return uow.ledger.balance(ref)


def create(client, headers, **changes) -> int:
    response = client.post(
        "/campaigns", headers=headers, data={**FORM, **changes}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def fund(client, headers, campaign_id: int, amount: str, key: str):
    return client.post(
        f"/campaigns/{campaign_id}/fund",
        headers=headers,
        data={"amount": amount, "idempotency_key": key},
        follow_redirects=False,
    )


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found is not None, element_id
    return found.group(1).strip()


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_campaign_form_checks_the_typed_rate_against_the_pay_floor(client, people, lang):
    headers = people["operator"].headers
    # $1.00 for 5 minutes is $12.00 an hour, over the default floor of $8.00.
    ok = client.get(
        f"/campaigns/new?part=check&rate=1.00&expected_minutes=5&lang={lang}", headers=headers
    )
    assert ok.status_code == 200 and 'class="ok"' in ok.text
    assert format_money(Money(1200, "USD"), lang) in ok.text
    # $0.50 for 5 minutes is $6.00: below, and it says the least rate that meets it.
    low = client.get(
        f"/campaigns/new?part=check&rate=0.50&expected_minutes=5&lang={lang}", headers=headers
    )
    assert 'class="error"' in low.text
    for minor in (600, 800, 67):  # hourly, floor, least rate per item (8.00 × 5 / 60 ↑)
        assert format_money(Money(minor, "USD"), lang) in low.text
    # Without JavaScript the whole form asks for the same check.
    form = client.get("/campaigns/new?rate=0.50&expected_minutes=5", headers=headers)
    assert 'id="pay-check"' in form.text and 'class="error"' in form.text


def test_an_operator_creates_funds_opens_and_closes_a_campaign_and_sees_what_came_back(
    client, people, services
):
    headers = people["operator"].headers
    campaign_id = create(client, headers)
    page = client.get(f"/campaigns/{campaign_id}", headers=headers).text
    # Quota 20 × ($1.00 + $0.25 bonus) = $25.00 needed; nothing held yet.
    assert text_of(page, "escrow-needed") == "$25.00"
    assert text_of(page, "escrow-short") == "$25.00"
    assert text_of(page, "hourly") == "about $12.00 an hour"
    refused = client.post(f"/campaigns/{campaign_id}/open", headers=headers)
    assert refused.status_code == 422 and "fund the amount still missing" in refused.text
    funded = fund(client, headers, campaign_id, "30.00", "k1")
    assert funded.status_code == 303
    escrow = AccountRef.escrow(campaign_id, "USD")
    assert balance(services, escrow) == Money(3000, "USD")
    page = client.get(f"/campaigns/{campaign_id}", headers=headers).text
    assert text_of(page, "escrow-held") == "$30.00"
    opened = client.post(f"/campaigns/{campaign_id}/open", headers=headers, follow_redirects=False)
    assert opened.status_code == 303
    page = client.get(f"/campaigns/{campaign_id}", headers=headers).text
    assert text_of(page, "quota") == "20" and text_of(page, "accepted") == "0"
    assert text_of(page, "pending") == "0"
    # Paused, it takes no work and leaves the contributors' task list; opened again, back.
    paused = client.post(f"/campaigns/{campaign_id}/pause", headers=headers, follow_redirects=False)
    assert paused.status_code == 303
    tasks = client.get("/tasks", headers=people["owner"].headers).text
    assert FORM["title"] not in tasks
    with services.uow(read_only=True) as uow:
        assert campaigns.check_campaign_takes_work(uow, campaign_id) != []
    resumed = client.post(
        f"/campaigns/{campaign_id}/resume", headers=headers, follow_redirects=False
    )
    assert resumed.status_code == 303
    assert FORM["title"] in client.get("/tasks", headers=people["owner"].headers).text
    closed = client.post(f"/campaigns/{campaign_id}/close", headers=headers, follow_redirects=False)
    assert closed.status_code == 303
    page = client.get(f"/campaigns/{campaign_id}?lang=zu", headers=headers).text
    # Nothing was owed: all of it came back, as the ledger says.
    assert balance(services, escrow) == Money(0, "USD")
    assert text_of(page, "escrow-returned") == format_money(Money(3000, "USD"), "zu")


def test_a_rate_below_the_floor_cannot_open_and_the_page_says_the_least_rate(client, people):
    headers = people["operator"].headers
    campaign_id = create(client, headers, rate="0.50", coverage_bonus="")
    fund(client, headers, campaign_id, "10.00", "k2")
    refused = client.post(f"/campaigns/{campaign_id}/open?lang=hi", headers=headers)
    assert refused.status_code == 422
    assert text_of(refused.text, "least") == "$0.67"
    assert translator("hi").gettext(OPEN_REFUSALS["invalid_input"]) in refused.text


def test_opening_from_a_stale_page_says_the_campaign_moved_not_that_escrow_is_short(client, people):
    """Open pressed again in a second tab after the campaign opened: the refusal names its
    state in the reader's words, not the escrow message a short escrow gets."""
    headers = people["operator"].headers
    campaign_id = create(client, headers, coverage_bonus="")
    fund(client, headers, campaign_id, "30.00", "k9")
    opened = client.post(f"/campaigns/{campaign_id}/open", headers=headers, follow_redirects=False)
    assert opened.status_code == 303
    again = client.post(f"/campaigns/{campaign_id}/open?lang=hi", headers=headers)
    assert again.status_code == 422
    moved = Problem(None, "campaign.state_change", {"state": "open", "to": "open"})
    assert escape(render_problem(moved, "hi")) in again.text
    assert translator("hi").gettext(OPEN_REFUSALS["conflict"]) not in again.text


def test_a_buyer_runs_its_own_campaign_and_funds_it_from_its_card(client, people, services):
    headers = people["buyer"].headers
    campaign_id = create(client, headers, coverage_bonus="")
    assert f"/campaigns/{campaign_id}" in client.get("/campaigns", headers=headers).text
    funded = fund(client, headers, campaign_id, "20.00", "k3")
    assert funded.status_code == 303
    assert balance(services, AccountRef.escrow(campaign_id, "USD")) == Money(2000, "USD")
    assert client.post(f"/campaigns/{campaign_id}/open", headers=headers).status_code == 200
    # Another organisation's buyer, and a contributor, never see it.
    assert (
        client.get(f"/campaigns/{campaign_id}", headers=people["owner"].headers).status_code == 403
    )
    assert (
        client.get(f"/campaigns/{campaign_id}", headers=people["buyer"].headers).status_code == 200
    )


def test_a_campaign_with_problems_is_refused_by_field_keeping_what_was_typed(client, people):
    headers = people["operator"].headers
    page = client.post(
        "/campaigns?lang=hi", headers=headers, data={**FORM, "title": "", "rate": "1.5.0"}
    )
    assert page.status_code == 422
    assert 'value="Thirty seconds of a bus stop before seven"' in page.text
    assert page.text.count('class="error"') >= 1


def test_the_campaign_page_offers_exactly_the_actions_its_state_allows(client, people, services):
    """The buttons come from ``Campaign.actions``: what the services would take."""
    headers = people["operator"].headers
    campaign_id = create(client, headers)

    def offered() -> list[str]:
        page = client.get(f"/campaigns/{campaign_id}", headers=headers).text
        posts = re.findall(rf'action="/campaigns/{campaign_id}/(\w+)"', page)
        with services.uow(read_only=True) as uow:
            state = campaigns.get_campaign(uow, people["operator"].actor, campaign_id).state
        return [state.value, *posts]

    assert offered() == ["draft", "fund", "open", "close"]
    fund(client, headers, campaign_id, "30.00", "k-actions")
    client.post(f"/campaigns/{campaign_id}/open", headers=headers)
    assert offered() == ["open", "fund", "pause", "close"]
    client.post(f"/campaigns/{campaign_id}/pause", headers=headers)
    assert offered() == ["paused", "fund", "resume", "close"]
    # What the page no longer offers, the service refuses: a paused campaign is resumed.
    refused = client.post(f"/campaigns/{campaign_id}/open", headers=headers)
    assert refused.status_code == 422 and offered()[0] == "paused"
    client.post(f"/campaigns/{campaign_id}/close", headers=headers)
    assert offered() == ["closed"]
    late = fund(client, headers, campaign_id, "1.00", "k-late")
    assert late.status_code == 422 and offered() == ["closed"]


def test_the_campaign_page_asks_the_domain_and_compares_no_state_itself(
    client, people, monkeypatch
):
    headers = people["operator"].headers
    campaign_id = create(client, headers)  # a draft
    monkeypatch.setattr(Campaign, "actions", property(lambda self: ("pause",)))
    monkeypatch.setattr(Campaign, "finished", property(lambda self: True))
    page = client.get(f"/campaigns/{campaign_id}", headers=headers).text
    assert re.findall(rf'action="/campaigns/{campaign_id}/(\w+)"', page) == ["pause"]
    assert 'id="escrow-returned"' in page and 'id="escrow-short"' not in page


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_campaign_currency_is_chosen_by_its_name_not_typed_as_a_code(client, people, lang):
    """The form asked for 'Currency (ISO code)' in a text box: a buyer typed 'USD' (in
    Hindi and isiZulu too). It is a list of every currency by its CLDR name in the
    reader's language, keeping the one chosen when the form comes back with a problem."""
    headers = people["operator"].headers
    form = client.get(f"/campaigns/new?lang={lang}", headers=headers).text
    assert '<select id="f-currency" name="currency">' in form
    assert 'name="currency" type="text"' not in form
    assert "ISO" not in form
    rupee = get_currency_name("INR", locale=lang)
    assert f'<option value="INR">{escape(rupee)}</option>' in form
    assert f'<option value="USD" selected>{escape(get_currency_name("USD", locale=lang))}' in form
    back = client.post(
        f"/campaigns?lang={lang}", headers=headers, data={**FORM, "title": "", "currency": "ZAR"}
    )
    assert back.status_code == 422
    assert f'<option value="ZAR" selected>{escape(get_currency_name("ZAR", locale=lang))}' in (
        back.text
    )


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_close_button_says_what_closing_gives_back_before_it_is_pressed(
    client, people, services, lang
):
    """Closing said only 'what escrow holds beyond what waiting work may be owed comes
    back'; the figure appeared after closing. It is shown beside the button, and it is what
    closing then gives back (the ledger's release entry)."""
    headers = people["operator"].headers
    campaign_id = create(client, headers)
    assert fund(client, headers, campaign_id, "30.00", "k1").status_code == 303
    client.post(f"/campaigns/{campaign_id}/open", headers=headers)
    page = client.get(f"/campaigns/{campaign_id}?lang={lang}", headers=headers).text
    said = translator(lang).gettext("Closing now gives back %(amount)s at once.") % {
        "amount": format_money(Money(3000, "USD"), lang)
    }
    assert f'<p id="escrow-if-closed">{escape(said)}</p>' in page
    closed = client.post(f"/campaigns/{campaign_id}/close", headers=headers, follow_redirects=False)
    assert closed.status_code == 303
    page = client.get(f"/campaigns/{campaign_id}?lang={lang}", headers=headers).text
    assert text_of(page, "escrow-returned") == format_money(Money(3000, "USD"), lang)
    assert 'id="escrow-if-closed"' not in page


def _stop_organisation(services, people, status: str) -> None:
    """The buyer's organisation suspended by an operator (with a reason), or found
    rejected (stored: no decision leads from approved to rejected)."""
    from datatrust.domain.accounts import Organisation, OrgStatus
    from datatrust.services import accounts

    org_id = people["buyer"].actor.org_id
    with services.uow() as uow:
        if status == "suspended":
            accounts.decide_organisation(
                uow, people["operator"].actor, org_id, "suspend", "overdue deletion"
            )
        else:
            uow.get(Organisation, org_id).status = OrgStatus(status)
            uow.commit()


@pytest.mark.parametrize("status", ["suspended", "rejected"])
def test_an_organisation_not_approved_cannot_fund_open_or_resume_but_can_pause_and_close(
    client, people, services, status
):
    """Outside review: a suspended organisation funded and opened its campaign. It may
    still stop one (pause, close) and have the escrow left returned."""
    headers = people["buyer"].headers

    def post(path: str):
        return client.post(path, headers=headers, follow_redirects=False)

    draft, running, paused = (create(client, headers, coverage_bonus="") for _ in range(3))
    for campaign_id in (draft, running, paused):
        assert fund(client, headers, campaign_id, "20.00", f"k-{campaign_id}").status_code == 303
    for campaign_id in (running, paused):
        assert client.post(f"/api/campaigns/{campaign_id}/open", headers=headers).status_code == 200
    assert post(f"/campaigns/{paused}/pause").status_code == 303
    _stop_organisation(services, people, status)

    opened = client.post(f"/api/campaigns/{draft}/open", headers=headers)
    assert opened.status_code == 403, opened.text
    assert [p["code"] for p in opened.json()["problems"]] == ["campaign.org_not_active"]
    funded = client.post(
        f"/api/campaigns/{running}/escrow",
        headers=headers,
        json={"amount_minor": 500, "currency": "USD", "idempotency_key": "k-more"},
    )
    assert funded.status_code == 403, funded.text
    assert balance(services, AccountRef.escrow(running, "USD")) == Money(2000, "USD")
    # A repeat of a funding made while approved still answers as it did.
    again = client.post(
        f"/api/campaigns/{draft}/escrow",
        headers=headers,
        json={"amount_minor": 2000, "currency": "USD", "idempotency_key": f"k-{draft}"},
    )
    assert again.status_code == 201, again.text
    resumed = post(f"/campaigns/{paused}/resume?lang=hi")
    said = render_problem(Problem(None, "campaign.org_not_active"), "hi")
    assert resumed.status_code == 403 and escape(said) in resumed.text

    def offered(campaign_id: int) -> list[str]:
        page = client.get(f"/campaigns/{campaign_id}?lang=zu", headers=headers).text
        notice = translator("zu").gettext(
            "The organisation running this campaign is not approved now, so the campaign "
            "cannot be funded, opened or opened again. It can still be paused or closed; "
            "closing returns what escrow holds beyond the work still waiting."
        )
        assert escape(notice) in page
        return re.findall(rf'action="/campaigns/{campaign_id}/(\w+)"', page)

    assert offered(draft) == ["close"]
    assert offered(running) == ["pause", "close"]
    assert offered(paused) == ["close"]
    assert post(f"/campaigns/{running}/pause").status_code == 303
    with services.uow(read_only=True) as uow:
        states = [uow.get(Campaign, c).state.value for c in (draft, running, paused)]
    assert states == ["draft", "paused", "paused"]
    for campaign_id in (draft, running, paused):
        assert post(f"/campaigns/{campaign_id}/close").status_code == 303
        # Nothing was waiting for review: closing returns the whole escrow.
        assert balance(services, AccountRef.escrow(campaign_id, "USD")) == Money(0, "USD")


def test_an_approved_organisations_campaign_page_has_no_notice(client, people):
    headers = people["buyer"].headers
    campaign_id = create(client, headers, coverage_bonus="")
    page = client.get(f"/campaigns/{campaign_id}", headers=headers).text
    assert 'id="org-not-approved"' not in page
    assert re.findall(rf'action="/campaigns/{campaign_id}/(\w+)"', page) == [
        "fund",
        "open",
        "close",
    ]
