"""Translation: gettext catalogues in ``datatrust/locale`` and Babel for formatting.

The domain builds language-neutral messages (``domain.licence_text``); this module turns
them into sentences in the reader's language: it translates msgids and vocabulary labels
through the ``messages`` catalogue and formats dates, money, country names and lists with
Babel's CLDR data for that language.

A language with no catalogue falls back to English (the msgids), never to an error, so
a contributor always sees their terms.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_timedelta
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, get_currency_precision

from datatrust.domain.errors import Problem
from datatrust.domain.licence import TEMPLATES, Licence
from datatrust.domain.licence_text import (
    ORIGINAL,
    REPLICA_MEDIA_LABELS,
    Amount,
    Day,
    Labels,
    Languages,
    Message,
    Original,
    Territories,
    UnitPay,
    summarise,
)
from datatrust.domain.money import Money
from datatrust.domain.problem_texts import TEXT, TEXTS
from datatrust.domain.purposes import INDUSTRIES, PURPOSES, USES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"


def available_languages() -> tuple[str, ...]:
    """Languages with a compiled catalogue, sorted."""
    return tuple(
        sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    )


@lru_cache(maxsize=32)
def translator(lang: str) -> gettext.NullTranslations:
    """The catalogue for ``lang`` (a BCP 47 tag such as "hi" or "zu-ZA").

    Falls back to the bare language ("zu-ZA" → "zu") and then to ``NullTranslations``,
    which returns msgids unchanged (English).
    """
    candidates = [lang.replace("-", "_"), lang.split("-")[0].split("_")[0]]
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=candidates, fallback=True)


def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LANGUAGE)


def format_money(amount: Money, lang: str) -> str:
    """``amount`` as a reader of ``lang`` writes it, by Babel's CLDR data: "$1.20" in
    English, "US$1.20" in isiZulu. Every page and the licence summary format money here.

    Exact: minor units become a ``Decimal`` scaled by the currency's own precision (never
    a float), shown with all its decimal places, so 120 minor units of USD are "1.20" and
    of JPY "120"."""
    digits = get_currency_precision(amount.currency)
    value = Decimal(amount.amount_minor).scaleb(-digits)
    return format_currency(value, amount.currency, locale=_locale(lang), currency_digits=True)


def _format(value: Any, lang: str, tr: gettext.NullTranslations) -> Any:
    locale = _locale(lang)
    if isinstance(value, Labels):
        return format_list([tr.gettext(label) for label in value.items], locale=locale)
    if isinstance(value, Territories):
        names = locale.territories
        return format_list([names.get(code, code) for code in value.codes], locale=locale)
    if isinstance(value, Amount):
        return format_money(Money(value.minor, value.currency), lang)
    if isinstance(value, Day):
        return format_date(value.value, format="long", locale=locale)
    if isinstance(value, Languages):
        names = locale.languages
        return format_list([names.get(code, code) for code in value.codes], locale=locale)
    if isinstance(value, Original):
        # The person's own words, as written, with a label in the reader's language.
        return tr.gettext(ORIGINAL) % {"text": value.text}
    return value


def render(message: Message, lang: str) -> str:
    """One message as a sentence in ``lang``."""
    tr = translator(lang)
    params = {key: _format(value, lang, tr) for key, value in message.params.items()}
    text = tr.gettext(message.msgid)
    # Messages without placeholders may contain a literal "%"; only format when needed.
    return text % params if params else text


def explain_licence(
    licence: Licence,
    lang: str,
    pay: UnitPay | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """The licence in plain words in ``lang``, one sentence per message, risks included."""
    return [sentence for sentence, _ in explain_flagged(licence, lang, pay, names)]


WARNING = "Warning:"


def explain_flagged(
    licence: Licence,
    lang: str,
    pay: UnitPay | None = None,
    names: Mapping[str, str] | None = None,
) -> list[tuple[str, str | None]]:
    """Each sentence in ``lang`` with its risk flag (None for a plain sentence), so every
    output (page, API, CLI) can mark the risks. ``pay`` and ``names`` as for
    ``licence_text.summarise``."""
    return [(render(m, lang), m.risk) for m in summarise(licence, pay, names)]


# --- problems (domain.errors.Problem) ----------------------------------------------------

PROBLEMS_DOMAIN = "problems"


@lru_cache(maxsize=32)
def problem_translator(lang: str) -> gettext.NullTranslations:
    """The ``problems`` catalogue for ``lang``: one entry per problem code (its msgctxt),
    the English sentence as msgid. Falls back like ``translator``."""
    candidates = [lang.replace("-", "_"), lang.split("-")[0].split("_")[0]]
    return gettext.translation(PROBLEMS_DOMAIN, LOCALE_DIR, languages=candidates, fallback=True)


def format_param(value: Any, lang: str) -> str:
    """A problem's parameter as a reader of ``lang`` writes it: money, numbers, dates,
    durations and lists by Babel's CLDR data; text as given."""
    locale = _locale(lang)
    if isinstance(value, Money):
        return format_money(value, lang)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | Decimal | float):
        return format_decimal(value, locale=locale)
    if isinstance(value, timedelta):
        return format_timedelta(value, threshold=1, locale=locale)
    if isinstance(value, datetime):
        return format_datetime(value, format="medium", locale=locale)
    if isinstance(value, date):
        return format_date(value, format="long", locale=locale)
    if isinstance(value, list | tuple | set | frozenset):
        return format_list([format_param(v, lang) for v in value], locale=locale)
    return str(value)


