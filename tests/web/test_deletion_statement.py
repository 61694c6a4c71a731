"""Acknowledge, then attest deletion with a signed statement (issue 17 §2): which
snapshots, which other copies, and what was done with models trained on the item, as the
licence's end-of-licence term allows. A statement that leaves out a snapshot the buyer
downloaded is refused naming it; the contributor's passport shows each buyer's
acknowledgement and attestation with dates in words; an overdue attestation suspends.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_feed_protocol import make_holder

from datatrust.client import verify_jws
from datatrust.domain.accounts import Organisation, OrgStatus
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import utcnow
from datatrust.domain.orders import AgreementRow
from datatrust.domain.snapshots import Revocation
from datatrust.services.market.revocations import check_deadlines


@pytest.fixture
def withdrawn(client, services, people):
    """A buyer that downloaded a snapshot holding the walk, which was then withdrawn."""
    trainer, walk, _ = make_holder(client, services, people)
    [snap] = client.get("/api/buyers/snapshots", headers=trainer.headers).json()
    got = client.get(f"/api/buyers/snapshots/{snap['id']}", headers=trainer.headers).json()
    for meta in got["downloads"]["files"].values():
        assert client.get(meta["url"]).status_code == 200
    gone = client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    assert gone.status_code == 200, gone.text
    return trainer, walk, snap


def _attest(client, persona, walk, **extra):
    body = {
        "content_sha256": [walk.deidentified_sha256],
        "statement": "deleted from the training store and every cache",
        "models": "retrained_without",
        **extra,
    }
    return client.post("/api/buyers/attestations", headers=persona.headers, json=body)


def test_a_statement_that_omits_a_downloaded_snapshot_is_refused_naming_it(
    client, services, people, withdrawn
):
    trainer, walk, snap = withdrawn
    refused = _attest(client, trainer, walk)  # names no snapshot
    assert refused.status_code == 422
    problems = refused.json()["error"]["details"]["problems"]
    assert any(f"snapshot {snap['id']} (version 1.0.0)" in p for p in problems), problems
    with services.uow() as uow:
        [event] = uow.all(AuditEvent, tag="deletion:refuse")
        assert event.data["left_out_snapshots"] == [snap["id"]]
        # Nothing was recorded as attested.
        assert uow.one(Revocation, item_id=walk.id).attested_at is None
    not_ours = _attest(client, trainer, walk, snapshots=[snap["id"], 99999])
    assert not_ours.status_code == 422 and "99999 is not a snapshot of your" in not_ours.text


def test_a_model_answer_the_licence_does_not_allow_is_refused_with_the_term(
    client, services, people, withdrawn
):
    trainer, walk, snap = withdrawn
    # training_only says "retrain without" when it ends: keeping the model is not allowed.
    kept = _attest(client, trainer, walk, snapshots=[snap["id"]], models="kept_no_new_training")
    assert kept.status_code == 422
    assert "not what the licence allows when it ends (retrain_without)" in kept.text
    missing = _attest(client, trainer, walk, snapshots=[snap["id"]], models=None)
    assert missing.status_code == 422 and "models: say what you did" in missing.text


def test_an_attestation_naming_every_copy_is_signed_and_shown_in_the_passport_in_words(
    client, services, people, withdrawn
):
    trainer, walk, snap = withdrawn
    ack = client.post(
        "/api/buyers/revocations/acknowledge",
        headers=trainer.headers,
        json={"content_sha256": [walk.deidentified_sha256]},
    )
    assert ack.status_code == 200
    copies = ["s3://trainer-data/walks/ (bucket emptied)", "laptop of the data lead (wiped)"]
    done = _attest(client, trainer, walk, snapshots=[snap["id"]], copies=copies)
    assert done.status_code == 201, done.text
    jwks = client.get("/.well-known/jwks.json").json()
    statement = verify_jws(done.json()["signed_statement"], jwks)
    assert statement["type"] == "datatrust-deletion-statement"
    assert statement["snapshots"] == [snap["id"]] and statement["copies"] == copies
    assert statement["models"] == "retrained_without"
    assert statement["licence_on_end"] == ["retrain_without"]
    assert statement["notices"] == [{"seq": 1, "content_hashes": [walk.deidentified_sha256]}]

    owner = people["owner"]
    passport = client.get(f"/api/items/{walk.id}/passport", headers=owner.headers).json()
    [told] = passport["buyers"]
    assert told["buyer"] == "Trainer Labs Ltd"
    assert told["acknowledged_at"] and told["attested_at"] and told["late"] is False
    # The signed statement and its text are the buyer's: not in the contributor's view.
    assert "signed_statement" not in str(passport["events"])

    day = utcnow().day
    pages = {
        lang: client.get(f"/my/items/{walk.id}/passport?lang={lang}", headers=owner.headers).text
        for lang in ("en", "hi", "zu")
    }
    assert "Trainer Labs Ltd" in pages["en"]
    assert "Acknowledged on" in pages["en"] and "Deletion attested on" in pages["en"]
    assert utcnow().strftime("%B") in pages["en"] and str(day) in pages["en"]
    assert "स्वीकार किया" in pages["hi"] and "मिटाने की पुष्टि की गई" in pages["hi"]
    assert "Bavume ngo" in pages["zu"] and "Ukususwa kuqinisekiswe ngo" in pages["zu"]
    for lang in ("hi", "zu"):
        assert "Acknowledged on" not in pages[lang] and "Deletion attested on" not in pages[lang]


def test_an_unattested_notice_past_its_deadline_suspends_the_buyer_and_shows_in_the_passport(
    client, services, people, withdrawn
):
    trainer, walk, snap = withdrawn
    with services.uow() as uow:
        assert check_deadlines(uow, now=utcnow() + timedelta(days=31))["suspended"] == 1
        uow.commit()
    with services.uow() as uow:
        org = uow.get(Organisation, trainer.actor.org_id)
        assert org.status is OrgStatus.SUSPENDED
    passport = client.get(f"/api/items/{walk.id}/passport", headers=people["owner"].headers).json()
    assert passport["buyers"][0]["overdue"] is True
    assert passport["buyers"][0]["attested_at"] is None
    page = client.get(f"/my/items/{walk.id}/passport", headers=people["owner"].headers)
    assert "Overdue: the buyer was suspended" in page.text
    # A suspended buyer can still attest: complying never stops.
    done = _attest(client, trainer, walk, snapshots=[snap["id"]])
    assert done.status_code == 201, done.text


def test_the_buyers_feed_page_asks_for_each_downloaded_snapshot_and_the_model_answer(
    client, services, people, withdrawn
):
    trainer, walk, snap = withdrawn
    page = client.get("/buyer/feed", headers=trainer.headers)
    assert f'name="snapshots" value="{snap["id"]}"' in page.text
    assert "Models trained on it were retrained without it" in page.text
    assert "Models were kept" not in page.text  # not allowed by this licence
    refused = client.post(
        "/buyer/feed/attest",
        headers=trainer.headers,
        data={
            "content_sha256": [walk.deidentified_sha256],
            "statement": "deleted",
            "models": "deleted",
        },
    )
    assert refused.status_code == 422 and f"snapshot {snap['id']}" in refused.text
    done = client.post(
        "/buyer/feed/attest",
        headers=trainer.headers,
        data={
            "content_sha256": [walk.deidentified_sha256],
            "statement": "deleted",
            "models": "deleted",
            "snapshots": [str(snap["id"])],
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


@pytest.fixture
def served(services):
    """The app over this test's database, served by uvicorn on 127.0.0.1 in a thread
    (the client speaks plain HTTP with urllib: no test client stands in)."""
    import socket
    import threading
    import time

    import uvicorn

    from datatrust.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services, start_worker=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_python_client_does_a_buyers_side_of_withdrawal_in_a_few_lines(
    services, people, withdrawn, served, tmp_path
):
    from datatrust.client import Buyer, BuyerError

    trainer, walk, snap = withdrawn
    buyer = Buyer(served, trainer.token, state_path=tmp_path / "feed-state.json")
    [notice] = buyer.due()
    assert notice["content_sha256"] == walk.deidentified_sha256
    buyer.acknowledge(notice)
    with pytest.raises(BuyerError) as refused:  # a downloaded snapshot left out
        buyer.attest(notice, snapshots=[], models="deleted", statement="deleted")
    assert refused.value.status == 422 and f"snapshot {snap['id']}" in str(refused.value)
    signed = buyer.attest(
        notice,
        snapshots=buyer.held(notice),
        models="deleted",
        copies=["s3://trainer-data/walks (emptied)"],
        statement="deleted every copy",
    )
    assert signed["snapshots"] == [snap["id"]] and signed["models"] == "deleted"
    assert buyer.due() == []
    with services.uow() as uow:
        assert uow.one(Revocation, item_id=walk.id).attested_at is not None


def test_the_feed_page_marks_a_notice_overdue_once_its_deadline_passes_until_attested(
    client, services, people, withdrawn
):
    trainer, walk, snap = withdrawn
    marked = '<span class="risk">Overdue</span>'
    assert marked not in client.get("/buyer/feed", headers=trainer.headers).text
    with services.uow() as uow:
        (notice,) = uow.all(Revocation, item_id=walk.id)
        notice.deadline = utcnow() - timedelta(minutes=1)  # by the clock, before any check
        uow.commit()
    pages = {
        lang: client.get(f"/buyer/feed?lang={lang}", headers=trainer.headers).text
        for lang in ("en", "hi", "zu")
    }
    assert marked in pages["en"]
    assert '<span class="risk">समय निकल गया</span>' in pages["hi"]
    assert '<span class="risk">Kudlulelwe yisikhathi</span>' in pages["zu"]
    done = _attest(client, trainer, walk, snapshots=[snap["id"]])
    assert done.status_code == 201, done.text
    assert marked not in client.get("/buyer/feed", headers=trainer.headers).text


def test_a_held_item_is_noticed_as_expired_the_moment_its_agreed_licence_ends(
    client, services, people
):
    trainer, walk, park = make_holder(client, services, people)
    with services.uow() as uow:
        held = uow.all(AgreementRow, org_id=trainer.actor.org_id)
        ends = {a.item_id: a.valid_until for a in held}
    assert set(ends) == {walk.id, park.id}
    assert ends[walk.id] is not None and ends[walk.id] > utcnow() + timedelta(days=300)
    first = min(ends.values())
    ended_first = {i for i, end in ends.items() if end == first}
    with services.uow() as uow:
        assert check_deadlines(uow, now=first - timedelta(seconds=1))["noticed"] == 0
        assert uow.count(Revocation) == 0
    with services.uow() as uow:
        assert check_deadlines(uow, now=first)["noticed"] == len(ended_first)
        assert {(n.item_id, n.reason) for n in uow.all(Revocation)} == {
            (i, "expired") for i in ended_first
        }
        uow.commit()
    with services.uow() as uow:  # each holding is noticed once
        assert check_deadlines(uow, now=max(ends.values()))["noticed"] == 2 - len(ended_first)
        assert uow.count(Revocation) == 2
