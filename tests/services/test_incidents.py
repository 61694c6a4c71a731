"""The incident register (issue 14 §6): who an incident touched, the 72-hour clock, the
notices in each contributor's language, the regulator's report, every step audited."""

from __future__ import annotations

from datetime import timedelta

import pytest

import ingest_media
from datatrust.domain.accounts import User
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput, PermissionDenied
from datatrust.domain.incidents import Notice
from datatrust.domain.jobs import OutboxJob
from datatrust.domain.snapshots import SnapshotItem
from datatrust.services.contributions import items
from datatrust.services.licensing import licences
from datatrust.services.trust import incidents, passport
from test_authorisation_matrix import victim_buyer_objects


def _item(services, persona, seed):
    with services.uow() as uow:
        return items.receive_item(
            uow,
            services.storage,
            persona.actor,
            kind="photo",
            filename="p.jpg",
            content_type="image/jpeg",
            chunks=[ingest_media.photo(seed=seed)],
        )


@pytest.fixture
def touched(services, people):
    """The owner's item, read (the access log has it) and delivered to the buyer; the
    other contributor's item, never read."""
    owner, buyer = people["owner"], people["buyer"]
    with services.uow() as uow:
        uow.get(User, owner.actor.user_id).language = "hi"
        uow.commit()
    mine, theirs = _item(services, owner, 1), _item(services, people["other"], 2)
    with services.uow() as uow:
        offer = licences.create_offer(
            uow, owner.actor, template="training_only", changes={"price_minor": 500}
        )
    ids = victim_buyer_objects(services, buyer.actor.org_id, owner.actor.user_id, mine.id, offer.id)
    with services.uow() as uow:
        uow.add(
            SnapshotItem(
                snapshot_id=int(ids["snapshot_id"]),
                org_id=buyer.actor.org_id,
                item_id=mine.id,
                agreement_id=int(ids["agreement_id"]),
                shard_index=0,
                key="k",
                content_sha256="0" * 64,
                licence_id="l",
                consent_record_id="c",
            )
        )
        uow.commit()
    start = utcnow() - timedelta(seconds=1)
    with services.uow() as uow:
        _, chunks = items.open_original(uow, services.storage, owner.actor, mine.id)
        b"".join(chunks)
    return mine, theirs, start


def _open_window(services, operator, start, **extra):
    with services.uow() as uow:
        return incidents.open_incident(
            uow,
            operator.actor,
            title="Backup bucket left public",
            description="Found by a researcher",
            discovered_at=utcnow() - timedelta(hours=2),
            window_start=start,
            window_end=utcnow() + timedelta(seconds=1),
            **extra,
        )


def test_an_incident_over_a_window_touches_what_the_access_log_shows_and_its_holders(
    services, people, touched
):
    mine, theirs, start = touched
    incident = _open_window(services, people["operator"], start)
    assert incident.affected_items == [mine.id] and theirs.id not in incident.affected_items
    assert incident.affected_users == [people["owner"].actor.user_id]
    assert incident.affected_orgs == [people["buyer"].actor.org_id]
    assert incident.deadline == incident.discovered_at + timedelta(hours=72)
    assert _open_window(services, people["operator"], start, kinds=["video"]).affected_items == []
    with services.uow() as uow:
        steps = passport.item_passport(uow, people["owner"].actor, mine.id)["events"]
        assert "touched by a security incident" in [s["step"] for s in steps]
        assert uow.count(AuditEvent, tag="incident:open") == 2


