"""Codes from the services, in the reader's language.

Services describe outcomes with stable codes and figures (a rejection's ``code``, the
``removed`` counts of de-identification, a selection's exclusion codes, audit tags and
their data); this module turns them into sentences through the gettext catalogue, with
plurals from ``ngettext``. The services' own English sentences stay in their reports and
API answers: English pages show a rejection's own message (it carries the figures that
triggered it), other languages the code's sentence. A code this module does not know is
shown as the service gave it, so nothing is ever hidden.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from datetime import datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_decimal, get_currency_name
from babel.units import format_unit

from datatrust.domain.licence import ReasonCode
from datatrust.domain.money import Money
from datatrust.domain.orders import OrderState
from datatrust.domain.places import PLACES, whereabouts
from datatrust.domain.purposes import ACTIONS, INDUSTRIES, OUTPUTS, PURPOSES, TASKS
from datatrust.domain.territories import ISO_3166_ALPHA2
from datatrust.i18n import CAMPAIGN_STATE_WORDS, MISSED_CATEGORY_WORDS, STATE_WORDS, format_money
from datatrust.services import trust

# Why an upload was rejected, by code (pipeline.rejection.CODES and the ingest and review
# services' own): what a contributor can do about it.
REJECTIONS: dict[str, str] = {
    "empty_file": "The file is empty.",
    "file_too_large": "The file is too large.",
    "unknown_format": "We could not tell what kind of file this is.",
    "unsupported_format": "This file format is not accepted. Use a common photo, video or "
    "audio format.",
    "wrong_kind": "This file is not the kind the task asks for.",
    "extension_mismatch": "The file's name does not match what is inside it.",
    "archive": "Archives (such as ZIP files) are not accepted here.",
    "polyglot": "The file looks like two kinds of file at once, so it is not accepted.",
    "truncated": "The file is cut short. Upload it again.",
    "corrupt": "The file is damaged and could not be read.",
    "decompression_bomb": "The image is far too large when opened.",
    "too_many_pixels": "The image has too many pixels.",
    "bad_dimensions": "The picture's width or height is not usable.",
    "animated_image": "Animated images are not accepted.",
    "duration_out_of_range": "The recording is too short or too long for this task.",
    "bad_stream_params": "The recording's settings (such as its sample rate) are not usable.",
    "no_video_stream": "There is no video in this file.",
    "no_audio_stream": "There is no sound in this file.",
    "low_resolution": "The picture is too small. Use a higher resolution.",
    "blurry": "The picture is blurry. Hold the phone still and focus.",
    "too_dark": "It is too dark. Record in more light.",
    "too_bright": "It is too bright. Avoid pointing at the sun or a lamp.",
    "overexposed": "Too much of the picture is pure white.",
    "too_short": "The recording is too short for this task.",
    "too_long": "The recording is too long for this task.",
    "too_quiet": "The recording is too quiet. Move closer to the sound.",
    "too_loud": "The recording is too loud. Move away from the sound.",
    "clipping": "The sound is distorted because it was too loud.",
    "too_silent": "The recording is mostly silence.",
    "noisy": "There is too much background noise.",
    "low_frame_rate": "The video's frame rate is too low.",
    "no_speech": "We could not hear anyone speaking.",
    "speech_detected": "Someone is speaking in it; this task asks for no voices.",
    "processing_error": "Processing failed on our side. Upload the file again.",
    "processing_failed": "Processing failed several times on our side. Upload the file "
    "again; if it fails again, tell us.",
    "duplicate": "This exact file was uploaded before.",
    "near_duplicate": "This looks or sounds the same as something uploaded before. Upload "
    "something new.",
    "outside_campaign_area": "It was not recorded inside the task's area.",
    "sender_unknown": "Tell us which sender in the chat you are.",
    "unreadable_chat": "No chat messages could be read. Export the chat again without media.",
    "chat_too_deep": "This file is not a chat export: it is built far more deeply than a "
    "Telegram export is. Export the chat again from Telegram Desktop (JSON).",
    "chat_line_too_long": "This file is not a chat export: one message in it is longer than "
    "any chat app lets anyone send. Export the chat again from the app.",
    "chat_too_many_messages": "This chat has too many messages for one upload. Export a "
    "shorter date range.",
    "nothing_to_ship": "None of the messages could be kept.",
    "review_rejected": "Reviewers found it does not meet the task's brief. Read the brief "
    "again before the next upload.",
}

# Why items were left out of a buyer's selection, by code (domain.licence.ReasonCode and
# services.licences' own).
EXCLUSIONS: dict[str, str] = {
    ReasonCode.CONSENT_WITHDRAWN: "the contributor withdrew consent",
    ReasonCode.CONSENT_EXPIRED: "the contributor's consent has expired",
    ReasonCode.CONSENT_STATE_UNKNOWN: "the consent's state is unknown",
    ReasonCode.LICENCE_NOT_YET_VALID: "the licence has not started yet",
    ReasonCode.LICENCE_EXPIRED: "the licence has ended",
    ReasonCode.ACTION_UNKNOWN: "the declared action is unknown",
    ReasonCode.ACTION_NOT_PERMITTED: "the licence does not permit this action",
    ReasonCode.PURPOSE_UNKNOWN: "the declared purpose is unknown",
    ReasonCode.PURPOSE_NOT_PERMITTED: "the licence does not permit this purpose",
    ReasonCode.PURPOSE_PROHIBITED: "the licence prohibits this purpose",
    ReasonCode.INDUSTRY_UNKNOWN: "the declared industry is unknown",
    ReasonCode.INDUSTRY_PROHIBITED: "the licence prohibits this industry",
    ReasonCode.TERRITORY_UNKNOWN: "the declared territory is unknown",
    ReasonCode.TERRITORY_NOT_COVERED: "the licence does not cover this territory",
    ReasonCode.TERRITORY_EXCLUDED: "the licence excludes this territory",
    ReasonCode.USE_UNKNOWN: "the declared use is unknown",
    ReasonCode.USE_PROHIBITED: "the licence prohibits this use",
    ReasonCode.REPLICA_NOT_PERMITTED: "the licence does not permit a digital replica",
    ReasonCode.RECIPIENT_UNKNOWN: "the recipient is unknown",
    ReasonCode.INDUSTRY_DENIED_BY_INSTANCE: "this platform does not serve this industry",
    ReasonCode.TASK_UNKNOWN: "the declared model task is unknown",
    ReasonCode.OUTPUT_UNKNOWN: "the declared model output is unknown",
    ReasonCode.SENSITIVE_USE_NOT_PERMITTED: "the licence does not permit this sensitive use",
    ReasonCode.REPLICA_MEDIUM_NOT_GRANTED: "the replica grant does not cover this medium",
    ReasonCode.RECIPIENT_NOT_OFFERED: "the licence is offered only to other organisations",
    ReasonCode.EXCLUSIVE_TO_ANOTHER: "the item is licensed exclusively to another organisation",
    ReasonCode.REPLICA_MEDIUM_NOT_STATED: (
        "the use does not say if the replica is of the voice or the face"
    ),
    ReasonCode.REPLICA_USE_NOT_DESCRIBED: "the use does not say where the replica will be used",
    ReasonCode.REPLICA_LANGUAGE_NOT_GRANTED: "the replica grant does not cover this language",
    ReasonCode.REPLICA_CATEGORY_NOT_GRANTED: (
        "the replica grant does not cover this kind of product"
    ),
    ReasonCode.REPLICA_CHANNEL_NOT_GRANTED: "the replica grant does not cover this channel",
    ReasonCode.REPLICA_GRANT_NOT_YET_VALID: "the replica grant has not started yet",
    ReasonCode.REPLICA_GRANT_ENDED: "the replica grant has ended",
    ReasonCode.REPLICA_GRANT_ENDS_WITHIN_PERIOD: (
        "the replica grant ends before the declared use does"
    ),
    ReasonCode.REPLICA_APPROVAL_PENDING: "the contributor has not approved this replica use yet",
    "recipient_not_licensee": "your organisation is not the licensee",
    "item_withdrawn": "the item was withdrawn",
    "item_not_listed": "the item is not listed yet",
    "no_licence": "the item has no licence",
    "no_consent": "no consent was given",
    "licence_invalid": "the licence could not be read",
    "consent_for_other_licence": "consent was given under other terms",
    "licence_ends_within_period": "the licence ends before the declared use does",
    "no_deidentified_version": "nothing of the item can be delivered yet",
    "told_to_delete": "your organisation was told to delete it",
}

# Personal details found and redacted, by the redactor's type: (one, many) with the count.
PII: dict[str, tuple[str, str]] = {
    "PHONE": ("%(count)d phone number redacted", "%(count)d phone numbers redacted"),
    "EMAIL": ("%(count)d email address redacted", "%(count)d email addresses redacted"),
    "CARD": ("%(count)d payment card redacted", "%(count)d payment cards redacted"),
    "UPI": ("%(count)d UPI ID redacted", "%(count)d UPI IDs redacted"),
    "AADHAAR": ("%(count)d Aadhaar number redacted", "%(count)d Aadhaar numbers redacted"),
    "ZA_ID": ("%(count)d South African ID redacted", "%(count)d South African IDs redacted"),
    "SSN": (
        "%(count)d social security number redacted",
        "%(count)d social security numbers redacted",
    ),
    "ADDRESS": ("%(count)d street address redacted", "%(count)d street addresses redacted"),
    "PERSON": ("%(count)d name redacted", "%(count)d names redacted"),
    "HANDLE": ("%(count)d handle redacted", "%(count)d handles redacted"),
    "URL": ("%(count)d link redacted", "%(count)d links redacted"),
}
# What de-identification counted, by its ``removed`` key: (one, many) with the count.
COUNTED: dict[str, tuple[str, str]] = {
    "faces_blurred": ("%(count)d face blurred", "%(count)d faces blurred"),
    "faces_kept": (
        "%(count)d face kept (your own, with consent)",
        "%(count)d faces kept (your own, with consent)",
    ),
    "plates_blurred": ("%(count)d number plate blurred", "%(count)d number plates blurred"),
    "speech_segments_muffled": (
        "%(count)d stretch of speech muffled",
        "%(count)d stretches of speech muffled",
    ),
    "messages_dropped": (
        "%(count)d message from people who have not agreed left out",
        "%(count)d messages from people who have not agreed left out",
    ),
    "participants_pseudonymised": (
        "%(count)d person in the chat given a made-up name",
        "%(count)d people in the chat given made-up names",
    ),
    "transcript_turns_left_out": (
        "%(count)d turn by the other side left out of the transcript",
        "%(count)d turns by the other side left out of the transcript",
    ),
    "marked_missed": (
        "%(count)d thing you marked removed",
        "%(count)d things you marked removed",
    ),
}
# "You missed something": what the contributor says it was (domain.missed.CATEGORIES) …
MISSED_CATEGORIES: dict[str, str] = MISSED_CATEGORY_WORDS
# … and, on a photo, where: (left, top, width, height) in thousandths of its size.
MISSED_REGIONS: dict[str, tuple[str, tuple[int, int, int, int]]] = {
    "top-left": ("Top left", (0, 0, 334, 334)),
    "top": ("Top middle", (333, 0, 334, 334)),
    "top-right": ("Top right", (666, 0, 334, 334)),
    "left": ("Middle left", (0, 333, 334, 334)),
    "middle": ("Centre", (333, 333, 334, 334)),
    "right": ("Middle right", (666, 333, 334, 334)),
    "bottom-left": ("Bottom left", (0, 666, 334, 334)),
    "bottom": ("Bottom middle", (333, 666, 334, 334)),
    "bottom-right": ("Bottom right", (666, 666, 334, 334)),
    "all": ("The whole photo", (0, 0, 1000, 1000)),
}
# Faces blurred in a video, counted over its frames (plural by frames).
VIDEO_FACES = (
    "Faces blurred in the video: %(faces)d detections in %(frames)d frame",
    "Faces blurred in the video: %(faces)d detections over %(frames)d frames",
)
VIDEO_PLATES = (
    "Number plates blurred in the video: %(plates)d detections in %(frames)d frame",
    "Number plates blurred in the video: %(plates)d detections over %(frames)d frames",
)
# A selection's exclusion reason with the number of items it left out.
EXCLUDED = ("%(count)d item: %(why)s", "%(count)d items: %(why)s")
# Kinds of metadata stripped from a file; acronyms (EXIF, XMP, IPTC) are names, not words.
METADATA: dict[str, str] = {
    "DEVICE": "device details",
    "DATES": "dates",
    "TAGS": "tags",
    "COMMENT": "comments",
    "THUMBNAIL": "thumbnail",
    "MAKERNOTE": "camera maker's notes",
}
# Who decided, in a passport step's ``by``.
DECIDED_BY: dict[str, str] = {
    "pipeline": "automatic checks",
    "jobs": "automatic checks",
    "peers": "other contributors",
    "operator": "the operator",
}
# The labels of a passport step's details; keys not named here are not shown (they are
# internal ids and hashes that mean nothing to a contributor, and stay in the audit log).
DETAILS: dict[str, str] = {
    "by": "Decided by",
    "codes": "Why",
    "org_name": "Buyer",
    "use": "Declared use",
    "version": "Snapshot version",
    "file": "File",
    "deadline": "Delete by",
    "late": "Late",
    "reason": "Reason",
    "up": "Vote",
    "what": "What",
    "amount_minor": "Amount",
}
# What was opened, in an ``item:access`` step's ``what`` (``preview:<part>`` for any part).
OPENED: dict[str, str] = {
    "original": "your original file",
    "review-preview": "the version reviewers see",
    "preview": "a preview of what will ship",
}
# The parts of a declared use, each a phrase; the ones the use states are listed.
USE_PARTS: dict[str, str] = {
    "purpose": "for %(purpose)s",
    "industry": "in the %(industry)s industry",
    "territory": "in %(territory)s",
    "period": "from %(start)s to %(end)s",
}
# Where a statement line's money came from, by its source's kind (services.money).
STATEMENT_SOURCES: dict[str, str] = {
    "item": "Pay for item %(item)s",
    "coverage_bonus": "Bonus for item %(item)s: the first recording from its place",
    "floor_topup": "Top-up for item %(item)s: the task now pays at least the pay floor",
    "sale": "Royalty: your share when item %(item)s was sold",
    "payout": "Payout to you",
}
# States a campaign can be in (the pay-floor pause may add one: it shows as its code).
CAMPAIGN_STATES: dict[str, str] = CAMPAIGN_STATE_WORDS
ORDER_STATES: dict[str, str] = {
    OrderState.QUOTED: "Quoted, not bought",
    OrderState.PURCHASED: "Bought",
}
# The use vocabularies by the field that names them.
VOCABULARIES = {
    "action": ACTIONS,
    "purpose": PURPOSES,
    "industry": INDUSTRIES,
    "task": TASKS,
    "outputs": OUTPUTS,
}


def duration_words(seconds: float, lang: str) -> str:
    """A length in the reader's words (CLDR units): whole hours or minutes as such, else
    seconds to a tenth ("2.9 सेकंड", "6 amasekhondi"), never a bare "s"."""
    whole = int(seconds)
    if whole == seconds and whole >= 3600 and whole % 3600 == 0:
        return format_unit(whole // 3600, "duration-hour", "long", locale=lang)
    if whole == seconds and whole >= 60 and whole % 60 == 0:
        return format_unit(whole // 60, "duration-minute", "long", locale=lang)
    return format_unit(round(float(seconds), 1), "duration-second", "long", locale=lang)


def seconds_patterns(lang: str) -> dict[str, str]:
    """ "N seconds" in the reader's words for a browser to fill in, by CLDR plural
    category ({"one": "{0} isekhondi", "other": "{0} amasekhondi"}): browsers' own unit
    names (Intl) fall back to English where their ICU data leaves a language out (isiZulu
    in Chromium)."""
    plural = Locale.parse(lang).plural_form
    patterns: dict[str, str] = {}
    for n in (0, 1, 2, 3, 5, 11, 21, 100, 1000000):
        said = format_unit(n, "duration-second", "long", locale=lang)
        patterns.setdefault(plural(n), said.replace(format_decimal(n, locale=lang), "{0}", 1))
    return patterns


def size_words(size: int, lang: str) -> str:
    """A file's size as the reader writes numbers, in kB or MB to a tenth (CLDR units)."""
    if size >= 1_000_000:
        return format_unit(round(size / 1_000_000, 1), "digital-megabyte", "short", locale=lang)
    return format_unit(round(size / 1_000, 1), "digital-kilobyte", "short", locale=lang)


