"""The contributor's pages without a browser: tasks with their pay and licence, accepting,
the plain multipart upload (no JavaScript), the preview, consent given and withdrawn in
one POST each, the passport, earnings, export and account deletion."""

from __future__ import annotations

import re

import pytest

import ingest_media as media
from datatrust.domain.accounts import User
from datatrust.domain.clock import utcnow
from datatrust.domain.consent import ConsentRecord
from datatrust.domain.money import Money
from datatrust.domain.permissions import Actor, Role
from datatrust.i18n import translator
from datatrust.web.pages.common import Page, show_money
from datatrust.web.pages.explain import REJECTIONS
from support import PASSWORD, fund_and_open, make_persona, sign_up_page, stored_campaign

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def open_campaign(client, persona, kind="ambient", **changes):
    """A platform campaign (an operator's, funded by the operator), open."""
    body = {
        "title": f"Sounds of {kind}",
        "kind": kind,
        "rate_minor": 50,
        "currency": "USD",
        "quota": 100,
        "pay_basis": "per_minute",
        "spec": {"max_duration_s": 60},  # bounds what escrow must hold per item
        "expected_minutes_per_item": 1,  # per minute of recording: a minute of effort
        **changes,
    }
    created = client.post("/api/campaigns", headers=persona.headers, json=body)
    assert created.status_code == 201, created.text
    opened = fund_and_open(client, persona.headers, created.json()["id"])
    assert opened.status_code == 200, opened.text
    return opened.json()


def csrf_of(html: str) -> str:
    return CSRF.search(html).group(1)


@pytest.fixture
def contributor(client, services):
    response = sign_up_page(client, services, "sipho@example.org")
    assert response.status_code == 303
    return client


