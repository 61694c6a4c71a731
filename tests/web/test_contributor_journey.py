"""The contributor's journey without dead ends (issue 18 §4), without a browser: the
recording rules a task states before recording are the figures its uploads are judged by."""

from __future__ import annotations

import json
import re
from html import unescape

from test_pages_contributor import accept, contributor, csrf_of, open_campaign  # noqa: F401

import ingest_media as media
from datatrust.domain.campaigns import Campaign, PayBasis
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.services.contributions import upload_limits


def a_campaign(kind: ItemKind, **spec: object) -> Campaign:
    return Campaign(
        created_by=1,
        title="t",
        kind=kind,
        pay_basis=PayBasis.PER_ITEM,
        rate_minor=100,
        currency="USD",
        quota=1,
        spec=dict(spec),
    )


def test_rules_take_the_stricter_of_the_hard_limit_and_the_quality_bar():
    voice = upload_limits.recording_rules(a_campaign(ItemKind.VOICE))
    # Voice: the hard limit takes 1 s, the quality bar 2 s; the hard limit 15 minutes.
    assert (voice.min_seconds, voice.max_seconds) == (2.0, 900)
    assert voice.max_bytes == upload_limits.max_bytes(ItemKind.VOICE)
    assert ".wav" in voice.extensions and "audio/mpeg" in voice.media_types
    assert ".jpg" not in voice.extensions
    strict = upload_limits.recording_rules(
        a_campaign(ItemKind.AMBIENT, min_duration_s=10, max_duration_s=60, prompts=["A bus"])
    )
    assert (strict.min_seconds, strict.max_seconds, strict.prompts) == (10.0, 60.0, ("A bus",))
    photo = upload_limits.recording_rules(a_campaign(ItemKind.PHOTO))
    assert (photo.min_seconds, photo.max_seconds) == (None, None)
    assert set(photo.extensions) == {".jpg", ".jpeg", ".png", ".webp"}
    chat = upload_limits.recording_rules(a_campaign(ItemKind.CHAT))
    assert chat.extensions == (".txt", ".json")


def browser_rules(html: str) -> tuple[dict, dict]:
    rules = re.search(r"data-rules='([^']*)'", html).group(1)
    messages = re.search(r"data-messages='([^']*)'", html).group(1)
    return json.loads(unescape(rules)), json.loads(unescape(messages))


def test_the_task_states_its_rules_and_an_upload_under_them_is_refused_for_that_reason(
    contributor,  # noqa: F811
    people,
):
    campaign = open_campaign(
        contributor, people["operator"], spec={"min_duration_s": 10, "max_duration_s": 60}
    )
    task = contributor.get(f"/tasks/{campaign['id']}?lang=en").text
    assert "Before you record" in task
    assert "Between 10 seconds and 1 minute long." in task
    assert "At most 500 MB per file." in task
    assert "People talking close to the phone" in task  # what to leave out, for ambient
    hindi = contributor.get(f"/tasks/{campaign['id']}?lang=hi").text
    assert "10 सेकंड से 1 मिनट के बीच" in hindi
    zulu = contributor.get(f"/tasks/{campaign['id']}?lang=zu").text
    assert "Ubude obuphakathi kuka-10 amasekhondi no-1 iminithi." in zulu

    capture = contributor.get(accept(contributor, campaign["id"]) + "&lang=hi")
    rules, messages = browser_rules(capture.text)
    assert (rules["min"], rules["max"]) == (10.0, 60.0)
    assert rules["bytes"] == upload_limits.max_bytes(ItemKind.AMBIENT)
    assert "{duration}" in messages["short"] and "10 सेकंड" in messages["short"]
    assert 'src="/static/precheck.js"' in capture.text

    # The server is still the authority: 2.9 s sent without the browser's check is
    # refused by the pipeline for being under the 10 s the page stated.
    short = media.encode(media.street_noise(2.9, seed=3), "wav")
    response = contributor.post(
        f"/tasks/{campaign['id']}/upload",
        data={"csrf_token": csrf_of(capture.text), "title": "Too short"},
        files={"file": ("short.wav", short, "audio/wav")},
        follow_redirects=False,
    )
    item = contributor.get(response.headers["location"] + "?lang=en").text
    assert 'data-code="too_short"' in item


