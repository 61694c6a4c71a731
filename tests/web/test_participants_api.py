"""The participants' API: the contributor's links, and the public confirmation page."""

from __future__ import annotations

import ingest_media as media


def upload_chat(client, persona) -> int:
    response = client.post(
        "/api/items",
        headers=persona.headers,
        data={"kind": "chat", "me": "Priya Sharma"},
        files={"file": ("chat.txt", media.whatsapp_chat(), "text/plain")},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_the_contributor_shares_a_link_and_the_participant_confirms(client, people):
    owner = people["owner"]
    item_id = upload_chat(client, owner)
    listed = client.get(f"/api/items/{item_id}/participants", headers=owner.headers)
    assert listed.status_code == 200, listed.text
    [invite] = listed.json()
    assert invite["state"] == "pending" and "/confirm/" in invite["link"]
    path = "/confirm/" + invite["link"].rsplit("/confirm/", 1)[1]
    page = client.get(path)  # anonymous: the token is the credential
    assert page.status_code == 200
    assert page.json()["label"] == "PARTICIPANT_1" and page.json()["licence"]
    assert owner.email not in page.text and "Priya" not in page.text
    done = client.post(path + "/confirm")
    assert done.status_code == 200 and done.json()["state"] == "confirmed"
    again = client.get(f"/api/items/{item_id}/participants", headers=owner.headers).json()
    assert again[0]["state"] == "confirmed" and again[0]["link"] is None
    preview = client.get(f"/api/items/{item_id}/preview", headers=owner.headers)
    assert preview.status_code == 200 and b"PARTICIPANT_1" in preview.content


def test_a_declined_link_cannot_confirm_and_others_cannot_list(client, people):
    item_id = upload_chat(client, people["owner"])
    [invite] = client.get(
        f"/api/items/{item_id}/participants", headers=people["owner"].headers
    ).json()
    path = "/confirm/" + invite["link"].rsplit("/confirm/", 1)[1]
    assert client.post(path + "/decline").json()["state"] == "declined"
    assert client.post(path + "/confirm").status_code == 409
    assert client.get("/confirm/not-a-real-token").status_code == 404
    for name in ("other", "buyer", "operator"):
        r = client.get(f"/api/items/{item_id}/participants", headers=people[name].headers)
        assert r.status_code in (403, 404)