def test_notices_go_to_each_contributor_in_their_language_and_to_each_holder(
    services, people, touched
):
    incident = _open_window(services, people["operator"], touched[2])
    with services.uow() as uow:
        incidents.notify_incident(uow, people["operator"].actor, incident.id)
    with services.uow() as uow:
        (mine,) = incidents.my_notices(uow, people["owner"].actor)
        assert mine.language == "hi" and "सुरक्षा घटना" in mine.subject
        assert "Backup bucket left public" in mine.body
        (theirs,) = incidents.my_notices(uow, people["buyer"].actor)
        assert theirs.org_id == people["buyer"].actor.org_id and "1 items" in theirs.body
        assert incidents.my_notices(uow, people["other"].actor) == []
        sent = uow.all(OutboxJob, job="mail.send")
        assert sent and all(j.payload == {} for j in sent)  # sent, then forgotten
        assert uow.count(Notice, incident_id=incident.id) == 2
        assert uow.count(AuditEvent, tag="incident:notify", subject_id=str(incident.id)) == 1
        report = incidents.regulator_report(uow, people["operator"].actor, incident.id)
    assert report["notified_within_72_hours"] and report["data_subjects_affected"] == 1
    assert report["records_affected"] == 1 and report["recipients_affected"] == 1
    assert report["data_categories"] == ["photo"] and report["notices_sent"] == 2
    assert people["owner"].email not in str(report)  # counts, not names
    with services.uow() as uow:
        assert uow.count(AuditEvent, tag="incident:report") == 1


def test_operators_are_reminded_while_nobody_was_told_and_not_after(services, people, touched):
    incident = _open_window(services, people["operator"], touched[2])
    later = utcnow() + timedelta(hours=13)
    with services.uow() as uow:
        assert incidents.remind(uow, later) == 1
    with services.uow() as uow:
        assert incidents.remind(uow, later + timedelta(hours=1)) == 0  # reminded just now
        event = uow.all(AuditEvent, tag="incident:remind")[-1]
        assert event.data["hours_left"] < 72 - 13 and not event.data["overdue"]
    with services.uow() as uow:
        incidents.notify_incident(uow, people["operator"].actor, incident.id)
    with services.uow() as uow:
        assert incidents.remind(uow, later + timedelta(days=5)) == 0


def test_an_incident_without_a_clear_scope_is_refused_naming_each_problem(services, people):
    with services.uow() as uow, pytest.raises(InvalidInput) as refused:
        incidents.open_incident(
            uow,
            people["operator"].actor,
            title="",
            description="",
            discovered_at=utcnow() + timedelta(days=1),
            kinds=["smell"],
        )
    problems = " ".join(refused.value.details["problems"])
    for word in ("title", "future", "scope", "smell"):
        assert word in problems


@pytest.mark.parametrize("who", ["owner", "buyer"])
def test_only_operators_open_or_read_incidents(services, people, who):
    with services.uow() as uow, pytest.raises(PermissionDenied):
        incidents.open_incident(
            uow,
            people[who].actor,
            title="x",
            description="",
            discovered_at=utcnow(),
            item_ids=[1],
        )
    with services.uow() as uow, pytest.raises(PermissionDenied):
        incidents.list_incidents(uow, people[who].actor)


def test_an_affected_contributor_reads_of_the_incident_in_hindi_by_mail_in_app_and_passport(
    client, services, people, touched
):
    """Neon Mobile's users never heard that their calls had leaked. Here the contributor
    whose item an incident touched (account in Hindi) is told by mail and on the notices
    page, in Hindi, and the item's passport page shows the incident; the contributor it
    did not touch hears nothing."""
    from support import mail_to

    owner, other = people["owner"], people["other"]
    mine = touched[0]
    incident = _open_window(services, people["operator"], touched[2])
    with services.uow() as uow:
        incidents.notify_incident(uow, people["operator"].actor, incident.id)
    (mail,) = mail_to(services, owner.email)
    assert "सुरक्षा घटना" in mail["Subject"] and "Backup bucket left public" in mail.get_content()
    assert mail_to(services, other.email) == []
    hindi = {"dt_lang": "hi"}
    shown = client.get("/my/notices", headers=owner.headers, cookies=hindi)
    assert shown.status_code == 200 and mail["Subject"] in shown.text
    assert 'lang="hi"' in shown.text
    assert "Backup bucket left public" not in client.get("/my/notices", headers=other.headers).text
    page = client.get(f"/my/items/{mine.id}/passport", headers=owner.headers, cookies=hindi)
    assert page.status_code == 200 and "एक सुरक्षा घटना का असर पड़ा" in page.text
