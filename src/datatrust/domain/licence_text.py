"""A licence in plain words, as messages to translate, with its risks flagged.

``summarise(licence)`` returns ``Message`` objects: a gettext msgid with named
placeholders, typed parameters, and an optional risk flag. Translation and formatting
(dates, money, country names, lists) happen outside the domain, in ``datatrust.i18n``,
because they need Babel and the catalogues on disk.

Parameter types tell the renderer how to format each value in the reader's language:
``Labels`` (English vocabulary labels, themselves msgids, joined as a list),
``Territories`` (ISO codes, shown as country names), ``Languages`` (ISO 639-1 codes, shown
as language names), ``Amount`` (minor units and currency), ``Day`` (a date), ``Original``
(text a person wrote, such as a licence title or a replica description: shown as written,
never translated, with a label that says so). Plain ``str``/``int`` are shown as they are.

Money (issue 16 §6): ``summarise(licence, pay)`` states what a buyer pays for one item or
one minute, the platform's part (its fee and what is left of the price after the
contributor's share) and the contributor's share, from ``UnitPay`` figures the service
computes with the functions that charge and book a sale (``domain.orders.unit_pay``). Without
them it states only the licence price and the contributor's share of it, which are exact
whatever the fee.

Every msgid this module can emit is in ``ALL_MSGIDS``; a test checks each has a
translation in every shipped language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from datatrust.domain.licence import TEMPLATES, Licence
from datatrust.domain.purposes import (
    ACTIONS,
    INDUSTRIES,
    PURPOSES,
    REPLICA_CATEGORIES,
    REPLICA_CHANNELS,
    USES,
)


@dataclass(frozen=True)
class Labels:
    """English labels (msgids) shown as a list in the reader's language."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Territories:
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Amount:
    minor: int
    currency: str


@dataclass(frozen=True)
class Day:
    value: date


@dataclass(frozen=True)
class Languages:
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Original:
    """Words a person wrote; shown as written, labelled as such, never translated."""

    text: str


@dataclass(frozen=True)
class UnitPay:
    """What one unit (an item, or a minute of recording) of a licence costs and pays, as
    a sale books it: ``paid`` by the buyer = ``platform`` + ``share``; ``fee`` is the
    platform fee, part of ``platform``."""

    unit: str
    paid: Amount
    fee: Amount
    platform: Amount
    share: Amount


@dataclass(frozen=True)
class Message:
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    risk: str | None = None


TITLE = "Licence: %(title)s (version %(version)s)"
# How an ``Original`` is shown: the words as written, and who wrote them.
ORIGINAL = "“%(text)s” (written by the contributor, shown as written)"
PERIOD = "It starts on %(start)s and ends on %(end)s."
PURPOSES_ALLOWED = "Buyers may use your data only for: %(purposes)s."
ACTIONS_ALLOWED = "What they may do with it: %(actions)s."
PURPOSES_BANNED = "Never for: %(purposes)s."
INDUSTRIES_BANNED = "Never for these industries: %(industries)s."
USES_BANNED = "Never for: %(uses)s."
WORLDWIDE = "Worldwide: buyers in any country may use it."
WORLDWIDE_EXCEPT = "Worldwide except %(territories)s: buyers in any other country may use it."
ONLY_IN = "Only buyers in %(territories)s may use it."
PAY = {
    "item": "For each item, a buyer pays %(paid)s. Of that, the platform keeps %(platform)s "
    "(its fee of %(fee)s and the rest of the licence price after your share) and you receive "
    "%(share)s.",
    "minute": "For each minute of recording, a buyer pays %(paid)s. Of that, the platform "
    "keeps %(platform)s (its fee of %(fee)s and the rest of the licence price after your "
    "share) and you receive %(share)s.",
}
# Without the platform's figures: the licence price and the contributor's share of it.
PRICE = {
    "item": "The licence price is %(price)s for each item, before the platform fee; you "
    "receive %(percent)s%% of it: %(share)s.",
    "minute": "The licence price is %(price)s for each minute of recording, before the "
    "platform fee; you receive %(percent)s%% of it: %(share)s.",
}
NO_ROYALTY = "You receive no share when your data is sold."
EXCLUSIVE = (
    "Exclusive to %(holder)s until %(until)s: you cannot license this data to anyone else "
    "until then. The buyer pays %(surcharge)s extra for this."
)
OFFERED_TO = "Only these organisations may license it: %(organisations)s."
REPLICA = (
    "This licence allows a digital copy of %(media)s, only in %(languages)s, only in "
    "%(categories)s, only through %(channels)s, until %(until)s."
)
REPLICA_DESCRIPTION = "The use you described: %(description)s"
REPLICA_ASK = "Each use of the copy needs your approval first: you are asked every time."
REPLICA_MEDIA_LABELS = {
    "voice": "your voice",
    "face": "your face",
    "full_likeness": "your whole likeness (voice and face)",
}
VOICE_CLONING = "It allows voice cloning: a computer voice that sounds like you."
FACE_AVATAR = "It allows a face avatar: a computer-made face that looks like you."
DISPLAY = "Buyers may show your data itself in public, for example in an advert."
WITHDRAW = "You can withdraw at any time. Buyers must then delete your data within %(days)s days."
WITHDRAW_WITH_NOTICE = (
    "You can withdraw at any time, and from that moment nobody new can license your data. "
    "Buyers who already licensed it may keep using it for %(notice)s more days, as you "
    "promised; then they must delete it within %(days)s days. This promise adds "
    "%(surcharge)s to the licence price."
)
NO_TRANSFER = "Buyers cannot pass this licence on or sublicense it."
ON_END = {
    "retrain_without": "When the licence ends, buyers must retrain their models without your data.",
    "keep_no_new_training": "When the licence ends, buyers may keep models already trained, "
    "but must not train new ones with your data.",
    "delete_model": "When the licence ends, buyers must delete the models trained with your data.",
}

