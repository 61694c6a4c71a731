"""Issue 16 §3 through the API: a replica grant allows a use only when every field matches,
and "ask me each time" holds a matching use until the contributor approves it.

Each case states allow, deny (with its reason code) or invalid (with the problem named).
"""

from __future__ import annotations

from datetime import timedelta

from test_seed_story import WALK, buyer, fund, listed_item

from datatrust.domain.clock import utcnow

NARRATION = "Narration of the audiobooks of Kalahari Press, in English, in my own voice only"


def voice_grant(**changes) -> dict:
    start = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    return {
        "template": "voice_library",
        "changes": {
            "price_minor": 2_000,
            "valid_from": start.isoformat(),
            "replica_use_description": NARRATION,
            "replica_media": ["voice"],
            "replica_languages": ["en"],
            "replica_categories": ["audiobook_narration"],
            "replica_channels": ["audio_stores"],
            **changes,
        },
    }


def offer_and_consent(client, persona, item_id: int, **changes) -> dict:
    offer = client.post("/api/licences", headers=persona.headers, json=voice_grant(**changes))
    assert offer.status_code == 201, offer.text
    given = client.post(
        f"/api/items/{item_id}/consent",
        headers=persona.headers,
        json={"offer_id": offer.json()["id"]},
    )
    assert given.status_code == 201, given.text
    return offer.json()


def replica_use(**replica) -> dict:
    start = utcnow().replace(microsecond=0)
    return {
        "action": "create_replica",
        "purpose": "speech_synthesis_training",
        "industry": "media_publishing",
        "territory": "GB",
        "task": "voice_cloning",
        "outputs": ["person_voice"],
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=90)).isoformat(),
        "replica": {
            "languages": ["en"],
            "category": "audiobook_narration",
            "channels": ["audio_stores"],
            **replica,
        },
    }


def a_studio(services, people):
    studio, org = buyer(
        services, people, "studio", ["speech_synthesis_training"], ["media_publishing"]
    )
    fund(services, studio)
    return studio, org


def declare(client, persona, use) -> dict:
    got = client.post("/api/buyers/orders", headers=persona.headers, json=use)
    assert got.status_code == 201, got.text
    return got.json()


def test_a_new_replica_grant_that_leaves_its_scope_unnamed_is_invalid_naming_each_field(
    client, people
):
    body = voice_grant(replica_languages=[], replica_channels=[])
    got = client.post("/api/licences", headers=people["owner"].headers, json=body)
    assert got.status_code == 422
    problems = got.json()["error"]["details"]["problems"]
    assert problems == [
        "replica_languages: a replica grant must name the languages the replica may speak "
        "or appear in",
        "replica_channels: a replica grant must name the channels it may reach people through",
    ]
    assert [(p["field"], p["code"]) for p in got.json()["problems"]] == [
        ("replica_languages", "licence.replica_languages_required"),
        ("replica_channels", "licence.replica_channels_required"),
    ]


def test_an_unknown_language_category_or_channel_is_invalid_naming_the_field(client, people):
    body = voice_grant(
        replica_languages=["en", "elvish"],
        replica_categories=["karaoke"],
        replica_channels=["carrier_pigeon"],
        replica_media=[],
    )
    got = client.post("/api/licences", headers=people["owner"].headers, json=body)
    assert got.status_code == 422
    problems = got.json()["error"]["details"]["problems"]
    assert any(
        p.startswith("replica_languages: unknown language code(s): elvish") for p in problems
    )
    assert "replica_categories: unknown code(s): karaoke" in problems
    assert "replica_channels: unknown code(s): carrier_pigeon" in problems
    assert any(
        p.startswith("replica_media: a replica grant must name its medium") for p in problems
    )
    coded = {(p["field"], p["code"]) for p in got.json()["problems"]}
    assert coded == {
        ("replica_languages", "licence.language_codes"),
        ("replica_categories", "unknown_codes"),
        ("replica_channels", "unknown_codes"),
        ("replica_media", "licence.replica_medium_required"),
    }


def test_a_matching_replica_use_is_selected_and_a_hindi_advert_is_left_out_with_reasons(
    client, services, people
):
    owner = people["owner"]
    item = listed_item(services, owner, WALK, "my voice")
    offer_and_consent(client, owner, item.id)
    studio, _ = a_studio(services, people)
    matching = declare(client, studio, replica_use())
    assert matching["selected"] == 1 and matching["reasons"] == {}
    advert = declare(
        client,
        studio,
        replica_use(languages=["hi"], category="advertising", channels=["broadcast_tv"]),
    )
    assert advert["selected"] == 0
    assert advert["reasons"] == {
        "replica_category_not_granted": 1,
        "replica_channel_not_granted": 1,
        "replica_language_not_granted": 1,
    }
    face = declare(client, studio, {**replica_use(), "task": "face_generation"})
    assert face["selected"] == 0
    assert "replica_medium_not_granted" in face["reasons"] or "use_prohibited" in face["reasons"]


