"""A call transcript's turns, and the contributor's side alone (fail closed)."""

from __future__ import annotations

from datatrust.pipeline import transcripts
from datatrust.pipeline.transcripts import own_side, pseudonymised, split_turns

TRANSCRIPT = (
    "[00:00:01] Ravi Kumar: Hello, is that you?\n"
    "[00:00:03] Me: Yes, it's me.\n"
    "I was waiting for your call.\n"
    "00:07 Ravi Kumar: Good. See https://example.com/x later.\n"
)


def test_turns_keep_their_speaker_and_continuation_lines():
    turns = split_turns(TRANSCRIPT)
    assert [t.speaker for t in turns] == ["Ravi Kumar", "Me", "Ravi Kumar"]
    assert turns[1].text == "Yes, it's me. I was waiting for your call."
    assert "https://example.com/x" in turns[2].text  # a URL's colon is not a label


def test_own_side_keeps_only_the_contributors_turns_pseudonymised():
    text, dropped = own_side(TRANSCRIPT, None)
    assert text == "CONTRIBUTOR: Yes, it's me. I was waiting for your call.\n"
    assert dropped == 2
    assert own_side(TRANSCRIPT, "ravi  KUMAR") == (
        "CONTRIBUTOR: Hello, is that you?\nCONTRIBUTOR: Good. See https://example.com/x later.\n",
        1,
    )


def test_without_labels_or_a_known_contributor_nothing_is_provably_theirs():
    assert own_side("hello there\nhow are you\n", None) is None
    assert own_side("Agent: hi\nCaller: hello\n", None) is None  # who is the contributor?
    assert own_side("Agent: hi\nCaller: hello\n", "Priya") is None


def test_everyone_is_pseudonymised_when_all_may_ship():
    turns = split_turns(TRANSCRIPT)
    text, dropped = pseudonymised(turns, "Me")
    assert dropped == 0
    assert text.splitlines()[0] == "PARTICIPANT_1: Hello, is that you?"
    assert "Ravi" not in text.split(":", 1)[0]


def test_other_speakers_are_numbered_as_the_pseudonymised_transcript_names_them():
    text = "Agent: hi\nMe: hello\nSupervisor: joining\nagent: bye\n"
    assert transcripts.other_speakers(text, None) == ["PARTICIPANT_1", "PARTICIPANT_2"]
    shipped, _ = transcripts.pseudonymised(transcripts.split_turns(text), "Me")
    assert [line.split(":")[0] for line in shipped.splitlines()] == [
        "PARTICIPANT_1",
        "CONTRIBUTOR",
        "PARTICIPANT_2",
        "PARTICIPANT_1",
    ]
    assert transcripts.other_speakers("no labels at all\n", None) is None
    assert transcripts.other_speakers("Agent: hi\nBob: hello\n", None) is None  # who is "me"?
    assert transcripts.other_speakers("Me: only me\n", None) is None