class Explain:
    """The sentences for one page's language. Used by templates as ``explain``."""

    def __init__(self, tr: gettext.NullTranslations, lang: str, kind_label: Callable) -> None:
        self._ = tr.gettext
        self.n = tr.ngettext
        self.lang = lang
        self.kind_label = kind_label

    def rejection(self, reason: dict[str, Any]) -> str:
        code, message = reason.get("code", ""), reason.get("message", "")
        if reason.get("notes"):  # the reviewers' own words, as they wrote them
            notes = "; ".join(str(n) for n in reason["notes"])
            return self._("The reviewer's reason: %(note)s") % {"note": notes}
        if code not in REJECTIONS or (self.lang == "en" and message):
            return message or code
        return self._(REJECTIONS[code])

    def exclusion(self, code: str, count: int) -> str:
        why = self._(EXCLUSIONS[code]) if code in EXCLUSIONS else code
        return self.n(*EXCLUDED, count) % {"count": count, "why": why}

    def campaign_state(self, state: str) -> str:
        return self._(CAMPAIGN_STATES[state]) if state in CAMPAIGN_STATES else state

    def order_state(self, state: str) -> str:
        return self._(ORDER_STATES[state]) if state in ORDER_STATES else state

    def term(self, field: str, code: str) -> str:
        """A code of a use vocabulary (``action``, ``purpose``, ``industry``) by its label."""
        vocabulary = VOCABULARIES.get(field)
        if vocabulary is None or code not in vocabulary:
            return code
        return self._(vocabulary.term(code).label)

    def terms(self, field: str, codes: Any) -> list[tuple[str, str]]:
        """``(code, label)`` for a select's options, sorted by label in the reader's
        language."""
        return sorted(((c, self.term(field, c)) for c in codes), key=lambda pair: pair[1])

    def language(self, code: str | None) -> str:
        """A language (BCP 47) by its name in the reader's language (CLDR)."""
        if not code or code == "unknown":
            return self._("Language not stated")
        try:
            return Locale.parse(code.replace("-", "_")).get_display_name(self.lang) or code
        except (ValueError, UnknownLocaleError):
            return code

    def duration(self, seconds: float) -> str:
        return duration_words(seconds, self.lang)

    def size(self, size: int) -> str:
        return size_words(size, self.lang)

    def territory(self, code: str) -> str:
        """A country (ISO 3166) by its name in the reader's language (CLDR)."""
        return str(Locale.parse(self.lang).territories.get(code, code))

    def countries(self) -> list[tuple[str, str]]:
        """Every assigned country as ``(code, name)``, by name in the reader's language: a
        form's choice of country, so nobody types a code."""
        return sorted(((c, self.territory(c)) for c in ISO_3166_ALPHA2), key=lambda p: p[1])

    def currency(self, code: str) -> str:
        """A currency (ISO 4217) by its name in the reader's language (CLDR)."""
        return get_currency_name(code, locale=self.lang)

    def place(self, cell: str | None) -> str:
        """An H3 cell as the nearest place people know (``domain.places``), never its id."""
        found = whereabouts(cell) if cell and cell != "unknown" else None
        if found is None:
            return self._("Place not stated")
        words = {
            "place": self._(found.place.name),
            "country": self.territory(found.place.country),
        }
        if found.distance_km is None:
            return self._("%(place)s, %(country)s") % words
        words["distance"] = format_decimal(found.distance_km, locale=self.lang)
        return self._("%(distance)s km from %(place)s, %(country)s") % words

    def removed(self, removed: dict[str, Any]) -> list[str]:
        """What de-identification took out, one sentence each; empty when nothing was."""
        n, out = self.n, []
        faces, frames = removed.get("faces_blurred") or 0, removed.get("frames") or 0
        if faces and frames:
            out.append(n(*VIDEO_FACES, frames) % {"faces": faces, "frames": frames})
        elif faces:
            out.append(n(*COUNTED["faces_blurred"], faces) % _c(faces))
        if kept := removed.get("faces_kept"):
            out.append(n(*COUNTED["faces_kept"], kept) % _c(kept))
        meta = list(removed.get("metadata_removed") or [])
        if "GPS" in meta:
            meta.remove("GPS")
            out.append(self._("GPS position removed"))
        if meta:
            kinds = [self._(METADATA[m]) if m in METADATA else m for m in meta]
            out.append(self._("Metadata removed: %(kinds)s") % {"kinds": self._list(kinds)})
        if removed.get("location"):
            out.append(self._("Exact location replaced by a rough area"))
        if removed.get("audio_dropped"):
            out.append(self._("Sound removed: it could not be checked for speech"))
        if removed.get("call_audio_withheld"):
            out.append(self._("Call audio held back until the other side confirms"))
        if (plates := removed.get("plates_blurred")) and not frames:
            out.append(n(*COUNTED["plates_blurred"], plates) % _c(plates))
        elif plates:
            out.append(n(*VIDEO_PLATES, frames) % {"plates": plates, "frames": frames})
        for key in (
            "transcript_turns_left_out",
            "speech_segments_muffled",
            "messages_dropped",
            "participants_pseudonymised",
            "marked_missed",
        ):
            if count := removed.get(key):
                out.append(n(*COUNTED[key], count) % _c(count))
        for key in ("pii_redacted", "transcript_pii"):
            for pii_type, count in sorted((removed.get(key) or {}).items()):
                if not count:
                    continue
                one, many = PII.get(pii_type, (f"%(count)d {pii_type}",) * 2)
                line = n(one, many, count) % _c(count)
                if key == "transcript_pii":
                    line = self._("In the transcript: %(what)s") % {"what": line}
                out.append(line)
        return out

    def details(self, details: dict[str, Any]) -> list[tuple[str, str]]:
        """A passport step's details a contributor can read, labelled, in order."""
        shown = []
        for key, label in DETAILS.items():
            if key not in details or details[key] in (None, "", []):
                continue
            if key == "amount_minor":
                if not details.get("currency"):
                    continue
                amount = Money(int(details[key]), str(details["currency"]))
                shown.append((self._(label), format_money(amount, self.lang)))
                continue
            shown.append((self._(label), self._value(key, details[key])))
        return shown

    def day(self, iso: str | None) -> str:
        """A date (ISO 8601, or the date of a moment) as the reader writes it; "" for none."""
        if not iso:
            return ""
        return format_date(datetime.fromisoformat(iso), format="long", locale=self.lang)

    def when(self, iso: str) -> str:
        """A moment (ISO 8601, UTC) as the reader writes a date and a time."""
        moment = datetime.fromisoformat(iso)
        return f"{self.day(iso)}, {format_time(moment, format='short', locale=self.lang)}"

    def step(self, event: dict[str, Any]) -> str:
        """A passport step's name (``passport.STEPS``) in the reader's language."""
        return self._(str(event.get("step") or trust.OTHER_STEP))

    def actor(self, event: dict[str, Any]) -> str:
        """Who took a passport step, in words: a buyer by its organisation's name."""
        if event.get("actor") == "buyer" and (event.get("details") or {}).get("org_name"):
            return str(event["details"]["org_name"])
        return self._(trust.ACTORS.get(str(event.get("actor")), trust.ACTORS["someone"]))

    def use(self, use: dict[str, Any]) -> str:
        """A declared use as a phrase: what, for which purpose, where and when."""
        parts = []
        if use.get("action") in ACTIONS:
            parts.append(self._(ACTIONS.term(use["action"]).label))
        for key, vocabulary in (("purpose", PURPOSES), ("industry", INDUSTRIES)):
            if use.get(key) in vocabulary:
                label = self._(vocabulary.term(use[key]).label)
                parts.append(self._phrase(key, **{key: label}))
        if use.get("territory"):
            names = Locale.parse(self.lang).territories
            where = names.get(str(use["territory"]), str(use["territory"]))
            parts.append(self._phrase("territory", territory=where))
        if use.get("starts_at") and use.get("ends_at"):
            start, end = (
                format_date(datetime.fromisoformat(use[k]), format="long", locale=self.lang)
                for k in ("starts_at", "ends_at")
            )
            parts.append(self._phrase("period", start=start, end=end))
        return ", ".join(parts)

    def statement_line(self, line: dict[str, Any]) -> str:
        """What a statement line is for, from its ``source`` (the ledger memo otherwise)."""
        source = line.get("source") or {}
        kind = source.get("kind")
        if kind not in STATEMENT_SOURCES:
            return str(line.get("memo", ""))
        items = [i["item_id"] for i in source.get("items", [])] or [source.get("item_id")]
        return self._(STATEMENT_SOURCES[kind]) % {"item": self._list([str(i) for i in items])}

    def _value(self, key: str, value: Any) -> str:
        if key == "codes":
            return self._list([self.rejection({"code": str(c)}) for c in value])
        if key == "by":
            return self._(DECIDED_BY[value]) if value in DECIDED_BY else str(value)
        if key == "up":
            return self._("up") if value else self._("down")
        if key == "late":
            return self._("Yes") if value else self._("No")
        if key == "reason" and value in EXCLUSIONS:
            return self._(EXCLUSIONS[value])
        if key == "reason" and value in STATE_WORDS:  # a notice's: withdrawn, expired
            return self._(STATE_WORDS[value])
        if key == "deadline":
            return self.day(str(value))
        if key == "use" and isinstance(value, dict):
            return self.use(value)
        if key == "what":
            opened = OPENED.get(str(value).partition(":")[0])
            return self._(opened) if opened else str(value)
        if isinstance(value, list | tuple):
            return self._list([str(v) for v in value])
        if isinstance(value, dict):
            return ", ".join(f"{k}: {v}" for k, v in value.items())
        return str(value)

    def _phrase(self, part: str, **values: str) -> str:
        phrase = USE_PARTS[part]
        return self._(phrase) % values

    def _list(self, words: list[str]) -> str:
        return format_list(words, locale=self.lang) if words else ""


