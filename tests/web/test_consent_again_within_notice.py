"""Consent given again while a buyer is still in a withdrawal's promised notice (issue 18).

A licence may promise buyers notice of a withdrawal (``withdrawal_notice_days``): the
withdrawal takes effect for a buyer holding the item only when that notice ends. If the
contributor gives consent again before then, under the same licence, the withdrawal never
took effect for that buyer: it keeps the item under the agreement it bought, its notice is
superseded (the signed feed and the feed page say so, and the buyer's client stops
revoking the item), it has nothing to attest and is never suspended over it; a later
withdrawal reaches it again with a new notice. Under other terms the old ones stay
withdrawn: the buyer keeps the item until its notice ends, as promised, and no longer.
"""

from __future__ import annotations

from datetime import timedelta

from test_feed_protocol import _feed, _jwks, holder_in_notice
from test_seed_story import TRAINING, offer_training_only, year_of_use

from datatrust.client import revoked_hashes, verify_feed
from datatrust.domain.clock import utcnow
from datatrust.domain.orders import AgreementRow
from datatrust.domain.snapshots import Revocation
from datatrust.i18n import translator
from datatrust.services.market.revocations import check_deadlines
from page_text import visible

KEPT = {
    "en": "Consent was given again before the notice ended: you may keep using it",
    "hi": "सूचना अवधि खत्म होने से पहले फिर से सहमति दी गई",
    "zu": "Imvume iphinde yanikezwa ngaphambi kokuba isikhathi sesaziso siphele",
}


def _rebuild(client, trainer, order) -> dict:
    built = client.post(f"/api/buyers/orders/{order['id']}/snapshots", headers=trainer.headers)
    assert built.status_code == 201, built.text
    return built.json()


def test_consent_given_again_within_the_notice_lets_the_buyer_keep_the_item_and_says_so(
    client, services, people
):
    trainer, walk, park, order = holder_in_notice(client, services, people)
    owner = people["owner"].headers
    before = verify_feed(_feed(client, trainer)["feed"], _jwks(client))
    assert walk.deidentified_sha256 in revoked_hashes(before)

    again = client.post(f"/api/items/{walk.id}/consent/again", headers=owner, json={})
    assert again.status_code == 201, again.text

    # The feed keeps the notice at its place and says it is superseded; the buyer's
    # client no longer revokes the walk, and still revokes the park.
    feed = verify_feed(_feed(client, trainer)["feed"], _jwks(client))
    entries = {e["content_sha256"]: e for e in feed["revoked"]}
    assert [e["seq"] for e in feed["revoked"]] == [1, 2] and feed["last_seq"] == 2
    assert entries[walk.deidentified_sha256]["superseded_at"] is not None
    assert entries[park.deidentified_sha256]["superseded_at"] is None
    hashes = revoked_hashes(feed)
    assert walk.deidentified_sha256 not in hashes and park.deidentified_sha256 in hashes
    for lang, words in KEPT.items():
        page = client.get(f"/buyer/feed?lang={lang}", headers=trainer.headers)
        assert page.status_code == 200 and page.text.count(words) == 1, lang
        assert page.text.count('action="/buyer/feed/attest"') == 1, lang  # the park's alone

    # It keeps the walk under the agreement it bought: the next build ships it, and a
    # new quote counts it as held, not as told to delete.
    rebuilt = _rebuild(client, trainer, order)
    assert rebuilt["items"] == 1 and str(walk.id) not in rebuilt["dropped"], rebuilt
    quote = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    )
    assert quote.status_code == 201, quote.text
    assert "told_to_delete" not in quote.json()["reasons"] or (
        quote.json()["reasons"]["told_to_delete"] == 1  # the park
    )
    with services.uow() as uow:
        [agreement] = uow.all(AgreementRow, item_id=walk.id)
        assert agreement.consent_id == again.json()["consent"]["id"]

    # Nothing to attest for the walk, and no suspension over it when the deadline passes.
    attest = client.post(
        "/api/buyers/attestations",
        headers=trainer.headers,
        json={
            "content_sha256": [walk.deidentified_sha256],
            "snapshots": [],
            "models": "none_trained",
            "statement": "deleted",
        },
    )
    assert attest.status_code == 422 and "revocation.no_notice" in attest.text
    with services.uow() as uow:
        check_deadlines(uow, utcnow() + timedelta(days=200))
        walk_notice = uow.one(Revocation, item_id=walk.id, org_id=trainer.actor.org_id)
        assert walk_notice.superseded_at is not None and walk_notice.overdue_at is None
        park_notice = uow.one(Revocation, item_id=park.id, org_id=trainer.actor.org_id)
        assert park_notice.overdue_at is not None  # the control: that one was due
        uow.rollback()

    # The contributor's passport says the buyer keeps it, in words.
    passport = client.get(f"/my/items/{walk.id}/passport?lang=zu", headers=owner).text
    assert "umthengi uyayigcina" in passport
    # The notice's reason too: "withdrawn" was shown as the code on every language's page.
    told = visible(passport)
    assert "withdrawn" not in told.lower()
    assert translator("zu").gettext("Withdrawn") in told

    # Withdrawn again: the buyer is told again, with a new notice at the feed's end.
    assert client.delete(f"/api/items/{walk.id}/consent", headers=owner).status_code == 200
    feed = verify_feed(_feed(client, trainer)["feed"], _jwks(client))
    assert [e["seq"] for e in feed["revoked"]] == [1, 2, 3]
    latest = feed["revoked"][-1]
    assert latest["content_sha256"] == walk.deidentified_sha256
    assert latest["superseded_at"] is None and latest["notice_ends_at"] is not None
    assert walk.deidentified_sha256 in revoked_hashes(feed)


def test_consent_given_again_under_other_terms_keeps_the_item_only_until_the_notice_ends(
    client, services, people
):
    trainer, walk, _park, order = holder_in_notice(client, services, people)
    owner = people["owner"]
    other_terms = offer_training_only(client, owner, price_minor=2000)
    again = client.post(
        f"/api/items/{walk.id}/consent/again",
        headers=owner.headers,
        json={"offer_id": other_terms["id"]},
    )
    assert again.status_code == 201, again.text

    # Within the notice the promised use goes on: the next build still ships the walk.
    rebuilt = _rebuild(client, trainer, order)
    assert rebuilt["items"] == 1 and str(walk.id) not in rebuilt["dropped"], rebuilt
    feed = verify_feed(_feed(client, trainer)["feed"], _jwks(client))
    assert all(e["superseded_at"] is None for e in feed["revoked"])
    assert walk.deidentified_sha256 in revoked_hashes(feed)
    with services.uow() as uow:
        [agreement] = uow.all(AgreementRow, item_id=walk.id)
        assert agreement.consent_id != again.json()["consent"]["id"]