def upload_to(client, campaign_id: int, title: str, seed: int = 5) -> str:
    """An ambient recording sent to the task with its offer (consent given); its page."""
    capture = client.get(accept(client, campaign_id))
    offer_id = re.search(r'name="offer_id" value="(\d+)"', capture.text).group(1)
    response = client.post(
        f"/tasks/{campaign_id}/upload",
        data={"csrf_token": csrf_of(capture.text), "offer_id": offer_id, "title": title},
        files={"file": ("street.ogg", media.ambient(seed=seed, fmt="opus"), "audio/ogg")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_an_item_still_being_checked_offers_no_delete_link(
    contributor,  # noqa: F811
    people,
    services,
):
    campaign = open_campaign(contributor, people["operator"], review_mode="operator")
    item_url = upload_to(contributor, campaign["id"], "Bus stop at noon")
    item_id = int(item_url.rsplit("/", 1)[1])
    link = f'href="/my/items/{item_id}/delete"'
    assert link in contributor.get(item_url).text
    with services.uow() as uow:  # as if its processing job had not run yet
        uow.get(Item, item_id).status = ItemStatus.VALIDATED
        uow.commit()
    assert link not in contributor.get(item_url).text


def test_deleting_one_item_says_what_it_does_keeps_the_money_and_takes_it_out(
    contributor,  # noqa: F811
    people,
    services,
):
    campaign = open_campaign(contributor, people["operator"], review_mode="operator")
    item_url = upload_to(contributor, campaign["id"], "Taxi rank at dawn")
    item_id = int(item_url.rsplit("/", 1)[1])
    kept = upload_to(contributor, campaign["id"], "Market noon", seed=6)
    accepted = contributor.post(
        f"/api/campaigns/{campaign['id']}/review/{item_id}",
        headers=people["operator"].headers,
        json={"up": True},
    )
    assert accepted.status_code == 200, accepted.text
    earned = contributor.get("/api/me/statement").json()
    assert earned["balances"], "the accepted item was paid"

    item = contributor.get(f"{item_url}?lang=en").text
    assert f'href="/my/items/{item_id}/delete"' in item
    confirm = contributor.get(f"/my/items/{item_id}/delete?lang=en")
    effects = confirm.text
    assert "Your consent is withdrawn. No buyer holds a copy" in effects
    assert "Money already paid for it stays yours" in effects
    hindi = contributor.get(f"/my/items/{item_id}/delete?lang=hi").text
    assert "आपकी सहमति वापस ले ली जाती है" in hindi
    assert "यह आइटम मिटाएँ" in hindi and "Delete this item" not in hindi
    with services.uow() as uow:
        keys = [uow.get(Item, item_id).original_key, uow.get(Item, item_id).deidentified_key]
    assert all(services.store.exists(k) for k in keys if k)

    deleted = contributor.post(
        f"/my/items/{item_id}/delete",
        data={"csrf_token": csrf_of(effects)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303 and deleted.headers["location"] == "/my/items?deleted=1"
    listing = contributor.get("/my/items?deleted=1&lang=en").text
    assert "The item was deleted." in listing
    assert "Taxi rank at dawn" not in listing and "Market noon" in listing
    assert contributor.get("/api/me/statement").json()["balances"] == earned["balances"]
    with services.uow() as uow:
        gone = uow.get(Item, item_id)
        assert gone.status.value == "withdrawn" and gone.report == {}
        assert uow.get(Item, int(kept.rsplit("/", 1)[1])).status.value != "withdrawn"
        steps = [e.tag for e in uow.audit.about("item", [str(item_id)])]
    assert not any(services.store.exists(k) for k in keys if k)
    assert {"consent:withdraw", "item:delete"} <= set(steps)
    again = contributor.post(
        f"/my/items/{item_id}/delete",
        data={"csrf_token": csrf_of(effects)},
        follow_redirects=False,
    )
    assert again.headers["location"] == item_url  # already deleted: nothing more happens


def test_tasks_are_browsable_before_signing_up_with_a_prompt_to_join(client, people):
    campaign = open_campaign(
        client, people["operator"], spec={"min_duration_s": 10, "max_duration_s": 60}
    )
    listing = client.get("/tasks?lang=hi")
    assert listing.status_code == 200
    assert (
        f'href="/tasks/{campaign["id"]}"' in listing.text and 'id="sign-up-prompt"' in listing.text
    )
    task = client.get(f"/tasks/{campaign['id']}?lang=en")
    assert task.status_code == 200
    assert "Between 10 seconds and 1 minute long." in task.text  # rules before signing up too
    assert "Want to take this task?" in task.text and 'href="/sign-up"' in task.text
    assert f"/tasks/{campaign['id']}/accept" not in task.text
    assert client.post(f"/tasks/{campaign['id']}/accept").status_code in (401, 403)
    assert client.get("/tasks/999999").status_code == 404


def test_tasks_are_searched_filtered_and_paged_on_the_server_keeping_the_query(client, people):
    for n in range(22):
        open_campaign(client, people["operator"], title=f"Rain on a tin roof {n}")
    open_campaign(client, people["operator"], kind="voice", title="Read a poem")
    first = client.get("/tasks?q=tin+roof&lang=en").text
    assert "Tasks found: 22" in first and "Read a poem" not in first
    assert "Page 1 of 2" in first
    assert 'href="/tasks?q=tin+roof&amp;n=2" rel="next"' in first
    second = client.get("/tasks?q=tin+roof&n=2&lang=en").text
    assert second.count('class="card task"') == 2 and 'rel="prev"' in second
    voice = client.get("/tasks?kind=voice&lang=en").text
    assert "Read a poem" in voice and "Rain on a tin roof" not in voice
    assert '<option value="voice" selected>' in voice
    none = client.get("/tasks?q=zebra&lang=hi").text
    assert "कोई काम मेल नहीं खाता" in none


def test_my_items_are_searched_and_filtered_and_each_status_says_what_happens_next(
    contributor,  # noqa: F811
    people,
):
    campaign = open_campaign(contributor, people["operator"], review_mode="peer")
    bus = upload_to(contributor, campaign["id"], "Bus stop at night")
    upload_to(contributor, campaign["id"], "Market noon", seed=6)
    found = contributor.get("/my/items?q=bus&lang=en").text
    assert "Items found: 1" in found and "Bus stop at night" in found
    assert "Market noon" not in found
    assert 'value="bus"' in found  # the search box keeps the words
    assert "Items found: 0" in contributor.get("/my/items?status=listed&lang=en").text

    item = contributor.get(f"{bus}?lang=en").text
    assert "Waiting for review" in item and ">Accepted<" not in item  # not yet accepted
    votes = re.search(r'<p id="review-votes">([^<]*)</p>', item).group(1)
    assert votes == "Other contributors review it: 0 of 2 votes for it so far."
    assert re.search(r"When it is accepted, \$\d+\.\d\d goes to your balance\.", item)
    assert "it is accepted and paid then." in item
    hindi = contributor.get(f"{bus}?lang=hi").text
    assert "अब तक इसके पक्ष में 2 में से 0 वोट" in hindi


def test_the_export_holds_the_persons_own_media_decrypted_streamed(
    contributor,  # noqa: F811
    people,
    services,
):
    import io
    import zipfile

    from datatrust.services.market import rights

    campaign = open_campaign(contributor, people["operator"])
    item_id = int(upload_to(contributor, campaign["id"], "Bus stop").rsplit("/", 1)[1])
    deleted = int(upload_to(contributor, campaign["id"], "Gone", seed=6).rsplit("/", 1)[1])
    confirm = contributor.get(f"/my/items/{deleted}/delete")
    contributor.post(f"/my/items/{deleted}/delete", data={"csrf_token": csrf_of(confirm.text)})

    export = contributor.get("/my/account/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    names = set(archive.namelist())
    assert {"items.json", "account.json", "receipts.json"} <= names
    as_sent = contributor.get(f"/api/items/{item_id}/original").content
    assert archive.read(f"media/{item_id}-original.ogg") == as_sent  # decrypted
    shipped = [n for n in names if n.startswith(f"media/{item_id}-shipped")]
    assert len(shipped) == 1 and archive.read(shipped[0])
    assert not [n for n in names if n.startswith(f"media/{deleted}-")]  # deleted: gone

    # Streamed: the zip comes out in pieces as the media are read, not as one buffer.
    with services.uow() as uow:
        owner = uow.get(Item, item_id).owner_id
        from datatrust.domain.accounts import User
        from datatrust.services.accounts.accounts import actor_for

        actor = actor_for(uow, uow.get(User, owner))
        pieces = list(rights.export_with_media(uow, services.storage, actor))
    assert len(pieces) > 3 and b"".join(pieces)[:2] == b"PK"


def test_the_operators_review_queue_is_paged_keeping_its_campaign(
    contributor,  # noqa: F811
    people,
    monkeypatch,
):
    from datatrust.services import listing

    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    campaign = open_campaign(contributor, people["operator"], review_mode="operator")
    first = upload_to(contributor, campaign["id"], "One").rsplit("/", 1)[1]
    second = upload_to(contributor, campaign["id"], "Two", seed=6).rsplit("/", 1)[1]
    operator = people["operator"].headers
    queue = f"/operator/review?campaign={campaign['id']}"
    page_one = contributor.get(f"{queue}&lang=en", headers=operator)
    assert page_one.status_code == 200, page_one.text
    assert f'id="item-{first}"' in page_one.text and f'id="item-{second}"' not in page_one.text
    assert "Page 1 of 2" in page_one.text
    assert f'href="/operator/review?campaign={campaign["id"]}&amp;n=2" rel="next"' in page_one.text
    page_two = contributor.get(f"{queue}&n=2", headers=operator)
    assert f'id="item-{second}"' in page_two.text and f'id="item-{first}"' not in page_two.text
