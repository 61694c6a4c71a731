"""The HTTP API for licence offers, consent, receipts and a person's rights."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from typer.testing import CliRunner

from datatrust.cli import app as cli_app
from datatrust.services.contributions import items
from support import mark_listed

OFFER = {"template": "training_only", "changes": {"price_minor": 500}}


@pytest.fixture
def owner(people):
    return people["owner"]


def upload(services, persona, title="walk to work"):
    """An item of the persona's, listed. Made through the service rather than the upload
    route so that the media pipeline's verdict on these few test bytes does not matter."""
    with services.uow() as uow:
        item = items.receive_item(
            uow,
            services.storage,
            persona.actor,
            kind="video",
            filename="walk.mp4",
            content_type="video/mp4",
            chunks=[b"\x00\x00\x00\x18ftypmp42" + title.encode()],
            title=title,
        )
    mark_listed(services, item.id)
    return {"id": item.id}


def create_offer(client, persona, body=OFFER):
    response = client.post("/api/licences", headers=persona.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_the_templates_are_public(client):
    response = client.get("/api/licence-templates")
    assert response.status_code == 200
    names = {t["name"] for t in response.json()}
    assert {"training_only", "research_non_commercial", "voice_library"} <= names


def test_a_contributor_creates_an_offer_from_a_template_and_lists_it(client, owner, people):
    offer = create_offer(client, owner)
    assert offer["version"] == 1 and offer["status"] == "active"
    assert offer["licence"]["revocable"] is True
    mine = client.get("/api/licences", headers=owner.headers).json()
    assert [o["id"] for o in mine] == [offer["id"]]
    assert client.get("/api/licences", headers=people["other"].headers).json() == []
    other = client.get(f"/api/licences/{offer['id']}", headers=people["other"].headers)
    assert other.status_code == 404


def test_an_invalid_offer_is_refused_with_every_problem_named(client, owner):
    response = client.post(
        "/api/licences",
        headers=owner.headers,
        json={
            "template": "voice_library",
            "changes": {
                "price_minor": 100,
                "permitted_purposes": ["telepathy"],
                "prohibited_industries": ["moon_mining"],
                "territories": ["ZZ"],
                "royalty_share_percent": 101,
                "valid_until": "2099-01-01T00:00:00+00:00",
            },
        },
    )
    assert response.status_code == 422
    problems = "\n".join(response.json()["error"]["details"]["problems"])
    for expected in (
        "telepathy",
        "moon_mining",
        "ZZ",
        "royalty_share_percent",
        "replica_use_description",  # the voice library permits a replica: describe it
        "valid_until",
    ):
        assert expected in problems


def test_an_offer_in_use_gets_a_new_version_and_the_old_one_is_kept(client, services, owner):
    offer = create_offer(client, owner)
    item = upload(services, owner)
    attached = client.post(
        f"/api/licences/{offer['id']}/attach",
        headers=owner.headers,
        json={"item_ids": [item["id"]]},
    )
    assert attached.json() == {"offer_id": offer["id"], "item_ids": [item["id"]]}
    new = client.post(
        f"/api/licences/{offer['id']}/versions",
        headers=owner.headers,
        json={"changes": {"price_minor": 800}},
    )
    assert new.status_code == 201
    assert new.json()["supersedes_id"] == offer["id"] and new.json()["version"] == 2
    old = client.get(f"/api/licences/{offer['id']}", headers=owner.headers).json()
    assert old["status"] == "replaced" and old["licence"]["price_minor"] == 500
    assert (
        client.post(f"/api/licences/{offer['id']}/default", headers=owner.headers).status_code
        == 409
    )
    made = client.post(f"/api/licences/{new.json()['id']}/default", headers=owner.headers)
    assert made.json()["is_default"] is True


def test_the_odrl_export_and_the_hindi_explanation(client, owner):
    offer = create_offer(client, owner)
    odrl = client.get(f"/api/licences/{offer['id']}/odrl", headers=owner.headers)
    assert odrl.headers["content-type"].startswith("application/ld+json")
    assert odrl.json()["@type"] == "Offer"
    explained = client.get(f"/api/licences/{offer['id']}/explain?lang=hi", headers=owner.headers)
    assert explained.status_code == 200
    assert any("\u0900" <= ch <= "\u097f" for ch in " ".join(explained.json()["sentences"]))
    assert (
        client.get(
            f"/api/licences/{offer['id']}/explain?lang=xx", headers=owner.headers
        ).status_code
        == 422
    )


class CountingClient:
    """Counts the requests a contributor's app has to make."""

    def __init__(self, client, headers):
        self.client, self.headers, self.requests = client, headers, 0

    def request(self, method, url, **kwargs):
        self.requests += 1
        return self.client.request(method, url, headers=self.headers, **kwargs)


def test_giving_and_withdrawing_consent_take_one_request_each(client, owner, services):
    offer = create_offer(client, owner, {**OFFER, "make_default": True})
    item = upload(services, owner)

    app = CountingClient(client, owner.headers)
    given = app.request("POST", f"/api/items/{item['id']}/consent")
    give_requests = app.requests
    app.requests = 0
    withdrawn = app.request("DELETE", f"/api/items/{item['id']}/consent")
    withdraw_requests = app.requests

    assert given.status_code == 201, given.text
    assert given.json()["consent"]["offer_id"] == offer["id"]
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["consent"]["state"] == "withdrawn"
    assert withdraw_requests <= give_requests == 1
    assert client.get(f"/api/items/{item['id']}", headers=owner.headers).json()["status"] == (
        "withdrawn"
    )
    again = client.post(f"/api/items/{item['id']}/consent/withdraw", headers=owner.headers)
    assert again.status_code == 409


def test_a_downloaded_receipt_verifies_offline_with_the_command(client, services, owner, tmp_path):
    offer = create_offer(client, owner)
    item = upload(services, owner)
    given = client.post(
        f"/api/items/{item['id']}/consent", headers=owner.headers, json={"offer_id": offer["id"]}
    ).json()
    records = client.get("/api/consent", headers=owner.headers).json()
    assert [r["id"] for r in records] == [given["consent"]["id"]]
    receipt_id = given["receipt"]["id"]
    download = client.get(f"/api/receipts/{receipt_id}", headers=owner.headers)
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    path = tmp_path / "receipt.json"
    path.write_bytes(download.content)
    result = CliRunner().invoke(cli_app, ["consent", "verify-receipt", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["event"] == "given"


def test_export_my_data_and_erase_me(client, services, owner, people):
    item = upload(services, owner)
    exported = client.get("/api/me/export", headers=owner.headers)
    assert exported.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert "items.json" in names and "receipts.json" in names

    refused = client.post("/api/me/erase", headers=owner.headers, json={"confirm": "yes"})
    assert refused.status_code == 422
    erased = client.post("/api/me/erase", headers=owner.headers, json={"confirm": "erase me"})
    assert erased.status_code == 200 and erased.json()["erased_at"]
    assert client.get(f"/api/items/{item['id']}", headers=owner.headers).status_code == 401
    sign_in = client.post(
        "/api/auth/sign-in", json={"email": owner.email, "password": "correct horse battery"}
    )
    assert sign_in.status_code == 401
