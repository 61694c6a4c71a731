"""Every participant's consent for chats and calls: until the others confirm through the
link the contributor shares, only the contributor's own messages ship."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

import ingest_media as media
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, NotFound
from datatrust.domain.invitations import InvitationState, ParticipantInvitation
from datatrust.domain.items import Item, ItemStatus
from datatrust.services.contributions import ingest, items, participants
from datatrust.services.market import snapshots


def secret(services) -> bytes:
    return services.settings.secret_key.get_secret_value().encode()


def receive_chat(services, persona, **extra):
    with services.uow() as uow:
        item = items.receive_item(
            uow,
            services.storage,
            persona.actor,
            kind="chat",
            filename="chat.txt",
            content_type="text/plain",
            chunks=[media.whatsapp_chat()],
            metadata={"me": "Priya Sharma"},
            **extra,
        )
    with services.uow() as uow:
        return uow.get(Item, item.id)


def shipped(services, persona, item_id) -> dict:
    with services.uow() as uow:
        preview = ingest.open_preview(uow, services.storage, persona.actor, item_id)
        return json.loads(b"".join(preview.chunks))


def links(services, persona, item_id):
    with services.uow() as uow:
        return participants.list_for_owner(uow, secret(services), persona.actor, item_id)


def tags(services, item_id):
    with services.uow() as uow:
        return [e.tag for e in uow.all(AuditEvent, subject_type="item", subject_id=str(item_id))]


def test_a_processed_chat_ships_only_the_contributor_and_invites_the_other_participant(
    services, people
):
    item = receive_chat(services, people["owner"])
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]
    senders = {m["sender"] for m in shipped(services, people["owner"], item.id)["messages"]}
    assert senders == {"CONTRIBUTOR"}
    [invite] = links(services, people["owner"], item.id)
    assert invite["label"] == "PARTICIPANT_1" and invite["state"] == "pending"
    assert len(invite["token"]) >= 40
    assert invite["expires_at"] > utcnow() + timedelta(days=29)
    assert "participant:invite" in tags(services, item.id)
    with services.uow() as uow:
        row = uow.one(ParticipantInvitation, item_id=item.id)
    assert invite["token"] not in (row.token_hash, row.nonce)  # stored hashed only


def test_confirming_reprocesses_the_chat_with_their_redacted_messages(services, people):
    item = receive_chat(services, people["owner"])
    token = links(services, people["owner"], item.id)[0]["token"]
    with services.uow() as uow:
        page = participants.describe_invitation(uow, token)
    assert page["label"] == "PARTICIPANT_1" and page["licence"]
    assert "Priya" not in json.dumps(page, default=str)
    with services.uow() as uow:
        participants.decide(uow, token, confirm=True)
    body = shipped(services, people["owner"], item.id)
    senders = {m["sender"] for m in body["messages"]}
    assert senders == {"CONTRIBUTOR", "PARTICIPANT_1"}
    text = json.dumps(body)
    assert "+27 82 555 1234" not in text and "Sipho" not in text
    after = tags(services, item.id)
    assert after.index("participant:confirm") < after.index("item:reprocess")
    assert links(services, people["owner"], item.id)[0]["state"] == "confirmed"
    assert links(services, people["owner"], item.id)[0]["token"] is None


def test_declining_keeps_their_messages_out_and_cannot_be_flipped(services, people):
    item = receive_chat(services, people["owner"])
    token = links(services, people["owner"], item.id)[0]["token"]
    before = shipped(services, people["owner"], item.id)
    with services.uow() as uow:
        participants.decide(uow, token, confirm=False)
    assert shipped(services, people["owner"], item.id) == before
    assert "participant:decline" in tags(services, item.id)
    with pytest.raises(Conflict), services.uow() as uow:
        participants.decide(uow, token, confirm=True)
    with services.uow() as uow:
        assert uow.one(ParticipantInvitation, item_id=item.id).state is InvitationState.DECLINED


def test_a_wrong_or_expired_token_opens_nothing(services, people):
    item = receive_chat(services, people["owner"])
    token = links(services, people["owner"], item.id)[0]["token"]
    for wrong in (token[:-2] + "xx", "", "a" * 500):
        with pytest.raises(NotFound), services.uow() as uow:
            participants.describe_invitation(uow, wrong)
    with services.uow() as uow:
        row = uow.one(ParticipantInvitation, item_id=item.id)
        row.expires_at = utcnow() - timedelta(seconds=1)
        uow.commit()
    with pytest.raises(NotFound, match="expired"), services.uow() as uow:
        participants.decide(uow, token, confirm=True)


def test_only_the_owner_sees_the_links(services, people):
    item = receive_chat(services, people["owner"])
    for name in ("other", "buyer", "operator"):
        with pytest.raises(Exception) as caught, services.uow() as uow:
            participants.list_for_owner(uow, secret(services), people[name].actor, item.id)
        assert type(caught.value).__name__ in ("NotFound", "PermissionDenied")


def receive_call(services, persona, transcript=media.CALL_TRANSCRIPT, **extra):
    with services.uow() as uow:
        item = items.receive_item(
            uow,
            services.storage,
            persona.actor,
            kind="call",
            filename="call.m4a",
            content_type="audio/mp4",
            chunks=[media.call()],
            transcript=transcript,
            **extra,
        )
    with services.uow() as uow:
        return uow.get(Item, item.id)


def preview(services, persona, item_id, part="media"):
    with services.uow() as uow:
        p = ingest.open_preview(uow, services.storage, persona.actor, item_id, part)
        return p.content_type, b"".join(p.chunks)


def test_an_unconfirmed_call_ships_only_the_contributors_redacted_turns_and_no_audio(
    services, people
):
    item = receive_call(services, people["owner"])
    assert item.status is ItemStatus.ACCEPTED, item.report["reasons"]

    content_type, shipped = preview(services, people["owner"], item.id)
    assert content_type.startswith("text/plain")
    text = shipped.decode()
    assert text.startswith("CONTRIBUTOR: Sure, it is [PHONE]")
    assert "Maria" not in text and "Agent" not in text and "7946" not in text
    assert item.report["output"] == {
        "format": "txt",
        "content_type": "text/plain",
        "size": len(shipped),
    }
    assert item.report["removed"]["call_audio_withheld"] is True
    assert "call audio held back until the other side confirms" in item.report["removed_summary"]
    assert "1 turn by the other side left out of the transcript" in item.report["removed_summary"]
    assert preview(services, people["owner"], item.id, "transcript")[1] == shipped
    assert item.fingerprints["audio"]  # still fingerprinted: duplicates are caught
    assert item.deidentified_sha256 == hashlib.sha256(shipped).hexdigest()  # all that ships
    # A snapshot names and types the record for what ships, not for the upload.
    assert item.shipped_content_type == "text/plain"
    assert snapshots._extension(item) == "txt"


def test_once_the_other_side_confirms_the_call_is_reprocessed_and_its_audio_ships(services, people):
    item = receive_call(services, people["owner"])
    [invite] = links(services, people["owner"], item.id)
    assert invite["label"] == "PARTICIPANT_1"
    with services.uow() as uow:
        participants.decide(uow, invite["token"], confirm=True)

    with services.uow() as uow:
        after = uow.get(Item, item.id)
    assert after.report["participants_confirmed"] == ["PARTICIPANT_1"]
    assert after.deidentified_key != item.deidentified_key
    content_type, audio = preview(services, people["owner"], item.id)
    assert content_type == after.report["output"]["content_type"] == "audio/mp4"
    assert audio[4:8] == b"ftyp"
    assert "call_audio_withheld" not in after.report["removed"]
    text = preview(services, people["owner"], item.id, "transcript")[1].decode()
    assert text.splitlines() == [
        "PARTICIPANT_1: Hello, this is [PERSON_1] from the bank. Can I have your number?",
        "CONTRIBUTOR: Sure, it is [PHONE] and my email is [EMAIL].",
    ]
    assert after.fingerprints["sha256_output"] == after.deidentified_sha256
    assert "item:reprocess" in tags(services, item.id)


def test_a_declined_call_never_ships_audio(services, people):
    item = receive_call(services, people["owner"])
    [invite] = links(services, people["owner"], item.id)
    with services.uow() as uow:
        participants.decide(uow, invite["token"], confirm=False)
    content_type, _ = preview(services, people["owner"], item.id)
    assert content_type.startswith("text/plain")


def test_a_call_with_nothing_to_ship_is_kept_waiting_not_accepted_or_listed(services, people):
    item = receive_call(services, people["owner"], transcript="hello\nmy number is 555\n")
    assert item.status is ItemStatus.PROCESSED, item.report["reasons"]
    assert item.report["waiting"]["code"] == "nothing_to_ship"
    assert "every line starts with its speaker" in item.report["waiting"]["message"]
    assert "campaign" not in item.report  # never reviewed, never paid
    assert "item:accept" not in tags(services, item.id)
    assert item.deidentified_key is None and "output" not in item.report
    assert item.report["transcript"]["shipped"] is False
    assert "Label each line" in item.report["transcript"]["why"]
    with pytest.raises(NotFound):
        preview(services, people["owner"], item.id)
    with services.uow() as uow:  # even pushed through review, it cannot be listed
        held = uow.get(Item, item.id)
        held.move_to(ItemStatus.ACCEPTED)
        with pytest.raises(Conflict, match="no de-identified version"):
            held.move_to(ItemStatus.LISTED)


def test_a_call_transcript_labelled_with_the_contributors_name(services, people):
    transcript = "Priya: I'll be late, call +27 82 555 1234.\nSipho: Fine.\n"
    item = receive_call(services, people["owner"], transcript, metadata={"me": "priya"})
    text = preview(services, people["owner"], item.id)[1].decode()
    assert text == "CONTRIBUTOR: I'll be late, call [PHONE].\n"


def test_processing_twice_invites_nobody_twice(services, people):
    item = receive_chat(services, people["owner"])
    with services.uow() as uow:
        again = participants.invite_participants(
            uow, secret(services), uow.get(Item, item.id), ["PARTICIPANT_1"]
        )
        uow.commit()
    assert again == []
    assert len(links(services, people["owner"], item.id)) == 1


def test_a_listed_call_is_reprocessed_on_confirmation_and_stays_listed(services, people):
    item = receive_call(services, people["owner"])
    with services.uow() as uow:
        uow.get(Item, item.id).status = ItemStatus.LISTED  # reviewed while the other side waited
        uow.commit()
    [invite] = links(services, people["owner"], item.id)
    with services.uow() as uow:
        participants.decide(uow, invite["token"], confirm=True)

    with services.uow() as uow:
        after = uow.get(Item, item.id)
    assert after.status is ItemStatus.LISTED
    assert after.deidentified_key != item.deidentified_key
    assert "call_audio_withheld" not in after.report["removed"]
    # What the next snapshot ships: the audio, typed and named as such.
    assert after.shipped_content_type == "audio/mp4"
    assert snapshots._extension(after) != "txt"
    content_type, audio = preview(services, people["owner"], item.id)
    assert content_type == "audio/mp4" and audio[4:8] == b"ftyp"
    assert "item:reprocess" in tags(services, item.id)


def test_a_listed_chat_keeps_what_shipped_when_someone_confirms_later(services, people):
    item = receive_chat(services, people["owner"])
    with services.uow() as uow:
        uow.get(Item, item.id).status = ItemStatus.LISTED
        uow.commit()
    [invite] = links(services, people["owner"], item.id)
    with services.uow() as uow:
        participants.decide(uow, invite["token"], confirm=True)
    with services.uow() as uow:
        after = uow.get(Item, item.id)
    assert after.status is ItemStatus.LISTED
    assert after.deidentified_key == item.deidentified_key


THREE_WAY = (
    "Agent: Hello, this is Maria from the bank. Let me add my supervisor.\n"
    "Supervisor: Hi, I am Tom, call me back on +27 82 555 1234.\n"
    "Me: Sure, my email is jan.devries@example.com.\n"
)


def confirm(services, token):
    with services.uow() as uow:
        participants.decide(uow, token, confirm=True)


def test_a_three_way_call_ships_its_audio_only_once_every_other_speaker_confirms(services, people):
    item = receive_call(services, people["owner"], THREE_WAY)
    invites = links(services, people["owner"], item.id)
    assert [i["label"] for i in invites] == ["PARTICIPANT_1", "PARTICIPANT_2"]
    assert len({i["token"] for i in invites}) == 2
    assert item.report["transcript"]["other_speakers"] == ["PARTICIPANT_1", "PARTICIPANT_2"]

    confirm(services, invites[0]["token"])  # the agent, not the supervisor
    content_type, shipped = preview(services, people["owner"], item.id)
    assert content_type.startswith("text/plain")
    assert shipped.decode() == "CONTRIBUTOR: Sure, my email is [EMAIL].\n"
    with services.uow() as uow:
        half = uow.get(Item, item.id)
    assert half.deidentified_key == item.deidentified_key
    assert half.report["removed"]["call_audio_withheld"] is True

    confirm(services, invites[1]["token"])
    content_type, audio = preview(services, people["owner"], item.id)
    assert content_type == "audio/mp4" and audio[4:8] == b"ftyp"
    text = preview(services, people["owner"], item.id, "transcript")[1].decode()
    assert [line.split(":")[0] for line in text.splitlines()] == [
        "PARTICIPANT_1",
        "PARTICIPANT_2",
        "CONTRIBUTOR",
    ]
    assert "Tom" not in text and "555" not in text


def test_a_call_whose_transcript_names_nobody_else_never_ships_its_audio(services, people):
    item = receive_call(services, people["owner"], "Me: Sure, call me on +27 82 555 1234.\n")
    assert item.report["transcript"]["other_speakers"] is None
    assert "Label each line" in item.report["transcript"]["audio_why"]
    assert links(services, people["owner"], item.id) == []
    with services.uow() as uow:  # a stray invitation (as old items got) opens nothing
        participants.invite_participants(
            uow, secret(services), uow.get(Item, item.id), ["PARTICIPANT_1"]
        )
        uow.commit()
    confirm(services, links(services, people["owner"], item.id)[0]["token"])
    content_type, shipped = preview(services, people["owner"], item.id)
    assert content_type.startswith("text/plain")
    assert shipped.decode() == "CONTRIBUTOR: Sure, call me on [PHONE].\n"


def test_reprocessing_a_call_invites_speakers_an_older_processing_missed(services, people):
    item = receive_call(services, people["owner"], THREE_WAY)
    with services.uow() as uow:  # as processed before every speaker was invited
        uow.delete(uow.one(ParticipantInvitation, item_id=item.id, label="PARTICIPANT_2"))
        uow.commit()
    confirm(services, links(services, people["owner"], item.id)[0]["token"])
    invites = links(services, people["owner"], item.id)
    assert [(i["label"], i["state"]) for i in invites] == [
        ("PARTICIPANT_1", "confirmed"),
        ("PARTICIPANT_2", "pending"),
    ]
    assert preview(services, people["owner"], item.id)[0].startswith("text/plain")


def three_way_chat() -> bytes:
    rows = [
        "1/1/24, 10:00 AM - Sipho Nkosi: Hi all, my number is +27 82 555 1234",
        "1/1/24, 10:01 AM - Thandi Dube: Hello! Mine is +27 83 555 9876",
        "1/1/24, 10:02 AM - Priya Sharma: Thanks both",
    ]
    return ("\n".join(rows) + "\n").encode()


def test_a_group_chat_ships_each_participant_only_once_they_confirm(services, people):
    with services.uow() as uow:
        item = items.receive_item(
            uow,
            services.storage,
            people["owner"].actor,
            kind="chat",
            filename="chat.txt",
            content_type="text/plain",
            chunks=[three_way_chat()],
            metadata={"me": "Priya Sharma"},
        )
    invites = links(services, people["owner"], item.id)
    assert [i["label"] for i in invites] == ["PARTICIPANT_1", "PARTICIPANT_2"]
    confirm(services, invites[1]["token"])
    body = shipped(services, people["owner"], item.id)
    assert [m["sender"] for m in body["messages"]] == ["PARTICIPANT_2", "CONTRIBUTOR"]
    assert "555 1234" not in json.dumps(body)
