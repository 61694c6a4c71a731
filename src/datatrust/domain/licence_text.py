"""A licence in plain words, as messages to translate, with its risks flagged.

``summarise(licence)`` returns ``Message`` objects: a gettext msgid with named
placeholders, typed parameters, and an optional risk flag. Translation and formatting
(dates, money, country names, lists) happen outside the domain, in ``datatrust.i18n``,
because they need Babel and the catalogues on disk.

Parameter types tell the renderer how to format each value in the reader's language:
``Label`` (an English vocabulary label, itself a msgid), ``Labels`` (several, joined as a
list), ``Territories`` (ISO codes, shown as country names), ``Amount`` (minor units and
currency), ``Day`` (a date). Plain ``str``/``int`` are shown as they are.

Every msgid this module can emit is in ``ALL_MSGIDS``; a test checks each has a
translation in every shipped language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from datatrust.domain.licence import Licence
from datatrust.domain.purposes import ACTIONS, INDUSTRIES, PURPOSES, USES


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
class Message:
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    risk: str | None = None


TITLE = "Licence: %(title)s (version %(version)s)"
PERIOD = "It starts on %(start)s and ends on %(end)s."
PURPOSES_ALLOWED = "Buyers may use your data only for: %(purposes)s."
ACTIONS_ALLOWED = "What they may do with it: %(actions)s."
PURPOSES_BANNED = "Never for: %(purposes)s."
INDUSTRIES_BANNED = "Never for these industries: %(industries)s."
USES_BANNED = "Never for: %(uses)s."
WORLDWIDE = "Worldwide: buyers in any country may use it."
WORLDWIDE_EXCEPT = "Worldwide except %(territories)s: buyers in any other country may use it."
ONLY_IN = "Only buyers in %(territories)s may use it."
PRICE_PER_ITEM = "You are paid %(price)s for each item."
PRICE_PER_MINUTE = "You are paid %(price)s for each minute of recording."
ROYALTY = "Each time your data is sold, you receive %(percent)s%% of the sale."
NO_ROYALTY = "You receive no share when your data is sold again."
EXCLUSIVE = (
    "Exclusive until %(until)s: you cannot license this data to anyone else until then. "
    "The buyer pays %(surcharge)s extra for this."
)
REPLICA = (
    "This licence allows a digital copy of you (such as a voice clone or a face avatar), "
    "only for this use: %(description)s"
)
VOICE_CLONING = "It allows voice cloning: a computer voice that sounds like you."
FACE_AVATAR = "It allows a face avatar: a computer-made face that looks like you."
DISPLAY = "Buyers may show your data itself in public, for example in an advert."
REDISTRIBUTE = "Buyers may pass your data on to others."
WITHDRAW = "You can withdraw at any time. Buyers must then delete your data within %(days)s days."
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
RISK_REDISTRIBUTION = "allows_redistribution"
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
    PRICE_PER_ITEM,
    PRICE_PER_MINUTE,
    ROYALTY,
    NO_ROYALTY,
    EXCLUSIVE,
    REPLICA,
    VOICE_CLONING,
    FACE_AVATAR,
    DISPLAY,
    REDISTRIBUTE,
    WITHDRAW,
    NO_TRANSFER,
    *ON_END.values(),
)
_LABELS = tuple(
    vocabulary.term(code).label
    for vocabulary in (PURPOSES, ACTIONS, INDUSTRIES, USES)
    for code in sorted(vocabulary)
)
ALL_MSGIDS: tuple[str, ...] = _SENTENCES + tuple(dict.fromkeys(_LABELS))


def _labels(vocabulary: Any, codes: frozenset[str]) -> Labels:
    return Labels(tuple(vocabulary.term(c).label for c in sorted(codes)))


def summarise(licence: Licence) -> list[Message]:
    """The licence explained in order: what, when, where, pay, risks, rights.

    Risk messages carry a ``risk`` code; the rest carry None. The list is never empty.
    """
    out = [
        Message(TITLE, {"title": licence.title, "version": licence.version}),
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

    price = Amount(licence.price_minor, licence.currency)
    out.append(
        Message(
            PRICE_PER_ITEM if licence.price_unit == "item" else PRICE_PER_MINUTE, {"price": price}
        )
    )
    if licence.royalty_share_percent:
        out.append(Message(ROYALTY, {"percent": licence.royalty_share_percent}))
    else:
        out.append(Message(NO_ROYALTY, risk=RISK_NO_ROYALTY))

    if licence.exclusive and licence.exclusive_until is not None:
        params = {
            "until": Day(licence.exclusive_until.date()),
            "surcharge": Amount(licence.exclusivity_surcharge_minor, licence.currency),
        }
        out.append(Message(EXCLUSIVE, params, RISK_EXCLUSIVE))
    if licence.replica_use_description is not None:
        out.append(Message(REPLICA, {"description": licence.replica_use_description}, RISK_REPLICA))
        if not USES.matching("voice_cloning", licence.prohibited_uses):
            out.append(Message(VOICE_CLONING, risk=RISK_VOICE_CLONING))
        if not USES.matching("face_avatar", licence.prohibited_uses):
            out.append(Message(FACE_AVATAR, risk=RISK_FACE_AVATAR))
    if "display" in licence.permitted_actions:
        out.append(Message(DISPLAY, risk=RISK_PUBLIC_DISPLAY))
    if "redistribute" in licence.permitted_actions:
        out.append(Message(REDISTRIBUTE, risk=RISK_REDISTRIBUTION))

    out.append(Message(WITHDRAW, {"days": licence.deletion_deadline_days}))
    out.append(Message(NO_TRANSFER))
    kept = licence.on_end == "keep_no_new_training"
    out.append(Message(ON_END[licence.on_end], risk=RISK_MODELS_KEPT if kept else None))
    return out


def risks(licence: Licence) -> tuple[str, ...]:
    """The risk flags of a licence, in summary order."""
    return tuple(m.risk for m in summarise(licence) if m.risk)