def _c(count: int) -> dict[str, int]:
    return {"count": count}


def msgids() -> tuple[set[str], set[tuple[str, str]]]:
    """Every msgid this module may look up: singular ones, and (one, many) plural pairs.
    The catalogues must translate them all (tests/web/test_page_translations.py)."""
    single = {"GPS position removed", "Metadata removed: %(kinds)s"}
    single |= {"Exact location replaced by a rough area", "In the transcript: %(what)s"}
    single |= {"Sound removed: it could not be checked for speech"}
    single |= {"Call audio held back until the other side confirms"}
    single |= {"up", "down", "Yes", "No"}
    single |= {"The reviewer's reason: %(note)s"}
    single |= {"Language not stated", "Place not stated", "%(place)s, %(country)s"}
    single |= {"%(distance)s km from %(place)s, %(country)s"}
    single |= {p.name for p in PLACES} | set(ORDER_STATES.values())
    single |= {*trust.STEPS.values(), trust.OTHER_STEP, *trust.ACTORS.values()}
    tables = (REJECTIONS, EXCLUSIONS, METADATA, DECIDED_BY, DETAILS, CAMPAIGN_STATES, OPENED)
    tables += (USE_PARTS,)
    for table in (*tables, STATEMENT_SOURCES, MISSED_CATEGORIES):
        single |= set(table.values())
    single |= {label for label, _box in MISSED_REGIONS.values()}
    plural = {*PII.values(), *COUNTED.values(), VIDEO_FACES, EXCLUDED}
    return single, plural