def accept(client, campaign_id):
    task = client.get(f"/tasks/{campaign_id}")
    response = client.post(
        f"/tasks/{campaign_id}/accept",
        data={"csrf_token": csrf_of(task.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_open_tasks_show_pay_and_the_hourly_rate(contributor, people):
    campaign = open_campaign(contributor, people["operator"])
    page = contributor.get("/tasks")
    assert page.status_code == 200
    assert campaign["title"] in page.text
    assert "$0.50" in page.text and "$30.00" in page.text  # per minute and per hour


def test_a_tasks_hourly_rate_is_the_pay_floor_checks_at_the_effort_it_states(contributor, people):
    """USD 1.50 an item for 5 minutes of stated effort is USD 18.00 an hour: the figure
    opening the campaign was judged by, not one guessed from the recording's length (a
    60 s recording would have made it USD 90.00)."""
    campaign = open_campaign(
        contributor,
        people["operator"],
        rate_minor=150,
        pay_basis="per_item",
        expected_minutes_per_item=5,
        spec={"min_duration_s": 5, "max_duration_s": 60},
    )
    listed = contributor.get("/tasks").text
    card = listed[listed.index(campaign["title"]) :]
    assert "$1.50" in card and "$18.00" in card and "$90.00" not in card
    task = contributor.get(f"/tasks/{campaign['id']}?lang=hi").text
    assert "$18.00" in task and "$90.00" not in task


def test_a_per_minute_tasks_licence_says_it_pays_per_minute(contributor, people):
    campaign = open_campaign(contributor, people["operator"], rate_minor=40)
    page = contributor.get(f"/tasks/{campaign['id']}?lang=en").text
    # The money as a sale charges and pays it (domain.orders.unit_pay, 20 % platform fee).
    assert (
        "For each minute of recording, a buyer pays $0.50. Of that, the platform keeps $0.30 "
        "(its fee of $0.10 and the rest of the licence price after your share) and you "
        "receive $0.20." in page
    )
    assert "for each item" not in page


@pytest.mark.parametrize(
    ("lang", "minor", "currency", "shown"),
    [
        ("en", 120, "USD", "$1.20"),
        ("zu", 120, "USD", "$1.20"),
        ("zu", 1200, "JPY", "JP¥1,200"),
        ("hi", 123456789, "INR", "₹12,34,567.89"),
        ("en", 1200, "JPY", "¥1,200"),
    ],
)
def test_pages_show_money_in_the_readers_format_from_minor_units(lang, minor, currency, shown):
    page = Page(None, Actor(Role.ANONYMOUS), lang, csrf_token="-")
    assert show_money(page, minor, currency) == shown
    assert show_money(page, Money(minor, currency)) == shown
    assert show_money(page, {"amount_minor": minor, "currency": currency}) == shown


def test_a_task_page_explains_the_licence_with_its_risks_before_accepting(contributor, people):
    campaign = open_campaign(contributor, people["operator"])
    page = contributor.get(f"/tasks/{campaign['id']}?lang=hi")
    assert page.status_code == 200
    assert 'class="risk"' in page.text
    assert f'action="/tasks/{campaign["id"]}/accept"' in page.text


def test_a_task_shows_the_terms_of_its_campaigns_licence_template(contributor, people):
    default = open_campaign(contributor, people["operator"])
    assert default["licence_template"] == "training_only"
    assert "Training only (recommended)" in contributor.get(f"/tasks/{default['id']}").text
    research = open_campaign(
        contributor, people["operator"], licence_template="research_non_commercial"
    )
    page = contributor.get(f"/tasks/{research['id']}").text
    assert "Non-commercial research" in page
    assert "Training only (recommended)" not in page


def test_a_campaign_with_an_unknown_licence_template_is_refused(client, people):
    refused = client.post(
        "/api/campaigns",
        headers=people["operator"].headers,
        json={
            "title": "Street sounds",
            "kind": "ambient",
            "rate_minor": 50,
            "currency": "USD",
            "quota": 10,
            "pay_basis": "per_minute",
            "expected_minutes_per_item": 1,
            "licence_template": "standard",
        },
    )
    assert refused.status_code == 422
    assert "licence_template: one of" in refused.text and "training_only" in refused.text


def test_a_consent_whose_time_ran_out_reads_ended_not_withdrawn(contributor, people, services):
    """My licences names each consent's state: one that expired is over because its time
    ran out (not withdrawn by the person), in the reader's language, with nothing to
    withdraw."""
    campaign = open_campaign(contributor, people["operator"])
    capture = contributor.get(accept(contributor, campaign["id"]))
    offer_id = re.search(r'name="offer_id" value="(\d+)"', capture.text).group(1)
    contributor.post(
        f"/tasks/{campaign['id']}/upload",
        data={"csrf_token": csrf_of(capture.text), "offer_id": offer_id, "title": "Bus stop"},
        files={"file": ("street.ogg", media.ambient(seed=6, fmt="opus"), "audio/ogg")},
    )
    with services.uow() as uow:
        sipho = uow.one(User, email="sipho@example.org")
        [record] = uow.all(ConsentRecord, owner_id=sipho.id)
        record.expire(utcnow())
        uow.commit()
    page = contributor.get("/my/licences?lang=hi").text
    hindi = translator("hi").gettext
    assert hindi("Consent ended: the time you gave it for is over") in page
    assert hindi("Consent withdrawn") not in page
    assert f'href="/my/items/{record.item_id}/withdraw"' not in page
    contributor.get("/my/licences?lang=en")


def test_a_contributor_accepts_uploads_without_javascript_sees_the_preview_and_withdraws(
    contributor, people, services
):
    campaign = open_campaign(contributor, people["operator"])
    capture_url = accept(contributor, campaign["id"])
    capture = contributor.get(capture_url)
    assert 'accept="audio/*"' in capture.text and 'src="/static/record.js"' in capture.text
    offer_id = re.search(r'name="offer_id" value="(\d+)"', capture.text).group(1)
    response = contributor.post(
        f"/tasks/{campaign['id']}/upload",
        data={"csrf_token": csrf_of(capture.text), "offer_id": offer_id, "title": "Bus stop"},
        files={"file": ("street.ogg", media.ambient(seed=5, fmt="opus"), "audio/ogg")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    item_url = response.headers["location"]
    item = contributor.get(item_url)
    assert "Bus stop" in item.text
    assert f'src="{item_url.replace("/my", "/api")}/preview"' in item.text
    assert "Consent given" in item.text
    item_id = item_url.rsplit("/", 1)[1]
    preview = contributor.get(f"/api/items/{item_id}/preview")
    assert preview.status_code == 200 and preview.content

    # Withdrawing: "Withdraw consent" on the item leads to a confirmation that states
    # its effect in the reader's language; its button withdraws.
    assert f'href="{item_url}/withdraw"' in item.text
    confirm = contributor.get(f"{item_url}/withdraw")
    assert confirm.status_code == 200
    assert "No buyer holds a copy. Money already paid stays yours." in confirm.text
    assert f'action="{item_url}/withdraw"' in confirm.text and "Keep my consent" in confirm.text
    in_hindi = contributor.get(f"{item_url}/withdraw?lang=hi").text
    assert "किसी खरीदार के पास इसकी कॉपी नहीं है।" in in_hindi
    assert "सहमति वापस लें" in in_hindi
    contributor.get(f"{item_url}?lang=en")  # the language choice sticks: back to English

    licences_page = contributor.get("/my/licences")
    assert f'href="{item_url}/withdraw"' in licences_page.text  # the same confirmation
    withdrawn = contributor.post(
        f"{item_url}/withdraw",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert withdrawn.status_code == 303
    assert "Consent withdrawn" in contributor.get(item_url).text
    # Nothing left to withdraw: the confirmation sends the reader back to the item.
    again = contributor.get(f"{item_url}/withdraw", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == item_url

    passport = contributor.get(f"{item_url}/passport")
    assert passport.status_code == 200
    assert "consent given" in passport.text and "withdrawn" in passport.text
    # The withdrawal looked for buyers holding the item and found none: the log says so,
    # the passport tells nobody was asked to delete anything.
    with services.uow() as uow:
        logged = [e.tag for e in uow.audit.about("item", [item_id])]
    assert "revocation:notify" in logged
    assert "buyer told to delete" not in passport.text.lower()


def test_an_upload_without_a_file_is_refused_next_to_the_field(contributor, people):
    campaign = open_campaign(contributor, people["operator"])
    capture = contributor.get(accept(contributor, campaign["id"]))
    response = contributor.post(
        f"/tasks/{campaign['id']}/upload",
        data={"csrf_token": csrf_of(capture.text), "title": "Kept"},
    )
    assert response.status_code == 422
    assert "Choose a file to upload." in response.text and 'value="Kept"' in response.text


def test_earnings_and_a_payout_request_below_the_balance_is_refused_by_field(
    contributor, services, people
):
    page = contributor.get("/my/earnings")
    assert page.status_code == 200
    # The form is offered only from a balance a payout can be asked from (see
    # test_pages_payouts): Sipho is paid $15.00 for an item first.
    from datatrust.adapters.payments import FakeCardRail
    from datatrust.services import money

    buyer = people["buyer"].actor
    campaign = stored_campaign(services, buyer)
    with services.uow() as uow:
        sipho = uow.one(User, email="sipho@example.org")
        money.fund_campaign_escrow(uow, FakeCardRail(), buyer, campaign.id, Money(1500, "USD"), "k")
    with services.uow() as uow:
        money.pay_accepted_item(uow, campaign.id, sipho.id, Money(1500, "USD"), 1)
        uow.commit()
    # Without a payout method the page asks for one first (issue 18 §7).
    assert 'href="/my/payout-methods"' in page.text
    upi = {"rail": "upi", "account_holder": "Asha", "vpa": "asha@okbank"}
    added = contributor.post(
        "/my/payout-methods",
        data={"csrf_token": csrf_of(page.text), "current_password": PASSWORD, **upi},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    page = contributor.get("/my/earnings")
    method = re.search(r'name="method" value="(\d+)"', page.text).group(1)
    response = contributor.post(
        "/my/earnings/payout",
        data={
            "csrf_token": csrf_of(page.text),
            "amount": "lots",
            "currency": "USD",
            "method": method,
        },
    )
    assert response.status_code == 422
    assert 'value="lots"' in response.text


def test_export_downloads_a_zip_and_deleting_needs_the_confirmation(contributor):
    export = contributor.get("/my/account/export")
    assert export.status_code == 200 and export.content[:2] == b"PK"
    account = contributor.get("/my/account")
    token = csrf_of(account.text)
    refused = contributor.post("/my/account/erase", data={"csrf_token": token, "confirm": "no"})
    assert refused.status_code == 422 and 'value="no"' in refused.text
    erased = contributor.post(
        "/my/account/erase",
        data={"csrf_token": token, "confirm": "erase me"},
        follow_redirects=False,
    )
    assert erased.status_code == 303 and erased.headers["location"] == "/account-deleted"
    landing = contributor.get("/account-deleted?lang=hi")
    assert landing.status_code == 200 and "आपका खाता मिटा दिया गया है" in landing.text
    assert contributor.get("/my/items").status_code == 401


def test_the_erasure_phrase_is_shown_and_taken_in_the_readers_language(contributor):
    account = contributor.get("/my/account?lang=hi")
    assert "लिखें: मेरा खाता मिटाएँ" in account.text and "erase me" not in account.text
    token = csrf_of(account.text)
    erased = contributor.post(
        "/my/account/erase",
        data={"csrf_token": token, "confirm": " मेरा खाता मिटाएँ "},
        follow_redirects=False,
    )
    assert erased.status_code == 303 and erased.headers["location"] == "/account-deleted"
    assert contributor.get("/my/items").status_code == 401


def test_a_buyer_reads_a_task_as_the_public_does_but_cannot_take_it(client, services, people):
    campaign = open_campaign(client, people["operator"])
    buyer = make_persona(services, "page-buyer", Role.BUYER)
    response = client.get(f"/tasks/{campaign['id']}", headers=buyer.headers)
    assert response.status_code == 200
    assert "/accept" not in response.text and 'id="sign-up-prompt"' not in response.text
    taken = client.post(f"/tasks/{campaign['id']}/accept", headers=buyer.headers)
    assert taken.status_code == 403


def rejected_upload(contributor, people) -> str:
    """Upload a file that is not a recording through the pages: the page of the rejected item."""
    campaign = open_campaign(contributor, people["operator"])
    capture = contributor.get(accept(contributor, campaign["id"]))
    response = contributor.post(
        f"/tasks/{campaign['id']}/upload",
        data={"csrf_token": csrf_of(capture.text), "title": "Not a recording"},
        files={"file": ("street.ogg", b"this is plain text, not a recording", "audio/ogg")},
        follow_redirects=False,
    )
    return response.headers["location"]


def test_a_rejected_upload_shows_its_reason_in_hindi(contributor, people):
    item_url = rejected_upload(contributor, people)
    english = contributor.get(f"{item_url}?lang=en").text
    code = re.search(r'<li data-code="([a-z_]+)">', english).group(1)
    hindi = contributor.get(f"{item_url}?lang=hi").text
    sentence = translator("hi").gettext(REJECTIONS[code])
    assert re.search(r"[\u0900-\u097F]", sentence)
    assert f'<li data-code="{code}">{sentence}</li>' in hindi


def test_a_contributor_reviews_other_peoples_items_but_never_their_own(client, services, people):
    campaign = open_campaign(client, people["operator"], review_mode="peer")
    sign_up_page(client, services, "sipho@example.org", "correct horse b")
    capture = client.get(accept(client, campaign["id"]))
    uploaded = client.post(
        f"/tasks/{campaign['id']}/upload",
        data={"csrf_token": csrf_of(capture.text), "title": "Taxi rank"},
        files={"file": ("street.ogg", media.ambient(seed=7, fmt="opus"), "audio/ogg")},
        follow_redirects=False,
    )
    item_id = uploaded.headers["location"].rsplit("/", 1)[1]
    assert f'id="item-{item_id}"' not in client.get("/review").text  # not their own

    client.cookies.clear()
    sign_up_page(client, services, "lindiwe@example.org", "correct horse b")
    page = client.get("/review?lang=hi")
    assert page.status_code == 200
    assert f'id="item-{item_id}"' in page.text
    preview = f"/api/campaigns/{campaign['id']}/review/{item_id}/preview"
    assert f'<audio class="preview" controls preload="none" src="{preview}"' in page.text
    assert client.get(preview).status_code == 200
    assert "हाँ में वोट" in page.text  # the up button, in Hindi
    voted = client.post(
        "/review",
        data={
            "csrf_token": csrf_of(page.text),
            "campaign_id": str(campaign["id"]),
            "item_id": item_id,
            "decision": "up",
        },
        follow_redirects=False,
    )
    assert voted.status_code == 303
    assert f'id="item-{item_id}"' not in client.get("/review").text  # one vote each
    vote = {
        "csrf_token": csrf_of(page.text),
        "campaign_id": str(campaign["id"]),
        "item_id": item_id,
        "note": "again",
    }
    again = client.post("/review?lang=en", data={**vote, "decision": "up"})
    assert again.status_code == 422  # the item has left the list: said above it
    assert f'<div class="alert" role="alert"><p class="error">Item {item_id}: ' in again.text
    assert client.post("/review", data={**vote, "decision": "maybe"}).status_code == 400