# --- codes in words -----------------------------------------------------------------------
# The platform's codes as words (msgids of the ``messages`` catalogue), one map per kind of
# code. Pages and problem parameters read the same maps, so each word has one place; the
# catalogues must translate every one (tests/test_problems.py).


def _(msgid: str) -> str:
    """Marks a msgid; it is translated where it is shown."""
    return msgid


KIND_WORDS = {
    "photo": _("Photo"),
    "video": _("Video"),
    "voice": _("Voice recording"),
    "ambient": _("Sound of a place"),
    "call": _("Phone call"),
    "chat": _("Chat export"),
}
# The statuses a contributor filters their items by.
ITEM_STATUS_WORDS = {
    "received": _("Received"),
    "processed": _("Processed"),
    "accepted": _("Accepted"),
    "listed": _("Listed"),
    "rejected": _("Rejected"),
    "withdrawn": _("Withdrawn"),
}
CAMPAIGN_STATE_WORDS = {
    "draft": _("Draft"),
    "open": _("Open"),
    "closed": _("Closed"),
    "paused": _("Paused"),
}
# Every state a problem may name (items, campaigns, consent, organisations, incidents,
# invitations, replica approvals): where two kinds share a code they share its word.
STATE_WORDS = {
    **ITEM_STATUS_WORDS,
    "validated": _("Checked"),
    **CAMPAIGN_STATE_WORDS,
    "pending": _("Waiting for review"),
    "approved": _("Approved"),
    "suspended": _("Suspended"),
    "refused": _("Refused"),
    "active": _("Active"),
    "expired": _("Expired"),
    "confirmed": _("Confirmed"),
    "declined": _("Declined"),
    "notified": _("Notified"),
    "gone": _("Removed"),
}
# What a buyer did with models trained on a withdrawn item (``revocations.MODEL_ACTIONS``).
MODEL_WORDS = {
    "none_trained": _("No model was trained on it"),
    "retrained_without": _("Models trained on it were retrained without it"),
    "deleted": _("Models trained on it were deleted"),
    "kept_no_new_training": _("Models were kept, with no new training on it"),
}
# What a licence says happens to models when it ends (``licence.ON_END_CHOICES``).
ON_END_WORDS = {
    "retrain_without": _("retrain models without the data"),
    "keep_no_new_training": _("keep models but train no new ones"),
    "delete_model": _("delete the models"),
}
# "You missed something": what the contributor says it was (``domain.missed.CATEGORIES``).
MISSED_CATEGORY_WORDS = {
    "name": _("A name"),
    "phone": _("A phone number"),
    "email": _("An email address"),
    "address": _("A street address"),
    "id_number": _("An ID number"),
    "payment": _("Bank or card details"),
    "handle": _("A username or handle"),
    "face": _("A face"),
    "plate": _("A number plate"),
    "other": _("Something else personal"),
}
# The choices a form or request offers, whatever the field (``one_of`` and its kin).
CHOICE_WORDS = {
    **KIND_WORDS,
    **MODEL_WORDS,
    **ON_END_WORDS,
    "contributor": _("Contributor"),
    "buyer": _("Buyer"),
    "operator": _("The operator"),
    "peer": _("Other contributors"),
    "per_item": _("per item"),
    "per_minute": _("per minute"),
    "item": _("per item"),
    "minute": _("per minute"),
    "approve": _("Approve"),
    "reject": _("Reject"),
    "suspend": _("Suspend"),
    "refuse": _("Refuse"),
    "any": _("Any vetted buyer"),
    "named": _("Only the organisations I tick"),
    "exclusive": _("One organisation only, exclusively, until a date"),
    "media": _("The file"),
    "transcript": _("The transcript"),
    **{name: str(t["title"]) for name, t in TEMPLATES.items()},
}