# Risk flags: stable codes a screen can highlight.
RISK_WORLDWIDE = "worldwide"
RISK_EXCLUSIVE = "exclusive"
RISK_REPLICA = "allows_digital_replica"
RISK_VOICE_CLONING = "allows_voice_cloning"
RISK_FACE_AVATAR = "allows_face_avatar"
RISK_PUBLIC_DISPLAY = "public_display"
RISK_WITHDRAWAL_NOTICE = "withdrawal_notice"
RISK_REPLICA_EACH_USE = "replica_each_use"
RISK_NO_ROYALTY = "no_royalty"
RISK_MODELS_KEPT = "models_kept_after_end"

_SENTENCES = (
    TITLE,
    PERIOD,
    PURPOSES_ALLOWED,
    ACTIONS_ALLOWED,
    PURPOSES_BANNED,
    INDUSTRIES_BANNED,
    USES_BANNED,
    WORLDWIDE,
    WORLDWIDE_EXCEPT,
    ONLY_IN,
    *PAY.values(),
    *PRICE.values(),
    NO_ROYALTY,
    EXCLUSIVE,
    OFFERED_TO,
    REPLICA,
    REPLICA_DESCRIPTION,
    REPLICA_ASK,
    VOICE_CLONING,
    FACE_AVATAR,
    DISPLAY,
    WITHDRAW,
    WITHDRAW_WITH_NOTICE,
    NO_TRANSFER,
    ORIGINAL,
    *ON_END.values(),
)
_LABELS = tuple(
    vocabulary.term(code).label
    for vocabulary in (PURPOSES, ACTIONS, INDUSTRIES, USES, REPLICA_CATEGORIES, REPLICA_CHANNELS)
    for code in sorted(vocabulary)
)
# Template titles are the platform's words, so they are translated; any other title is
# the contributor's own and is shown as written (``Original``).
TEMPLATE_TITLES = tuple(str(t["title"]) for t in TEMPLATES.values())
ALL_MSGIDS: tuple[str, ...] = (
    _SENTENCES
    + tuple(REPLICA_MEDIA_LABELS.values())
    + TEMPLATE_TITLES
    + tuple(dict.fromkeys(_LABELS))
)


def _labels(vocabulary: Any, codes: frozenset[str]) -> Labels:
    return Labels(tuple(vocabulary.term(c).label for c in sorted(codes)))


def _title(licence: Licence) -> Labels | Original:
    return Labels((licence.title,)) if licence.title in TEMPLATE_TITLES else Original(licence.title)


def _organisations(ids: frozenset[str] | tuple[str, ...], names: Mapping[str, str]) -> Any:
    """Organisations by name (the service looks them up); an id nobody resolved is shown
    as it is rather than dropped, so a reader never sees fewer buyers than there are."""
    return ", ".join(names.get(i, i) for i in sorted(ids))


