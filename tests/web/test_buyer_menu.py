"""A buyer's menu offers only the pages that answer it (issue 18: "a pending buyer sees
menus that all answer 'pending'"). Before its organisation is approved (none registered,
pending, rejected) the menu leads to the organisation's page, not to a catalogue, orders
and snapshots that each refuse; a suspended one keeps what it must still do (read its
revocations, attest deletion); an approved one buys. The standing is the rule
``market.approved_org`` enforces (``domain.accounts.buyer_standing``), and a vetting
decision changes the menu at the next request."""

from __future__ import annotations

import re

import pytest

from datatrust.domain.accounts import BuyerStanding, Organisation, OrgStatus, buyer_standing
from datatrust.domain.permissions import Role
from datatrust.services.accounts import accounts
from support import make_persona

MENU = re.compile(r'<header class="top">(.*?)</header>', re.S)
BUYING = ("/buyer/catalogue", "/buyer/orders", "/buyer/snapshots")


def menu_links(html: str) -> list[str]:
    header = MENU.search(html)
    assert header is not None
    return [h for h in re.findall(r'<a href="([^"]+)"', header.group(1)) if h != "/"]


def every_link_answers(client, headers, lang: str = "en") -> list[str]:
    links = menu_links(client.get(f"/my/inbox?lang={lang}", headers=headers).text)
    for href in links:
        page = client.get(f"{href}?lang={lang}", headers=headers)
        assert page.status_code == 200, (href, page.status_code)
    return links


def decide(services, people, org_id: int, decision: str) -> None:
    with services.uow() as uow:
        accounts.decide_organisation(uow, people["operator"].actor, org_id, decision, "checked")


@pytest.mark.parametrize(
    ("status", "standing"),
    [
        (None, BuyerStanding.WAITING),
        (OrgStatus.PENDING, BuyerStanding.WAITING),
        (OrgStatus.REJECTED, BuyerStanding.WAITING),
        (OrgStatus.SUSPENDED, BuyerStanding.COMPLYING),
        (OrgStatus.APPROVED, BuyerStanding.BUYING),
    ],
)
def test_a_buyers_standing_follows_its_organisations_status(status, standing):
    org = None if status is None else Organisation("Ada Lab", "GB", status=status)
    assert buyer_standing(org) is standing


def test_a_buyer_not_yet_approved_is_offered_its_organisation_and_no_page_that_refuses(
    client, services, people
):
    unregistered = make_persona(services, "fresh-buyer", Role.BUYER)
    links = every_link_answers(client, unregistered.headers)
    assert "/buyer/organisation" in links and not set(BUYING) & set(links)

    pending = make_persona(services, "pending-buyer", Role.BUYER, org=True)
    for lang in ("en", "hi", "zu"):
        links = every_link_answers(client, pending.headers, lang)
        assert links[0] == "/buyer/organisation" and not set(BUYING) & set(links)

    # Approved: the next page's menu buys, and every one of its links answers.
    decide(services, people, pending.actor.org_id, "approve")
    links = every_link_answers(client, pending.headers)
    assert set(BUYING) <= set(links)

    # Suspended: its revocations and orders stay (it must comply); the catalogue goes.
    decide(services, people, pending.actor.org_id, "suspend")
    links = every_link_answers(client, pending.headers)
    assert "/buyer/feed" in links and "/buyer/catalogue" not in links
    assert "/buyer/snapshots" not in links


def test_other_roles_menus_are_unchanged(client, people):
    contributor = menu_links(client.get("/my/inbox", headers=people["owner"].headers).text)
    assert contributor[:3] == ["/tasks", "/my/items", "/my/earnings"]
    buyer = menu_links(client.get("/my/inbox", headers=people["buyer"].headers).text)
    assert buyer[:3] == list(BUYING)
