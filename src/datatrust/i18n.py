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
from datatrust.domain.licence import Licence
from datatrust.domain.licence_text import (
    ORIGINAL,
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


# Parameters whose values are words of the platform's vocabulary, shown in the reader's
# language through the ``messages`` catalogue (the pages' own labels).
KIND_WORDS = {
    "photo": "Photo",
    "video": "Video",
    "voice": "Voice recording",
    "ambient": "Sound of a place",
    "call": "Phone call",
    "chat": "Chat export",
}
VOCABULARY: dict[str, Mapping[str, str]] = {"kind": KIND_WORDS, "given_kind": KIND_WORDS}


def _param(name: str, value: Any, lang: str) -> str:
    words = VOCABULARY.get(name)
    if words is not None and isinstance(value, str) and value in words:
        return translator(lang).gettext(words[value])
    return format_param(value, lang)


def render_problem(problem: Problem, lang: str) -> str:
    """The problem's sentence in ``lang``, from its code and parameters (no field name:
    pages show it next to the field)."""
    if problem.code == TEXT:  # words with no code (outside domain/ and services/)
        return translator(lang).gettext(str(problem.params.get("text", "")))
    msgid = TEXTS[problem.code]
    text = problem_translator(lang).pgettext(problem.code, msgid)
    return text % {key: _param(key, value, lang) for key, value in problem.params.items()}