def summarise(
    licence: Licence,
    pay: UnitPay | None = None,
    names: Mapping[str, str] | None = None,
) -> list[Message]:
    """The licence explained in order: what, when, where, who, pay, risks, rights.

    ``pay`` is what one unit costs and pays (``UnitPay``, from the service that charges);
    ``names`` maps organisation ids to names for the exclusive holder and named buyers.
    Risk messages carry a ``risk`` code; the rest carry None. The list is never empty.
    """
    names = names or {}
    out = [
        Message(TITLE, {"title": _title(licence), "version": licence.version}),
        Message(
            PERIOD,
            {"start": Day(licence.valid_from.date()), "end": Day(licence.valid_until.date())},
        ),
        Message(PURPOSES_ALLOWED, {"purposes": _labels(PURPOSES, licence.permitted_purposes)}),
        Message(ACTIONS_ALLOWED, {"actions": _labels(ACTIONS, licence.permitted_actions)}),
    ]
    if licence.prohibited_purposes:
        out.append(
            Message(PURPOSES_BANNED, {"purposes": _labels(PURPOSES, licence.prohibited_purposes)})
        )
    if licence.prohibited_industries:
        out.append(
            Message(
                INDUSTRIES_BANNED,
                {"industries": _labels(INDUSTRIES, licence.prohibited_industries)},
            )
        )
    if licence.prohibited_uses:
        out.append(Message(USES_BANNED, {"uses": _labels(USES, licence.prohibited_uses)}))

    if licence.worldwide and licence.excluded_territories:
        excluded = Territories(tuple(sorted(licence.excluded_territories)))
        out.append(Message(WORLDWIDE_EXCEPT, {"territories": excluded}, RISK_WORLDWIDE))
    elif licence.worldwide:
        out.append(Message(WORLDWIDE, risk=RISK_WORLDWIDE))
    else:
        out.append(
            Message(ONLY_IN, {"territories": Territories(tuple(sorted(licence.territories)))})
        )
    if licence.offered_to:
        out.append(
            Message(OFFERED_TO, {"organisations": _organisations(licence.offered_to, names)})
        )

    out += _money(licence, pay)

    if licence.exclusive and licence.exclusive_until is not None:
        params = {
            "holder": _organisations((licence.exclusive_to or "",), names),
            "until": Day(licence.exclusive_until.date()),
            "surcharge": Amount(licence.exclusivity_surcharge_minor, licence.currency),
        }
        out.append(Message(EXCLUSIVE, params, RISK_EXCLUSIVE))
    out += _replica(licence)
    if "display" in licence.permitted_actions:
        out.append(Message(DISPLAY, risk=RISK_PUBLIC_DISPLAY))

    if licence.withdrawal_notice_days:
        params = {
            "notice": licence.withdrawal_notice_days,
            "days": licence.deletion_deadline_days,
            "surcharge": Amount(licence.notice_surcharge_minor, licence.currency),
        }
        out.append(Message(WITHDRAW_WITH_NOTICE, params, RISK_WITHDRAWAL_NOTICE))
    else:
        out.append(Message(WITHDRAW, {"days": licence.deletion_deadline_days}))
    out.append(Message(NO_TRANSFER))
    kept = licence.on_end == "keep_no_new_training"
    out.append(Message(ON_END[licence.on_end], risk=RISK_MODELS_KEPT if kept else None))
    return out


def _money(licence: Licence, pay: UnitPay | None) -> list[Message]:
    """What a unit costs and pays: the platform's figures when given, else the licence
    price and the contributor's share of it (both exact without the fee)."""
    unit = licence.price_unit
    params: dict[str, Any]
    if pay is not None:
        params = {"paid": pay.paid, "fee": pay.fee, "platform": pay.platform, "share": pay.share}
        out = [Message(PAY[unit], params)]
    else:
        price = licence.price_with_surcharge_minor
        share = -(-price * licence.royalty_share_percent // 100) if price else 0
        params = {
            "price": Amount(price, licence.currency),
            "percent": licence.royalty_share_percent,
            "share": Amount(share, licence.currency),
        }
        out = [Message(PRICE[unit], params)]
    if not licence.royalty_share_percent:
        out.append(Message(NO_ROYALTY, risk=RISK_NO_ROYALTY))
    return out


def _replica(licence: Licence) -> list[Message]:
    """The replica grant in full: media, languages, categories, channels, its own end,
    the contributor's description (as written) and per-use approval; risk flags name
    only the media granted, so a voice grant never reads as allowing a face avatar."""
    if licence.replica_use_description is None:
        return []
    media = Labels(tuple(REPLICA_MEDIA_LABELS[m] for m in sorted(licence.replica_media)))
    params = {
        "media": media,
        "languages": Languages(tuple(sorted(licence.replica_languages))),
        "categories": _labels(REPLICA_CATEGORIES, licence.replica_categories),
        "channels": _labels(REPLICA_CHANNELS, licence.replica_channels),
        "until": Day(licence.replica_ends_at.date()),
    }
    out = [
        Message(REPLICA, params, RISK_REPLICA),
        Message(REPLICA_DESCRIPTION, {"description": Original(licence.replica_use_description)}),
    ]
    granted = licence.replica_media
    if granted & {"voice", "full_likeness"}:
        out.append(Message(VOICE_CLONING, risk=RISK_VOICE_CLONING))
    if granted & {"face", "full_likeness"}:
        out.append(Message(FACE_AVATAR, risk=RISK_FACE_AVATAR))
    if licence.replica_ask_each_time:
        out.append(Message(REPLICA_ASK, risk=RISK_REPLICA_EACH_USE))
    return out


def risks(licence: Licence) -> tuple[str, ...]:
    """The risk flags of a licence, in summary order."""
    return tuple(m.risk for m in summarise(licence) if m.risk)
