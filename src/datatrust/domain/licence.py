"""Licences: a contributor's terms for an item, and the check of a buyer's use against them.

A ``Licence`` is always revocable, time-limited, purpose-bound and non-transferable (design
§2). Revocability is not a field: it is a constant property. Sublicensing and transfer do
not exist as options; input that asks for them is rejected with a clear problem rather than
silently ignored, so a caller never believes it got terms it did not.

``evaluate`` fails closed: anything it does not know (a purpose, industry, action, use,
territory or consent state) denies. A ``Decision`` carries every reason, each with a stable
machine ``code`` (selections count exclusions per code) and an English ``text`` for logs.

Pure: stdlib only, no I/O, no clock (times are passed in).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import as_utc
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.languages import is_known_language
from datatrust.domain.purposes import (
    ACTIONS,
    INDUSTRIES,
    OUTPUTS,
    PURPOSES,
    REPLICA_CATEGORIES,
    REPLICA_CHANNELS,
    REPLICA_MEDIA_TERMS,
    REPLICA_USE,
    SENSITIVE_USES,
    TASKS,
    USES,
    sensitive_kind,
    uses_implied,
)
from datatrust.domain.territories import (
    ISO_3166_ALPHA2,
    WORLD,
    is_known_territory,
    is_valid_licence_territory,
)

ON_END_CHOICES = ("retrain_without", "keep_no_new_training", "delete_model")
# What a replica grant covers: a voice clone, a face avatar, or the whole likeness (both).
REPLICA_MEDIA = tuple(REPLICA_MEDIA_TERMS)  # ("voice", "face", "full_likeness")
# Each replica use and the media that grant it.
_MEDIA_FOR_USE = {
    "voice_cloning": frozenset({"voice", "full_likeness"}),
    "face_avatar": frozenset({"face", "full_likeness"}),
}
PRICE_UNITS = ("item", "minute")
CONSENT_STATES = ("active", "withdrawn", "expired")

MAX_TERM_YEARS = 5
# Design §5: a digital replica is allowed "for at most ten years". That is the replica
# grant's own end (``replica_until``); the rest of the licence keeps ``MAX_TERM_YEARS``.
MAX_REPLICA_TERM_YEARS = 10
# Priced revocability (issue 16 §5): a contributor may promise existing licensees up to
# two years' notice before a withdrawal takes effect for them, and is paid more for it.
MAX_WITHDRAWAL_NOTICE_DAYS = 730
# The buyer pays this share of the base price on top per 365 days of promised notice,
# pro rata by the day: ceil(price × days × 25 / (100 × 365)). Two years' notice costs
# 50 % more; 30 days about 2 %.
NOTICE_SURCHARGE_PERCENT_PER_YEAR = 25
# Exclusivity takes the contributor off the market, so it gets its own, shorter limit.
MAX_EXCLUSIVE_YEARS = 2
MIN_REPLICA_DESCRIPTION_CHARS = 30
DEFAULT_DELETION_DEADLINE_DAYS = 30
# A contributor may ask for faster deletion than the platform default, never slower.
MAX_DELETION_DEADLINE_DAYS = DEFAULT_DELETION_DEADLINE_DAYS
# Exclusive licences cost more: the buyer pays this share of the base price on top, for
# every started calendar year of exclusivity (so one day costs a full year's share, and two
# calendar years cost two shares even when a 29 February makes them 731 days).
EXCLUSIVITY_SURCHARGE_PERCENT_PER_YEAR = 50

# Keys that ask for terms Datatrust never grants. Each maps to the problem code reported.
_REFUSED_KEYS = {
    "sublicensable": "licence.no_sublicensing",
    "sublicensing": "licence.no_sublicensing",
    "sublicense": "licence.no_sublicensing",
    "transferable": "licence.not_transferable",
    "transfer": "licence.not_transferable",
    "assignable": "licence.not_assignable",
    "irrevocable": "licence.not_irrevocable",
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` plus whole calendar years; 29 February becomes 28 February if needed."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class Licence:
    """A contributor's offer for an item. Constructing one validates it.

    Every invalid combination raises ``InvalidInput`` listing *every* problem, not just the
    first. Sets may be passed as any iterable of strings and are stored as frozensets;
    datetimes are stored in UTC (naive ones are taken to be UTC already).

    - ``territories`` is ``{"WORLD"}`` or a set of ISO 3166-1 alpha-2 codes;
      ``excluded_territories`` carves countries out (meaningful with ``WORLD``).
    - The licence is valid in ``[valid_from, valid_until)``, for at most 5 years.
    - A replica grant (``replica_use_description``, the contributor's own words) names its
      media (``REPLICA_MEDIA``), languages (ISO 639-1), product categories
      (``purposes.REPLICA_CATEGORIES``) and channels (``purposes.REPLICA_CHANNELS``), and
      may run until ``replica_until`` (default: the licence's end), at most 10 years after
      ``valid_from``, even past ``valid_until``: only replica uses get that longer period.
      A replica use is allowed only when every one of these matches. With
      ``replica_ask_each_time`` each replica use also waits for the contributor's approval.
      Terms stored before grants had these fields parse with them empty, and then allow no
      replica use at all; a new offer must name them (``replica_grant_gaps``).
    - ``withdrawal_notice_days`` (0 to 730) is the notice a withdrawal gives existing
      agreements before it takes effect for them; new selections stop at once whatever it
      is. The buyer pays ``notice_surcharge_minor`` for it.
    - ``exclusive`` needs ``exclusive_to`` (the holder's organisation id) and
      ``exclusive_until`` within the licence and at most 2 years after ``valid_from``; the
      buyer then pays ``price_with_surcharge_minor``. While it runs, no other organisation
      may use the item.
    - ``offered_to`` limits who may take the offer to named organisation ids (empty: any
      vetted buyer).
    - Sensitive uses (biometric identification, surveillance, emotion recognition,
      political persuasion, deceptive impersonation, replicas) are denied unless named in
      ``permitted_uses`` (a replica: unless the replica grant is set).
    - ``redistribute`` can never be permitted: a licence is not transferable.
    - ``price_minor`` is in the currency's minor units per ``price_unit`` ("item"/"minute").
    """

    id: str
    version: int
    title: str
    permitted_purposes: frozenset[str]
    permitted_actions: frozenset[str]
    valid_from: datetime
    valid_until: datetime
    price_minor: int
    currency: str
    price_unit: str
    royalty_share_percent: int
    prohibited_purposes: frozenset[str] = frozenset()
    prohibited_industries: frozenset[str] = frozenset()
    prohibited_uses: frozenset[str] = frozenset()
    territories: frozenset[str] = frozenset({WORLD})
    excluded_territories: frozenset[str] = frozenset()
    exclusive: bool = False
    exclusive_until: datetime | None = None
    deletion_deadline_days: int = DEFAULT_DELETION_DEADLINE_DAYS
    on_end: str = "retrain_without"
    replica_use_description: str | None = None
    # Sensitive uses (``purposes.SENSITIVE_USES`` other than replicas, which need the
    # replica grant) this licence permits by name; every other sensitive use is denied.
    permitted_uses: frozenset[str] = frozenset()
    # Who may take the offer: empty is any vetted buyer; otherwise these organisation ids.
    offered_to: frozenset[str] = frozenset()
    # The one organisation an exclusive licence is exclusive to, until ``exclusive_until``.
    exclusive_to: str | None = None
    # The media a replica grant covers (``REPLICA_MEDIA``); required with the grant.
    replica_media: frozenset[str] = frozenset()
    # The rest of the replica grant (issue 16 §3); see the class docstring.
    replica_languages: frozenset[str] = frozenset()
    replica_categories: frozenset[str] = frozenset()
    replica_channels: frozenset[str] = frozenset()
    replica_until: datetime | None = None
    replica_ask_each_time: bool = False
    # Days of notice existing agreements get before a withdrawal takes effect for them.
    withdrawal_notice_days: int = 0

    def __post_init__(self) -> None:
        for name in _SET_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, frozenset) and _is_string_collection(value):
                object.__setattr__(self, name, frozenset(value))
        for name in _DATETIME_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime):
                object.__setattr__(self, name, as_utc(value))
        if self.replica_until is not None and self.replica_until == self.valid_until:
            # A replica grant ending with the licence has no end of its own: one value for
            # one meaning, so a licence read back from its ODRL export is equal to it.
            object.__setattr__(self, "replica_until", None)
        problems = _rule_problems({f.name: getattr(self, f.name) for f in _FIELDS})
        if problems:
            raise InvalidInput(problems)

    @property
    def revocable(self) -> bool:
        """Always True: a contributor can always withdraw (design §2)."""
        return True

    @property
    def worldwide(self) -> bool:
        return WORLD in self.territories

    @property
    def allows_replica(self) -> bool:
        return self.replica_use_description is not None

    @property
    def replica_ends_at(self) -> datetime:
        """When the replica grant ends: ``replica_until``, else the licence's own end."""
        return self.replica_until or self.valid_until

    @property
    def ends_at(self) -> datetime:
        """The last moment any use may run to: the later of the licence's and the replica
        grant's ends (consent lasts until then)."""
        if not self.allows_replica:
            return self.valid_until
        return max(self.valid_until, self.replica_ends_at)

    @property
    def notice_surcharge_minor(self) -> int:
        """What the promised withdrawal notice costs on top of ``price_minor``.

        ``ceil(price_minor × withdrawal_notice_days × 25 / (100 × 365))``: a quarter of
        the base price per 365 days of notice, pro rata by the day, rounded up to a whole
        minor unit so the contributor is never short-changed. 0 days cost nothing.
        """
        numerator = (
            self.price_minor * self.withdrawal_notice_days * NOTICE_SURCHARGE_PERCENT_PER_YEAR
        )
        return -(-numerator // (100 * 365))

    @property
    def exclusivity_surcharge_minor(self) -> int:
        """What an exclusive licence costs on top of ``price_minor``; 0 if not exclusive.

        50% of the base price per started calendar year of exclusivity (counted with
        ``add_years``, so leap days never add a year), rounded up to a whole minor unit (so
        the contributor is never short-changed by rounding).
        """
        if not self.exclusive or self.exclusive_until is None:
            return 0
        started_years = 1
        while add_years(self.valid_from, started_years) < self.exclusive_until:
            started_years += 1
        percent = EXCLUSIVITY_SURCHARGE_PERCENT_PER_YEAR * started_years
        return -(-self.price_minor * percent // 100)

    @property
    def price_with_surcharge_minor(self) -> int:
        """The price per unit a buyer pays before the platform fee: the base price, the
        exclusivity surcharge and the notice surcharge."""
        return self.price_minor + self.exclusivity_surcharge_minor + self.notice_surcharge_minor

    def replica_grant_gaps(self) -> list[Problem]:
        """What a replica grant leaves unnamed (empty when complete, or with no grant).

        A grant that names no language, category or channel allows no replica use (every
        field must match), so ``Licence`` accepts it for terms stored before these fields
        existed; a new offer with such gaps is refused (``services.licences``), because a
        grant without a reasonably specific scope is void (California AB 2602).
        """
        if not self.allows_replica:
            return []
        wanted = (
            ("replica_languages", "licence.replica_languages_required"),
            ("replica_categories", "licence.replica_categories_required"),
            ("replica_channels", "licence.replica_channels_required"),
        )
        return [Problem(name, code) for name, code in wanted if not getattr(self, name)]

    def replace(self, **changes: Any) -> Licence:
        """A copy with ``changes`` applied, validated again."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: sets become sorted lists, datetimes ISO 8601 strings in UTC.

        Includes ``"revocable": true`` for readers; ``from_dict`` accepts it back.
        """
        out: dict[str, Any] = {}
        for f in _FIELDS:
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[f.name] = value
        out["revocable"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Licence:
        """Parse and validate; raises ``InvalidInput`` listing every problem.

        Accepts what ``to_dict`` produces, and also Python values (sets, datetimes).
        Unknown keys are problems; so are requests for sublicensing, transfer or
        irrevocability, and ``"revocable": false``.
        """
        if not isinstance(data, Mapping):
            raise InvalidInput(Problem("licence", "must_be_object"))
        parsed, problems = _parse_fields(data)
        problems += _rule_problems(parsed)
        if problems:
            raise InvalidInput(problems)
        return cls(**parsed)


_FIELDS = dataclasses.fields(Licence)
_FIELD_NAMES = frozenset(f.name for f in _FIELDS)
_REQUIRED = frozenset(
    f.name
    for f in _FIELDS
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)
_DEFAULTS = {f.name: f.default for f in _FIELDS if f.name not in _REQUIRED}
_SET_FIELDS = (
    "permitted_purposes",
    "permitted_actions",
    "prohibited_purposes",
    "prohibited_industries",
    "prohibited_uses",
    "territories",
    "excluded_territories",
    "permitted_uses",
    "offered_to",
    "replica_media",
    "replica_languages",
    "replica_categories",
    "replica_channels",
)
_DATETIME_FIELDS = ("valid_from", "valid_until", "exclusive_until", "replica_until")
_OPTIONAL_DATETIME_FIELDS = ("exclusive_until", "replica_until")
_INT_FIELDS = (
    "version",
    "price_minor",
    "royalty_share_percent",
    "deletion_deadline_days",
    "withdrawal_notice_days",
)
_BOOL_FIELDS = ("exclusive", "replica_ask_each_time")
_STR_FIELDS = ("id", "title", "currency", "price_unit", "on_end")


def validate_licence(data: Mapping[str, Any]) -> Licence:
    """Same as ``Licence.from_dict``: the one entry point for untrusted input."""
    return Licence.from_dict(data)


def _is_string_collection(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(v, str) for v in value
    )


def _parse_fields(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Turn raw input into typed field values; fields that fail to parse are left out."""
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    for key in data:
        if key in _REFUSED_KEYS:
            problems.append(Problem(key, _REFUSED_KEYS[key], {"key": key}))
        elif key == "revocable":
            if data[key] is not True:
                problems.append(Problem("revocable", "licence.revocable_false"))
        elif key not in _FIELD_NAMES:
            problems.append(Problem(key, "request.unknown_field"))
    for name in sorted(_REQUIRED - set(data)):
        problems.append(Problem(name, "required"))
    for name in _FIELD_NAMES & set(data):
        value = data[name]
        if name in _SET_FIELDS:
            if _is_string_collection(value):
                parsed[name] = frozenset(value)
            else:
                problems.append(Problem(name, "list_of_codes"))
        elif name in _DATETIME_FIELDS:
            if value is None and name in _OPTIONAL_DATETIME_FIELDS:
                parsed[name] = None
            elif isinstance(value, datetime):
                parsed[name] = as_utc(value)
            elif isinstance(value, str):
                try:
                    parsed[name] = as_utc(datetime.fromisoformat(value))
                except ValueError:
                    problems.append(Problem(name, "date_time_not_iso", {"given": value}))
            else:
                problems.append(Problem(name, "must_be_iso_date_time"))
        elif name in _INT_FIELDS:
            # bool is an int subclass; True is not a price.
            if isinstance(value, int) and not isinstance(value, bool):
                parsed[name] = value
            else:
                problems.append(Problem(name, "must_be_whole_number"))
        elif name in _STR_FIELDS:
            if isinstance(value, str):
                parsed[name] = value
            else:
                problems.append(Problem(name, "must_be_text"))
        elif name in _BOOL_FIELDS:
            if isinstance(value, bool):
                parsed[name] = value
            else:
                problems.append(Problem(name, "must_be_true_or_false"))
        elif name in ("replica_use_description", "exclusive_to"):
            if value is None or isinstance(value, str):
                parsed[name] = value
            else:
                problems.append(Problem(name, "must_be_text_or_null"))
    return parsed, problems


def _unknown(name: str, codes: Iterable[str], known: Any) -> list[Problem]:
    bad = sorted(c for c in codes if c not in known)
    return [Problem(name, "unknown_codes", {"codes": bad})] if bad else []


def _rule_problems(f: Mapping[str, Any]) -> list[Problem]:
    """Every rule broken by the (possibly partial) field values in ``f``.

    Fields that are missing (because they failed to parse) are skipped, so one bad field
    does not hide problems in the others.
    """
    p: list[Problem] = []
    # Fill in defaults for optional fields the caller left out, so cross-field rules run.
    f = {**{k: v for k, v in _DEFAULTS.items() if k not in f}, **f}
    for name in _SET_FIELDS:
        if name in f and not isinstance(f[name], frozenset):
            p.append(Problem(name, "licence.set_of_codes"))
    if p:
        return p

    if "id" in f and (not isinstance(f["id"], str) or not f["id"].strip()):
        p.append(Problem("id", "must_not_be_empty"))
    if "version" in f and (
        not isinstance(f["version"], int) or isinstance(f["version"], bool) or f["version"] < 1
    ):
        p.append(Problem("version", "licence.version"))
    if "title" in f and (not isinstance(f["title"], str) or not f["title"].strip()):
        p.append(Problem("title", "must_not_be_empty"))

    if "permitted_purposes" in f:
        if not f["permitted_purposes"]:
            p.append(Problem("permitted_purposes", "licence.purpose_required"))
        p += _unknown("permitted_purposes", f["permitted_purposes"], PURPOSES)
    p += _unknown("prohibited_purposes", f["prohibited_purposes"], PURPOSES)
    if "permitted_purposes" in f:
        for allowed in sorted(f["permitted_purposes"]):
            for banned in PURPOSES.matching(allowed, f["prohibited_purposes"]):
                p.append(
                    Problem(
                        "prohibited_purposes",
                        "licence.purpose_also_prohibited",
                        {"purpose": allowed, "prohibited_purpose": banned},
                    )
                )
    p += _unknown("prohibited_industries", f["prohibited_industries"], INDUSTRIES)
    p += _unknown("prohibited_uses", f["prohibited_uses"], USES)
    if "permitted_actions" in f:
        if not f["permitted_actions"]:
            p.append(Problem("permitted_actions", "licence.action_required"))
        p += _unknown("permitted_actions", f["permitted_actions"], ACTIONS)
        if "redistribute" in f["permitted_actions"]:
            p.append(Problem("permitted_actions", "licence.redistribute"))

    permitted_uses = f["permitted_uses"]
    p += _unknown("permitted_uses", permitted_uses, USES)
    for kind in sorted(u for u in permitted_uses if u in USES):
        if sensitive_kind(kind) == REPLICA_USE:
            p.append(Problem("permitted_uses", "licence.use_is_replica", {"use": kind}))
        elif sensitive_kind(kind) is None:
            named = sorted(SENSITIVE_USES - {REPLICA_USE})
            p.append(
                Problem("permitted_uses", "licence.use_not_sensitive", {"use": kind, "uses": named})
            )
        also_prohibited = USES.matching(kind, f["prohibited_uses"])
        if also_prohibited:
            p.append(
                Problem(
                    "permitted_uses",
                    "licence.use_also_prohibited",
                    {"use": kind, "prohibited_uses": list(also_prohibited)},
                )
            )

    territories = f["territories"]
    if not territories:
        p.append(Problem("territories", "licence.territory_required"))
    bad = sorted(t for t in territories if not is_valid_licence_territory(t))
    if bad:
        p.append(Problem("territories", "licence.territory_codes", {"codes": bad}))
    if WORLD in territories and len(territories) > 1:
        p.append(Problem("territories", "licence.world_alone"))
    excluded = f["excluded_territories"]
    bad = sorted(t for t in excluded if t not in ISO_3166_ALPHA2)
    if bad:
        p.append(Problem("excluded_territories", "licence.territory_codes", {"codes": bad}))
    both = sorted(excluded & territories)
    if both:
        p.append(Problem("excluded_territories", "licence.territory_both", {"territories": both}))

    replica = f["replica_use_description"]
    if replica is not None:
        if not isinstance(replica, str) or len(replica.strip()) < MIN_REPLICA_DESCRIPTION_CHARS:
            p.append(
                Problem(
                    "replica_use_description",
                    "licence.replica_description_short",
                    {"minimum": MIN_REPLICA_DESCRIPTION_CHARS},
                )
            )
        if REPLICA_USE in f["prohibited_uses"]:
            p.append(Problem("replica_use_description", "licence.replica_prohibited"))
    media = f["replica_media"]
    bad = sorted(m for m in media if m not in REPLICA_MEDIA)
    if bad:
        p.append(
            Problem(
                "replica_media",
                "licence.replica_medium_unknown",
                {"codes": bad, "media": list(REPLICA_MEDIA)},
            )
        )
    if replica is not None and not media:
        p.append(
            Problem(
                "replica_media", "licence.replica_medium_required", {"media": list(REPLICA_MEDIA)}
            )
        )
    if replica is None and media:
        p.append(Problem("replica_media", "licence.replica_medium_without_grant"))
    p += _replica_scope_problems(f, replica is not None)
    if "create_replica" in f.get("permitted_actions", ()) and replica is None:
        p.append(Problem("permitted_actions", "licence.create_replica_without_grant"))

    start, end = f.get("valid_from"), f.get("valid_until")
    for name in ("valid_from", "valid_until"):
        if name in f and not isinstance(f[name], datetime):
            p.append(Problem(name, "must_be_date_time"))
    if isinstance(start, datetime) and isinstance(end, datetime):
        if end <= start:
            p.append(Problem("valid_until", "licence.after_start"))
        if end > add_years(start, MAX_TERM_YEARS):
            p.append(
                Problem(
                    "valid_until",
                    "licence.term_too_long",
                    {"years": MAX_TERM_YEARS, "replica_years": MAX_REPLICA_TERM_YEARS},
                )
            )
    replica_end = f["replica_until"]
    if replica_end is not None:
        if not isinstance(replica_end, datetime):
            p.append(Problem("replica_until", "must_be_date_time"))
        elif replica is None:
            p.append(Problem("replica_until", "licence.replica_end_without_grant"))
        elif isinstance(start, datetime):
            if replica_end <= start:
                p.append(Problem("replica_until", "licence.after_start"))
            if replica_end > add_years(start, MAX_REPLICA_TERM_YEARS):
                p.append(
                    Problem(
                        "replica_until",
                        "licence.replica_term_too_long",
                        {"years": MAX_REPLICA_TERM_YEARS},
                    )
                )

    exclusive, until = f["exclusive"], f["exclusive_until"]
    if not isinstance(exclusive, bool):
        p.append(Problem("exclusive", "must_be_true_or_false"))
    elif exclusive:
        if until is None:
            p.append(Problem("exclusive_until", "licence.exclusive_until"))
        elif not isinstance(until, datetime):
            p.append(Problem("exclusive_until", "must_be_date_time"))
        elif isinstance(start, datetime) and isinstance(end, datetime):
            if until <= start:
                p.append(Problem("exclusive_until", "licence.after_start"))
            if until > end:
                p.append(Problem("exclusive_until", "licence.exclusive_after_end"))
            if until > add_years(start, MAX_EXCLUSIVE_YEARS):
                p.append(
                    Problem(
                        "exclusive_until",
                        "licence.exclusive_too_long",
                        {"years": MAX_EXCLUSIVE_YEARS},
                    )
                )
    elif until is not None:
        p.append(Problem("exclusive_until", "licence.exclusive_until_not_exclusive"))
    holder = f["exclusive_to"]
    if holder is not None and (not isinstance(holder, str) or not holder.strip()):
        p.append(Problem("exclusive_to", "licence.holder_id"))
    elif exclusive is True and holder is None:
        p.append(Problem("exclusive_to", "licence.holder_required"))
    elif exclusive is False and holder is not None:
        p.append(Problem("exclusive_to", "licence.holder_not_exclusive"))
    offered_to = f["offered_to"]
    if any(not o.strip() for o in offered_to):
        p.append(Problem("offered_to", "licence.offered_to_empty"))
    if isinstance(holder, str) and offered_to and holder not in offered_to:
        p.append(Problem("offered_to", "licence.holder_not_offered", {"org": holder}))

    if "price_minor" in f and (not isinstance(f["price_minor"], int) or f["price_minor"] < 0):
        p.append(Problem("price_minor", "licence.price_minor"))
    if "currency" in f and (
        not isinstance(f["currency"], str) or not _CURRENCY.match(f["currency"])
    ):
        p.append(Problem("currency", "licence.currency"))
    if "price_unit" in f and f["price_unit"] not in PRICE_UNITS:
        p.append(Problem("price_unit", "must_be_one_of", {"choices": list(PRICE_UNITS)}))
    royalty = f.get("royalty_share_percent")
    if "royalty_share_percent" in f and (not isinstance(royalty, int) or not 0 <= royalty <= 100):
        p.append(Problem("royalty_share_percent", "licence.royalty_percent"))
    notice = f["withdrawal_notice_days"]
    if not isinstance(notice, int) or not 0 <= notice <= MAX_WITHDRAWAL_NOTICE_DAYS:
        p.append(
            Problem(
                "withdrawal_notice_days",
                "licence.notice_days",
                {"maximum": MAX_WITHDRAWAL_NOTICE_DAYS},
            )
        )
    days = f["deletion_deadline_days"]
    if not isinstance(days, int) or not 1 <= days <= MAX_DELETION_DEADLINE_DAYS:
        p.append(
            Problem(
                "deletion_deadline_days",
                "licence.deletion_days",
                {"maximum": MAX_DELETION_DEADLINE_DAYS},
            )
        )
    if f["on_end"] not in ON_END_CHOICES:
        p.append(Problem("on_end", "must_be_one_of", {"choices": list(ON_END_CHOICES)}))
    return p


def _replica_scope_problems(f: Mapping[str, Any], granted: bool) -> list[Problem]:
    """Unknown languages, categories and channels, and scope named without a grant."""
    p: list[Problem] = []
    bad = sorted(c for c in f["replica_languages"] if not is_known_language(c))
    if bad:
        p.append(Problem("replica_languages", "licence.language_codes", {"codes": bad}))
    p += _unknown("replica_categories", f["replica_categories"], REPLICA_CATEGORIES)
    p += _unknown("replica_channels", f["replica_channels"], REPLICA_CHANNELS)
    if not granted:
        for name in ("replica_languages", "replica_categories", "replica_channels"):
            if f[name]:
                p.append(Problem(name, "licence.replica_scope_without_grant"))
        if f["replica_ask_each_time"] is True:
            p.append(Problem("replica_ask_each_time", "licence.replica_ask_without_grant"))
    return p


# --- templates ------------------------------------------------------------------------

_COMMON_PROHIBITED_INDUSTRIES = frozenset(
    {"political_campaigning", "adult_content", "surveillance", "law_enforcement", "weapons"}
)

# Each template lists field values and its default term in years. Price (and, for the
# voice library, the replica description) is left to the caller on purpose: a template
# must not choose what a person is paid or what their replica may do.
TEMPLATES: dict[str, dict[str, Any]] = {
    "training_only": {
        "title": "Training only (recommended)",
        "term_years": 2,
        "permitted_purposes": {"model_training", "model_evaluation"},
        "permitted_actions": {"train", "fine_tune", "evaluate"},
        "prohibited_uses": {
            "digital_replica",
            "impersonation",
            "biometric_identification",
            "emotion_recognition",
            "sexual_content",
            "redistribution",
        },
        "prohibited_industries": _COMMON_PROHIBITED_INDUSTRIES,
        "royalty_share_percent": 50,
        "on_end": "retrain_without",
    },
    "research_non_commercial": {
        "title": "Non-commercial research",
        "term_years": 3,
        "permitted_purposes": {"academic_research", "non_commercial_research"},
        "prohibited_purposes": {
            "commercial_research",
            "commercial_product_development",
            "marketing",
        },
        "permitted_actions": {"train", "fine_tune", "evaluate"},
        "prohibited_uses": {
            "digital_replica",
            "impersonation",
            "biometric_identification",
            "sexual_content",
            "redistribution",
        },
        "prohibited_industries": _COMMON_PROHIBITED_INDUSTRIES | {"military"},
        "royalty_share_percent": 50,
        "on_end": "keep_no_new_training",
    },
    "voice_library": {
        "title": "Voice library (voice replica for a described use)",
        "term_years": 3,
        "permitted_purposes": {"speech_synthesis_training", "media_production"},
        "permitted_actions": {"train", "fine_tune", "evaluate", "create_replica"},
        "prohibited_uses": {
            "face_avatar",
            "impersonation",
            "biometric_identification",
            "sexual_content",
            "redistribution",
        },
        "prohibited_purposes": {"advertising"},
        "replica_media": {"voice"},
        "prohibited_industries": _COMMON_PROHIBITED_INDUSTRIES | {"gambling"},
        "royalty_share_percent": 50,
        "on_end": "delete_model",
    },
    "likeness_advertising": {
        "title": "Likeness in advertising (with restrictions)",
        "term_years": 1,
        "permitted_purposes": {"advertising"},
        "permitted_actions": {"display"},
        "prohibited_uses": {
            "digital_replica",
            "impersonation",
            "biometric_identification",
            "sexual_content",
            "redistribution",
        },
        "prohibited_industries": _COMMON_PROHIBITED_INDUSTRIES
        | {"alcohol", "tobacco", "gambling", "health_claims"},
        "royalty_share_percent": 50,
        "on_end": "delete_model",
    },
}


def licence_from_template(name: str, **changes: Any) -> Licence:
    """A licence from template ``name`` with ``changes`` applied, validated.

    ``id``, ``valid_from`` and ``price_minor`` must be given (``currency`` defaults to USD,
    ``price_unit`` to item, ``version`` to 1). ``valid_until`` defaults to ``valid_from``
    plus the template's term. Every problem, including an unknown template name, is
    reported in one ``InvalidInput``.
    """
    if name not in TEMPLATES:
        raise InvalidInput(
            Problem("template", "licence.template_unknown", {"choices": sorted(TEMPLATES)})
        )
    template = dict(TEMPLATES[name])
    term_years = template.pop("term_years")
    fields: dict[str, Any] = {"version": 1, "currency": "USD", "price_unit": "item"}
    fields |= template
    fields |= changes
    start = fields.get("valid_from")
    if "valid_until" not in fields and isinstance(start, datetime):
        fields["valid_until"] = add_years(start, term_years)
    return Licence.from_dict(fields)


# --- evaluation -----------------------------------------------------------------------


class ReasonCode(StrEnum):
    """Stable codes for decision reasons. All but ``ALLOWED`` deny."""

    ALLOWED = "allowed"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_STATE_UNKNOWN = "consent_state_unknown"
    LICENCE_NOT_YET_VALID = "licence_not_yet_valid"
    LICENCE_EXPIRED = "licence_expired"
    LICENCE_ENDS_WITHIN_PERIOD = "licence_ends_within_period"
    ACTION_UNKNOWN = "action_unknown"
    ACTION_NOT_PERMITTED = "action_not_permitted"
    PURPOSE_UNKNOWN = "purpose_unknown"
    PURPOSE_NOT_PERMITTED = "purpose_not_permitted"
    PURPOSE_PROHIBITED = "purpose_prohibited"
    INDUSTRY_UNKNOWN = "industry_unknown"
    INDUSTRY_PROHIBITED = "industry_prohibited"
    INDUSTRY_DENIED_BY_INSTANCE = "industry_denied_by_instance"
    TERRITORY_UNKNOWN = "territory_unknown"
    TERRITORY_NOT_COVERED = "territory_not_covered"
    TERRITORY_EXCLUDED = "territory_excluded"
    TASK_UNKNOWN = "task_unknown"
    OUTPUT_UNKNOWN = "output_unknown"
    USE_UNKNOWN = "use_unknown"
    USE_PROHIBITED = "use_prohibited"
    SENSITIVE_USE_NOT_PERMITTED = "sensitive_use_not_permitted"
    REPLICA_NOT_PERMITTED = "replica_not_permitted"
    REPLICA_MEDIUM_NOT_GRANTED = "replica_medium_not_granted"
    REPLICA_MEDIUM_NOT_STATED = "replica_medium_not_stated"
    REPLICA_USE_NOT_DESCRIBED = "replica_use_not_described"
    REPLICA_LANGUAGE_NOT_GRANTED = "replica_language_not_granted"
    REPLICA_CATEGORY_NOT_GRANTED = "replica_category_not_granted"
    REPLICA_CHANNEL_NOT_GRANTED = "replica_channel_not_granted"
    REPLICA_GRANT_NOT_YET_VALID = "replica_grant_not_yet_valid"
    REPLICA_GRANT_ENDED = "replica_grant_ended"
    REPLICA_GRANT_ENDS_WITHIN_PERIOD = "replica_grant_ends_within_period"
    REPLICA_APPROVAL_PENDING = "replica_approval_pending"
    RECIPIENT_UNKNOWN = "recipient_unknown"
    RECIPIENT_NOT_OFFERED = "recipient_not_offered"
    EXCLUSIVE_TO_ANOTHER = "exclusive_to_another"


DENY_CODES = frozenset(ReasonCode) - {ReasonCode.ALLOWED}


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    text: str

    @property
    def denies(self) -> bool:
        return self.code in DENY_CODES


@dataclass(frozen=True)
class Decision:
    """The outcome of ``evaluate``. ``allowed`` is True exactly when no reason denies.

    A denial lists every deny reason found; an allowance carries one ``allowed`` reason.
    """

    allowed: bool
    reasons: tuple[Reason, ...]

    def __post_init__(self) -> None:
        if self.allowed == any(r.denies for r in self.reasons):
            raise ValueError("a decision is allowed exactly when no reason denies")

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str


@dataclass(frozen=True)
class ReplicaUse:
    """Where a replica will be used: the languages it speaks or appears in (ISO 639-1),
    the kind of product (``purposes.REPLICA_CATEGORIES``) and the channels it reaches
    people through (``purposes.REPLICA_CHANNELS``). A replica use must state all three;
    the grant must include every one of them."""

    languages: frozenset[str] = frozenset()
    category: str | None = None
    channels: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("languages", "channels"):
            if not isinstance(getattr(self, name), frozenset):
                object.__setattr__(self, name, frozenset(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "languages": sorted(self.languages),
            "category": self.category,
            "channels": sorted(self.channels),
        }


@dataclass(frozen=True)
class Use:
    """What a buyer declares it will do with an item.

    ``declared_uses`` names kinds of use from ``purposes.USES`` the use involves (for
    example ``voice_cloning``). ``task`` (``purposes.TASKS``) and ``outputs``
    (``purposes.OUTPUTS``) say what the resulting model will do; they, the action, the
    purpose and the industry imply further uses (``purposes.uses_implied``), so a use is
    judged by what it does, not by the purpose name it picked. The use runs from ``at``
    until ``until`` (None: an instant); the whole period must fit the licence.
    """

    action: str
    purpose: str
    industry: str
    territory: str
    recipient_org: Organisation
    at: datetime
    declared_uses: frozenset[str] = field(default_factory=frozenset)
    task: str | None = None
    outputs: frozenset[str] = field(default_factory=frozenset)
    until: datetime | None = None
    # Where a replica will be used; required for a replica use (None for any other).
    replica: ReplicaUse | None = None

    def __post_init__(self) -> None:
        for name in ("declared_uses", "outputs"):
            if not isinstance(getattr(self, name), frozenset):
                object.__setattr__(self, name, frozenset(getattr(self, name)))

    def all_uses(self) -> frozenset[str]:
        """The declared uses and every use the rest of the declaration implies."""
        return self.declared_uses | uses_implied(
            action=self.action,
            purpose=self.purpose,
            industry=self.industry,
            task=self.task,
            outputs=self.outputs,
        )


def evaluate(
    licence: Licence,
    use: Use,
    at: datetime | None = None,
    state: str = "active",
    *,
    denied_industries: Iterable[str] = (),
    replica_approved: bool = False,
) -> Decision:
    """Whether ``use`` is allowed under ``licence``, judged at ``at``.

    ``at`` is the evaluation time and must come from the server's clock: services and the
    CLI always pass it; the default (``use.at``) is for pure callers only. The use's period
    starts at the later of ``use.at`` and ``at`` (a buyer's past start cannot revive an
    ended licence) and ends at ``use.until``; all of it must lie within the licence.

    ``state`` is the consent state of the item ("active", "withdrawn", "expired"); anything
    but "active" denies. ``denied_industries`` is the instance's deny-list (settings), part
    of every decision. Rules, all checked so the decision carries every reason:
    the action must be permitted; the purpose must be, or descend from, a permitted purpose
    and must not be, or descend from, a prohibited one (prohibitions beat permissions);
    the industry must not be, or descend from, one prohibited by the licence or denied by
    the instance; the territory must be covered and not excluded; no declared or implied
    use may be prohibited, and a sensitive one must be permitted explicitly (a replica by
    the replica grant); the recipient must be one the offer is made to, and no other
    organisation may use an item while it is exclusive to one. Unknown codes deny.

    A replica use (one that involves a digital replica) needs the replica grant, and every
    part of it to match: the medium (a voice grant never allows a face avatar), the
    languages, the product category and the channels (``use.replica``), and the grant's
    own period (``replica_ends_at``) instead of the licence's. When the contributor asks
    to approve each replica use, ``replica_approved`` says whether they approved this one
    (the caller looks it up); until then it is denied with ``replica_approval_pending``.
    """
    moment = as_utc(at if at is not None else use.at)
    start = max(as_utc(use.at), moment)
    deny: list[Reason] = []

    def no(code: ReasonCode, text: str) -> None:
        deny.append(Reason(code, text))

    uses = use.all_uses()
    if _is_granted_replica_use(licence, uses):
        # Only the replica grant runs past the licence's end: judge by its period.
        _judge_replica_grant(licence, use, uses, start, replica_approved, no)
        _judge_period(licence, use, start, moment, licence.valid_from, None, no)
    else:
        _judge_period(licence, use, start, moment, licence.valid_from, licence.valid_until, no)

    if state == "withdrawn":
        no(ReasonCode.CONSENT_WITHDRAWN, "the contributor withdrew consent")
    elif state == "expired":
        no(ReasonCode.CONSENT_EXPIRED, "the contributor's consent has expired")
    elif state != "active":
        no(ReasonCode.CONSENT_STATE_UNKNOWN, f"unknown consent state {state!r}")

    _judge_parties(licence, use, start, no)

    if use.action not in ACTIONS:
        no(ReasonCode.ACTION_UNKNOWN, f"unknown action {use.action!r}")
    elif use.action not in licence.permitted_actions:
        no(ReasonCode.ACTION_NOT_PERMITTED, f"the licence does not permit {use.action!r}")

    if use.purpose not in PURPOSES:
        no(ReasonCode.PURPOSE_UNKNOWN, f"unknown purpose {use.purpose!r}")
    else:
        banned = PURPOSES.matching(use.purpose, licence.prohibited_purposes)
        if banned:
            no(
                ReasonCode.PURPOSE_PROHIBITED,
                f"purpose {use.purpose!r} falls under prohibited {', '.join(banned)}",
            )
        if not PURPOSES.matching(use.purpose, licence.permitted_purposes):
            no(
                ReasonCode.PURPOSE_NOT_PERMITTED,
                f"purpose {use.purpose!r} is not among the permitted purposes",
            )

    if use.industry not in INDUSTRIES:
        no(ReasonCode.INDUSTRY_UNKNOWN, f"unknown industry {use.industry!r}")
    else:
        banned = INDUSTRIES.matching(use.industry, licence.prohibited_industries)
        if banned:
            no(
                ReasonCode.INDUSTRY_PROHIBITED,
                f"industry {use.industry!r} falls under prohibited {', '.join(banned)}",
            )
        denied = INDUSTRIES.matching(use.industry, denied_industries)
        if denied:
            no(
                ReasonCode.INDUSTRY_DENIED_BY_INSTANCE,
                f"this instance does not serve {use.industry!r} (denied: {', '.join(denied)})",
            )

    if not is_known_territory(use.territory):
        no(ReasonCode.TERRITORY_UNKNOWN, f"unknown territory {use.territory!r}")
    else:
        if not licence.worldwide and use.territory not in licence.territories:
            no(ReasonCode.TERRITORY_NOT_COVERED, f"the licence does not cover {use.territory}")
        if use.territory in licence.excluded_territories:
            no(ReasonCode.TERRITORY_EXCLUDED, f"the licence excludes {use.territory}")

    if use.task is not None and use.task not in TASKS:
        no(ReasonCode.TASK_UNKNOWN, f"unknown model task {use.task!r}")
    unknown_outputs = sorted(o for o in use.outputs if o not in OUTPUTS)
    if unknown_outputs:
        no(ReasonCode.OUTPUT_UNKNOWN, f"unknown model output(s) {', '.join(unknown_outputs)}")
    _judge_uses(licence, uses, no)

    if deny:
        return Decision(False, tuple(deny))
    return Decision(True, (Reason(ReasonCode.ALLOWED, "every term of the licence is met"),))


def _judge_period(
    licence: Licence,
    use: Use,
    start: datetime,
    moment: datetime,
    begins: datetime,
    ends: datetime | None,
    no: Any,
) -> None:
    """The use's whole period must lie in ``[begins, ends)`` (``ends`` None: not judged
    here, because the replica grant's own period is)."""
    if start < begins:
        no(ReasonCode.LICENCE_NOT_YET_VALID, f"the licence starts {begins.isoformat()}")
    if ends is None:
        return
    if moment >= ends or start >= ends:
        no(ReasonCode.LICENCE_EXPIRED, f"the licence ended {ends.isoformat()}")
    elif use.until is not None and as_utc(use.until) > ends:
        no(
            ReasonCode.LICENCE_ENDS_WITHIN_PERIOD,
            f"the licence ends {ends.isoformat()}, before the use does",
        )


def _replica_kinds(uses: Iterable[str]) -> list[str]:
    return sorted(u for u in uses if u in USES and sensitive_kind(u) == REPLICA_USE)


def _is_granted_replica_use(licence: Licence, uses: frozenset[str]) -> bool:
    """A replica use under a licence whose grant is not cancelled by a prohibition."""
    kinds = _replica_kinds(uses)
    return (
        licence.allows_replica
        and bool(kinds)
        and not any(USES.matching(k, licence.prohibited_uses) for k in kinds)
    )


def _judge_replica_grant(
    licence: Licence,
    use: Use,
    uses: frozenset[str],
    start: datetime,
    approved: bool,
    no: Any,
) -> None:
    """Every part of a replica use must be inside the grant (the medium is judged with
    the other uses, in ``_judge_uses``)."""
    kinds = _replica_kinds(uses)
    if not any(k in _MEDIA_FOR_USE for k in kinds):
        no(
            ReasonCode.REPLICA_MEDIUM_NOT_STATED,
            "the use does not say whether the replica is of the voice or the face; "
            "declare voice_cloning or face_avatar, or a task that does",
        )
    ends = licence.replica_ends_at
    if start < licence.valid_from:
        no(
            ReasonCode.REPLICA_GRANT_NOT_YET_VALID,
            f"the replica grant starts {licence.valid_from.isoformat()}",
        )
    if start >= ends:
        no(ReasonCode.REPLICA_GRANT_ENDED, f"the replica grant ended {ends.isoformat()}")
    elif use.until is not None and as_utc(use.until) > ends:
        no(
            ReasonCode.REPLICA_GRANT_ENDS_WITHIN_PERIOD,
            f"the replica grant ends {ends.isoformat()}, before the use does",
        )
    where = use.replica
    if where is None or not where.languages or not where.category or not where.channels:
        no(
            ReasonCode.REPLICA_USE_NOT_DESCRIBED,
            "a replica use must state its languages, its product category and its channels",
        )
    if where is not None:
        outside = sorted(where.languages - licence.replica_languages)
        if outside:
            no(
                ReasonCode.REPLICA_LANGUAGE_NOT_GRANTED,
                f"the replica grant does not cover language(s) {', '.join(outside)} "
                f"(it covers {', '.join(sorted(licence.replica_languages)) or 'none'})",
            )
        if where.category and where.category not in licence.replica_categories:
            no(
                ReasonCode.REPLICA_CATEGORY_NOT_GRANTED,
                f"the replica grant does not cover {where.category!r} "
                f"(it covers {', '.join(sorted(licence.replica_categories)) or 'none'})",
            )
        outside = sorted(where.channels - licence.replica_channels)
        if outside:
            no(
                ReasonCode.REPLICA_CHANNEL_NOT_GRANTED,
                f"the replica grant does not cover channel(s) {', '.join(outside)} "
                f"(it covers {', '.join(sorted(licence.replica_channels)) or 'none'})",
            )
    if licence.replica_ask_each_time and not approved:
        no(
            ReasonCode.REPLICA_APPROVAL_PENDING,
            "the contributor approves each replica use; this one waits for their approval",
        )


def _judge_parties(licence: Licence, use: Use, start: datetime, no: Any) -> None:
    """The recipient must be identified, be offered the licence, and not be kept out by
    another organisation's exclusivity overlapping the use's period."""
    recipient = use.recipient_org.id.strip()
    if not recipient:
        no(ReasonCode.RECIPIENT_UNKNOWN, "the receiving organisation is not identified")
        return
    if licence.offered_to and recipient not in licence.offered_to:
        no(
            ReasonCode.RECIPIENT_NOT_OFFERED,
            f"the licence is offered only to {', '.join(sorted(licence.offered_to))}",
        )
    if (
        licence.exclusive
        and licence.exclusive_until is not None
        and recipient != licence.exclusive_to
        and start < licence.exclusive_until
    ):
        no(
            ReasonCode.EXCLUSIVE_TO_ANOTHER,
            f"the item is exclusive to {licence.exclusive_to} until "
            f"{licence.exclusive_until.isoformat()}",
        )


def _judge_uses(licence: Licence, uses: frozenset[str], no: Any) -> None:
    """Unknown uses deny; prohibited ones deny; sensitive ones deny unless permitted."""
    unknown_uses = sorted(u for u in uses if u not in USES)
    if unknown_uses:
        no(ReasonCode.USE_UNKNOWN, f"unknown use(s) {', '.join(unknown_uses)}")
    replica_denied = False
    for kind in sorted(u for u in uses if u in USES):
        banned = USES.matching(kind, licence.prohibited_uses)
        if banned:
            no(
                ReasonCode.USE_PROHIBITED,
                f"use {kind!r} falls under prohibited {', '.join(banned)}",
            )
        sensitive = sensitive_kind(kind)
        if sensitive == REPLICA_USE:
            replica_denied = replica_denied or not licence.allows_replica
            granted = _MEDIA_FOR_USE.get(kind)
            if (
                licence.allows_replica
                and granted
                and not banned
                and not granted & licence.replica_media
            ):
                # A voice grant never allows a face avatar, and the other way round.
                no(
                    ReasonCode.REPLICA_MEDIUM_NOT_GRANTED,
                    f"use {kind!r} needs a replica grant for "
                    f"{' or '.join(sorted(granted))}; the licence grants "
                    f"{', '.join(sorted(licence.replica_media))}",
                )
        elif (
            sensitive is not None and not banned and not USES.matching(kind, licence.permitted_uses)
        ):
            no(
                ReasonCode.SENSITIVE_USE_NOT_PERMITTED,
                f"use {kind!r} is sensitive and the licence does not permit it by name",
            )
    if replica_denied:
        no(ReasonCode.REPLICA_NOT_PERMITTED, "the licence does not permit a digital replica")
