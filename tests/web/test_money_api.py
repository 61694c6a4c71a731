"""The money API end to end: a buyer funds escrow, work is paid, a contributor reads a
statement and asks for a payout (once, however often the request is sent), an operator
runs the batch and checks the ledger."""

from __future__ import annotations

from dataclasses import replace

import pytest

from datatrust.adapters.payments import FakePayoutProvider
from datatrust.domain.money import Money
from datatrust.services import money
from support import stored_campaign


@pytest.fixture
def campaign(services, people):
    return stored_campaign(services, people["buyer"].actor)


@pytest.fixture
def earned(client, services, people, campaign):
    """The buyer funds the campaign through the API; the owner's two items are paid."""
    response = client.post(
        f"/api/campaigns/{campaign.id}/escrow",
        json={"amount_minor": 6000, "currency": "USD", "idempotency_key": "po-1"},
        headers=people["buyer"].headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["covered"] is True
    with services.uow() as uow:
        for item_id in (101, 102):
            money.pay_accepted_item(
                uow, campaign.id, people["owner"].actor.user_id, Money(1500, "USD"), item_id
            )
        uow.commit()
    return campaign


def test_a_buyer_funds_escrow_once_per_key(client, people, campaign):
    body = {"amount_minor": 2500, "currency": "USD", "idempotency_key": "k"}
    first = client.post(
        f"/api/campaigns/{campaign.id}/escrow", json=body, headers=people["buyer"].headers
    )
    again = client.post(
        f"/api/campaigns/{campaign.id}/escrow", json=body, headers=people["buyer"].headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json()["replayed"] and again.json()["escrow_balance"]["amount_minor"] == 2500
    assert again.json()["required"]["display"] == "USD 60.00"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"amount_minor": 0, "currency": "USD", "idempotency_key": "k"}, "more than zero"),
        ({"amount_minor": -5, "currency": "USD", "idempotency_key": "k"}, "more than zero"),
        ({"amount_minor": 12.5, "currency": "USD", "idempotency_key": "k"}, "amount_minor"),
        ({"amount_minor": 100, "currency": "XYZ", "idempotency_key": "k"}, "unknown currency"),
        ({"amount_minor": 100, "currency": "EUR", "idempotency_key": "k"}, "fund it in USD"),
    ],
)
def test_bad_escrow_amounts_get_clear_errors(client, people, campaign, body, problem):
    response = client.post(
        f"/api/campaigns/{campaign.id}/escrow", json=body, headers=people["buyer"].headers
    )
    assert response.status_code == 422
    assert problem in response.text


def test_a_contributor_reads_a_statement_and_requests_a_payout_once(client, people, earned):
    headers = people["owner"].headers
    statement = client.get("/api/me/statement", headers=headers).json()
    assert statement["balances"][0]["available"]["display"] == "USD 30.00"
    assert [line["source"]["item_id"] for line in statement["lines"]] == [102, 101]

    request = {"amount_minor": 2000, "currency": "USD"}
    first = client.post(
        "/api/me/payouts", json=request, headers={**headers, "Idempotency-Key": "tap-1"}
    )
    again = client.post(
        "/api/me/payouts", json=request, headers={**headers, "Idempotency-Key": "tap-1"}
    )
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again.json()["replayed"]
    assert len(client.get("/api/me/payouts", headers=headers).json()) == 1
    balance = client.get("/api/me/statement", headers=headers).json()["balances"][0]
    assert balance["available"]["amount_minor"] == 1000
    assert balance["in_transit"]["amount_minor"] == 2000


@pytest.mark.parametrize(
    ("amount", "key", "status", "problem"),
    [
        (2000, None, 422, "Idempotency-Key"),
        (999, "a", 422, "smallest payout is USD 10.00"),
        (3001, "b", 409, "USD 30.00 is available"),
        (0, "c", 422, "more than zero"),
    ],
)
def test_bad_payout_requests_get_clear_errors(client, people, earned, amount, key, status, problem):
    headers = {**people["owner"].headers, **({"Idempotency-Key": key} if key else {})}
    response = client.post(
        "/api/me/payouts", json={"amount_minor": amount, "currency": "USD"}, headers=headers
    )
    assert response.status_code == status
    assert problem in response.json()["error"]["message"] + str(response.json()["error"])