def _labels(vocabulary: Any) -> dict[str, str]:
    return {code: vocabulary.term(code).label for code in vocabulary}


PURPOSE_WORDS = _labels(PURPOSES)
INDUSTRY_WORDS = _labels(INDUSTRIES)
USE_WORDS = _labels(USES)
# Each problem parameter that carries codes, by its name, and the words for them; a value
# not in its map (what a client sent that matches nothing) is shown as it was sent.
PARAM_WORDS: dict[str, Mapping[str, str]] = {
    "kind": KIND_WORDS,
    "given_kind": KIND_WORDS,
    "state": STATE_WORDS,
    "to": STATE_WORDS,
    "choices": CHOICE_WORDS,
    "purpose": PURPOSE_WORDS,
    "prohibited_purpose": PURPOSE_WORDS,
    "industry": INDUSTRY_WORDS,
    "denied": INDUSTRY_WORDS,
    "use": USE_WORDS,
    "uses": USE_WORDS,
    "prohibited_uses": USE_WORDS,
    "media": REPLICA_MEDIA_LABELS,
    "allowed": MODEL_WORDS,
    "terms": ON_END_WORDS,
    # What a person types to erase their account: the page shows and takes it in their
    # language (``web.pages.auth``), the API in English.
    "phrase": {"erase me": _("erase me")},
}
# Where one parameter name means different codes in different problems.
PROBLEM_PARAM_WORDS: dict[tuple[str, str], Mapping[str, str]] = {
    ("use.purpose_undeclared", "declared"): PURPOSE_WORDS,
    ("use.industry_undeclared", "declared"): INDUSTRY_WORDS,
    ("deletion.models_not_allowed", "given"): MODEL_WORDS,
}
# Parameters holding ISO 3166 country codes, named in the reader's language by CLDR.
COUNTRY_PARAMS = frozenset({"territories"})
# Parameters that name a record by its number: written as the number is, never grouped
# ("item 1164", not "item 1,164"), so the reader can find it on the page or in the API.
IDENTIFIER_PARAMS = frozenset(
    {
        "item",
        "snapshot",
        "campaign",
        "order",
        "org",
        "offer",
        "incident",
        "licence",
        "agreement",
        "owner",
        "seq",
        "version",
        "index",
    }
)
# Every word map above: the catalogues translate each of their words.
CODE_WORDS = (
    *PARAM_WORDS.values(),
    *PROBLEM_PARAM_WORDS.values(),
    ITEM_STATUS_WORDS,
    MISSED_CATEGORY_WORDS,
)


def word(msgid: str, lang: str) -> str:
    """A code's word in ``lang``, as it reads inside a sentence: "Withdrawn" becomes
    "withdrawn" (a word starting with an acronym, "AI …", keeps its capitals)."""
    text = translator(lang).gettext(msgid)
    if text[:1].isupper() and text[1:2].islower():
        return text[0].lower() + text[1:]
    return text


def _param(code: str, name: str, value: Any, lang: str) -> str:
    words = PROBLEM_PARAM_WORDS.get((code, name), PARAM_WORDS.get(name))
    codes = [value] if isinstance(value, str) else value
    if name in IDENTIFIER_PARAMS and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if name in COUNTRY_PARAMS and isinstance(codes, list | tuple):
        names = _locale(lang).territories
        return format_list([names.get(c, c) for c in codes], locale=_locale(lang))
    if words and isinstance(codes, list | tuple) and all(isinstance(c, str) for c in codes):
        shown = [word(words[c], lang) if c in words else c for c in codes]
        return shown[0] if isinstance(value, str) else format_list(shown, locale=_locale(lang))
    return format_param(value, lang)


def render_problem(problem: Problem, lang: str) -> str:
    """The problem's sentence in ``lang``, from its code and parameters (no field name:
    pages show it next to the field)."""
    if problem.code == TEXT:  # words with no code (outside domain/ and services/)
        return translator(lang).gettext(str(problem.params.get("text", "")))
    msgid = TEXTS[problem.code]
    text = problem_translator(lang).pgettext(problem.code, msgid)
    params = problem.params.items()
    return text % {key: _param(problem.code, key, value, lang) for key, value in params}