def test_ask_me_each_time_holds_the_use_until_the_contributor_approves_it(client, services, people):
    owner = people["owner"]
    item = listed_item(services, owner, WALK, "my voice")
    offer_and_consent(client, owner, item.id, replica_ask_each_time=True)
    studio, _ = a_studio(services, people)
    use = replica_use()  # an approval covers this use and its period, not a later one

    held = declare(client, studio, use)
    assert held["selected"] == 0
    assert held["reasons"] == {"replica_approval_pending": 1}
    waiting = client.get("/api/replica-approvals", headers=owner.headers).json()
    assert [(a["item_id"], a["organisation"]) for a in waiting] == [(item.id, "Studio Labs Ltd")]
    assert waiting[0]["use"]["replica"]["languages"] == ["en"]
    # Declaring the same use again does not ask the contributor a second time.
    declare(client, studio, use)
    assert len(client.get("/api/replica-approvals", headers=owner.headers).json()) == 1
    # The buyer cannot approve its own request.
    forged = client.post(
        f"/api/replica-approvals/{waiting[0]['id']}/approve", headers=studio.headers
    )
    assert forged.status_code in (403, 404)

    page = client.get("/my/licences?lang=hi", headers=owner.headers)
    assert "Studio Labs Ltd" in page.text and "अंग्रेज़ी" in page.text

    approved = client.post(
        f"/api/replica-approvals/{waiting[0]['id']}/approve", headers=owner.headers
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    again = declare(client, studio, use)
    assert again["selected"] == 1 and again["reasons"] == {}
    bought = client.post(f"/api/buyers/orders/{again['id']}/purchase", headers=studio.headers)
    assert bought.status_code == 200, bought.text
    # An approval never widens the grant: a Hindi use is still denied for its language.
    hindi = declare(client, studio, {**use, "replica": {**use["replica"], "languages": ["hi"]}})
    assert hindi["selected"] == 0 and hindi["reasons"]["replica_language_not_granted"] == 1
    # ... and the contributor is never asked about a use outside their grant.
    assert client.get("/api/replica-approvals", headers=owner.headers).json() == []


def test_a_refused_replica_use_stays_refused_and_is_not_asked_again(client, services, people):
    owner = people["owner"]
    item = listed_item(services, owner, WALK, "my voice")
    offer_and_consent(client, owner, item.id, replica_ask_each_time=True)
    studio, _ = a_studio(services, people)
    use = replica_use()
    declare(client, studio, use)
    [request] = client.get("/api/replica-approvals", headers=owner.headers).json()
    refused = client.post(f"/api/replica-approvals/{request['id']}/refuse", headers=owner.headers)
    assert refused.json()["state"] == "refused"
    again = declare(client, studio, use)
    assert again["reasons"] == {"replica_approval_pending": 1}
    assert client.get("/api/replica-approvals", headers=owner.headers).json() == []
    twice = client.post(f"/api/replica-approvals/{request['id']}/approve", headers=owner.headers)
    assert twice.status_code == 409


def test_consent_under_a_longer_replica_grant_lasts_until_the_grant_ends(client, services, people):
    """The chosen rule (issue 16): consent lasts as long as any use the licence allows. A
    replica grant running past the licence's end keeps consent (and its receipt's stated
    termination) to the grant's end; a training-only licence ends consent at its own."""
    from datatrust.domain.consent import ConsentRecord, Receipt

    owner = people["owner"]
    item = listed_item(services, owner, WALK, "my voice")
    start = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    replica_until = start + timedelta(days=6 * 365)
    offer = offer_and_consent(client, owner, item.id, replica_until=replica_until.isoformat())
    licence_end = offer["licence"]["valid_until"]
    assert licence_end < replica_until.isoformat()
    with services.uow() as uow:
        row = uow.one(ConsentRecord, item_id=item.id)
        [receipt] = uow.all(Receipt, consent_id=row.id)
    assert row.terms.expires_at == replica_until
    assert f"until {replica_until.date().isoformat()}" in row.terms.retention
    assert f"until {licence_end[:10]}" in row.terms.retention
    claims = services.signer.verify(receipt.jws)
    assert claims["purpose_consents"][0]["termination"].endswith(replica_until.isoformat())

    # A replica use that runs past the licence's end, within the grant, is still selected.
    studio, _ = a_studio(services, people)
    late = replica_use(languages=["en"])
    late["ends_at"] = (start + timedelta(days=5 * 365)).isoformat()
    assert declare(client, studio, late)["selected"] == 1