def test_an_operator_runs_a_batch_and_the_ledger_checks_out(client, services, people, earned):
    services.payouts = provider = FakePayoutProvider()
    client.post(
        "/api/me/payouts",
        json={"amount_minor": 2000, "currency": "USD"},
        headers={**people["owner"].headers, "Idempotency-Key": "w"},
    )
    batch = client.post("/api/payouts/batches", headers=people["operator"].headers)
    assert batch.status_code == 202 and batch.json()["payouts_waiting"] == 1
    (payout,) = client.get("/api/me/payouts", headers=people["owner"].headers).json()
    assert payout["state"] == "settled" and list(provider.paid.values()) == [Money(2000, "USD")]
    check = client.get("/api/ledger/check", headers=people["operator"].headers).json()
    assert check["ok"] and check["problems"] == [] and check["totals"]["USD"]["sum"] == 0
    assert client.get("/api/ledger/check", headers=people["owner"].headers).status_code == 403
    assert client.post("/api/payouts/batches", headers=people["buyer"].headers).status_code == 403


def test_a_buyer_reads_its_invoices_and_another_contributor_cannot(client, people, earned):
    org_id = people["buyer"].actor.org_id
    invoices = client.get(f"/api/orgs/{org_id}/invoices", headers=people["buyer"].headers)
    assert invoices.status_code == 200
    (funding,) = invoices.json()["invoices"]
    assert funding["kind"] == "escrow_funding" and funding["price"]["display"] == "USD 60.00"
    assert (
        client.get(f"/api/orgs/{org_id}/invoices", headers=people["other"].headers).status_code
        == 403
    )


def test_the_smallest_payout_is_the_instance_setting(client, services, people, earned):
    services.policy = replace(services.policy, minimum_payout=Money(2500, "USD"))
    headers = {**people["owner"].headers, "Idempotency-Key": "min"}
    small = client.post(
        "/api/me/payouts", json={"amount_minor": 2000, "currency": "USD"}, headers=headers
    )
    assert small.status_code == 422
    assert "smallest payout is USD 25.00" in small.json()["error"]["message"]
    enough = client.post(
        "/api/me/payouts", json={"amount_minor": 2500, "currency": "USD"}, headers=headers
    )
    assert enough.status_code == 201, enough.text


def test_an_operator_sets_exchange_rates_and_statements_use_them(client, people, earned):
    operator = people["operator"].headers
    body = {"base": "USD", "quote": "ZAR", "rate": "18.25", "as_of": "2026-11-20"}
    created = client.post("/api/fx/rates", json=body, headers=operator)
    assert created.status_code == 201, created.text
    assert created.json() == {"base": "USD", "quote": "ZAR", "rate": "18.25", "as_of": "2026-11-20"}
    assert client.get("/api/fx/rates", headers=operator).json() == [created.json()]
    statement = client.get("/api/me/statement?currency=ZAR", headers=people["owner"].headers)
    approx = statement.json()["balances"][0]["available_approx"]
    assert approx["display"] == "ZAR 547.50" and approx["rate_date"] == "2026-11-20"
    for persona in ("owner", "buyer"):
        headers = people[persona].headers
        assert client.post("/api/fx/rates", json=body, headers=headers).status_code == 403
        assert client.get("/api/fx/rates", headers=headers).status_code == 403


@pytest.mark.parametrize(
    ("rate", "problem"),
    [(18.25, "rate"), ("0", "above zero"), ("1e999999999", "above zero"), ("x", "above zero")],
)
def test_an_exchange_rate_must_be_an_exact_positive_decimal_string(client, people, rate, problem):
    body = {"base": "USD", "quote": "ZAR", "rate": rate}
    response = client.post("/api/fx/rates", json=body, headers=people["operator"].headers)
    assert response.status_code == 422
    assert problem in response.text


def test_the_escrow_route_names_what_opening_needs_bonuses_included(client, people):
    body = {
        "title": "Street sounds",
        "kind": "ambient",
        "rate_minor": 100,
        "currency": "USD",
        "quota": 4,
        "coverage_bonus_minor": 50,
        "expected_minutes_per_item": 5,
    }
    headers = people["buyer"].headers
    campaign_id = client.post("/api/campaigns", json=body, headers=headers).json()["id"]
    fund = {"amount_minor": 500, "currency": "USD", "idempotency_key": "a"}
    funded = client.post(f"/api/campaigns/{campaign_id}/escrow", json=fund, headers=headers)
    assert funded.json()["required"]["amount_minor"] == 4 * 100 + 4 * 50
    assert funded.json()["covered"] is False and funded.json()["paused"] is False
    fund = {"amount_minor": 100, "currency": "USD", "idempotency_key": "b"}
    funded = client.post(f"/api/campaigns/{campaign_id}/escrow", json=fund, headers=headers)
    assert funded.json()["covered"] is True
    assert client.post(f"/api/campaigns/{campaign_id}/open", headers=headers).status_code == 200
