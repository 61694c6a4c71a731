"""Campaigns: a buyer's (or the platform's) call for a kind of data, with a spec, a rate, a
quota and a review mode; plus peer-review votes and the coverage rule for ambient audio.

Pure Python: no I/O. Money is integer minor units plus a currency (``Money``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict, InvalidInput, Problem
from datatrust.domain.items import ItemKind
from datatrust.domain.licence import TEMPLATES
from datatrust.domain.money import Money


class CampaignState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAUSED = "paused"  # by the people who run it: no new work until they open it again
    CLOSED = "closed"


class ReviewMode(StrEnum):
    PEER = "peer"
    OPERATOR = "operator"


class PayBasis(StrEnum):
    PER_ITEM = "per_item"
    PER_MINUTE = "per_minute"


CAMPAIGN_TRANSITIONS: dict[CampaignState, frozenset[CampaignState]] = {
    CampaignState.DRAFT: frozenset({CampaignState.OPEN, CampaignState.CLOSED}),
    CampaignState.OPEN: frozenset({CampaignState.PAUSED, CampaignState.CLOSED}),
    CampaignState.PAUSED: frozenset({CampaignState.OPEN, CampaignState.CLOSED}),
    CampaignState.CLOSED: frozenset(),
}
# Each move of CAMPAIGN_TRANSITIONS under the name the people who run a campaign take it
# by (a route and a button each): open a draft, pause an open campaign, open a paused one
# again, close one not closed yet.
CAMPAIGN_MOVES: dict[str, dict[CampaignState, CampaignState]] = {
    "open": {CampaignState.DRAFT: CampaignState.OPEN},
    "pause": {CampaignState.OPEN: CampaignState.PAUSED},
    "resume": {CampaignState.PAUSED: CampaignState.OPEN},
    "close": {
        state: CampaignState.CLOSED for state in CampaignState if state is not CampaignState.CLOSED
    },
}
# What only an approved organisation may do with its campaigns: put money in, and open
# them to work. A suspended or rejected one may still pause and close (closing returns
# what escrow holds beyond the work still waiting), so it can always stop and be repaid.
NEEDS_APPROVED_ORG = frozenset({"fund", "open", "resume"})

# Spec fields a campaign may set, and their types. Anything else is refused by name.
SPEC_FIELDS: dict[str, type | tuple[type, ...]] = {
    "min_duration_s": (int, float),
    "max_duration_s": (int, float),
    "min_width": int,
    "min_height": int,
    "language": str,
    "prompts": list,
    "h3_cells": list,
    "city": str,
    "capture_only": bool,
}
MAX_QUOTA = 1_000_000
MAX_REVIEW_WINDOW_DAYS = 90
PEER_MIN_UP_VOTES = 2


def check_spec(kind: ItemKind, spec: dict[str, Any]) -> list[Problem]:
    """Every problem with a campaign spec (empty when fine)."""
    problems: list[Problem] = []
    for name, value in spec.items():
        expected = SPEC_FIELDS.get(name)
        if expected is None:
            problems.append(
                Problem(f"spec.{name}", "spec.unknown_field", {"known": list(SPEC_FIELDS)})
            )
        elif isinstance(value, bool) and expected is not bool:
            problems.append(Problem(f"spec.{name}", "spec.not_a_number"))
        elif not isinstance(value, expected):
            problems.append(Problem(f"spec.{name}", "spec.wrong_type"))
    lo, hi = spec.get("min_duration_s"), spec.get("max_duration_s")
    if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
        problems.append(Problem("spec", "spec.min_above_max"))
    for name in ("min_duration_s", "max_duration_s", "min_width", "min_height"):
        value = spec.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            problems.append(Problem(f"spec.{name}", "not_negative"))
    if any(not isinstance(c, str) or not c for c in spec.get("h3_cells", []) or []):
        problems.append(Problem("spec.h3_cells", "spec.h3_cells"))
    if kind in (ItemKind.PHOTO, ItemKind.CHAT) and (
        "min_duration_s" in spec or "max_duration_s" in spec
    ):
        problems.append(Problem("spec", "spec.no_duration", {"kind": kind.value}))
    return problems


@dataclass(eq=False)
class Campaign:
    """``org_id`` is the buyer organisation that runs it; None for a platform campaign made
    by an operator. ``rate_minor`` is paid per accepted item or per accepted minute
    (``pay_basis``); ``coverage_bonus_minor`` is added for an ambient item from an H3 cell
    that had no accepted coverage yet."""

    created_by: int
    title: str
    kind: ItemKind
    pay_basis: PayBasis
    rate_minor: int
    currency: str
    quota: int
    org_id: int | None = None
    description: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    review_window_days: int = 7
    # A template from domain.licence: the task page explains it and accepting the task
    # makes the contributor's offer from it, so it must be one the licences know.
    licence_template: str = "training_only"
    review_mode: ReviewMode = ReviewMode.PEER
    coverage_bonus_minor: int = 0
    state: CampaignState = CampaignState.DRAFT
    created_at: datetime = field(default_factory=utcnow)
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        problems = check_campaign(self)
        if problems:
            raise InvalidInput(problems)

    @property
    def rate(self) -> Money:
        return Money(self.rate_minor, self.currency)

    def in_report(self) -> dict[str, Any]:
        """What an item's report shows of the campaign that accepted it (its owner's
        view, under ``report["campaign"]``): which campaign, how it reviews and pays.
        Built from the campaign (these never change once it is made) rather than kept in
        each report (migration 0035 took the copies out)."""
        part: dict[str, Any] = {
            "id": self.id,
            "review_mode": self.review_mode.value,
            "currency": self.currency,
            "pay_basis": self.pay_basis.value,
        }
        if self.review_mode is ReviewMode.OPERATOR:
            part["review_queue"] = "operator"
        return part

    @property
    def coverage_bonus(self) -> Money:
        return Money(self.coverage_bonus_minor, self.currency)

    @property
    def manager(self) -> CampaignManager:
        """What the permission policy checks for managing it: the running organisation,
        or none (-1) for platform campaigns, which only operators manage."""
        return CampaignManager(self.org_id if self.org_id is not None else -1)

    @property
    def actions(self) -> tuple[str, ...]:
        """What the people who run it may do from its state, in the order its page offers
        them: fund its escrow until it closes, then each move its state allows
        (``CAMPAIGN_MOVES``)."""
        funding = () if self.finished else ("fund",)
        return funding + tuple(
            name for name, moves in CAMPAIGN_MOVES.items() if self.state in moves
        )

    def actions_while(self, org_approved: bool) -> tuple[str, ...]:
        """``actions`` as the organisation running it may take them now: all of them while
        it is approved (or for a platform campaign), else none of ``NEEDS_APPROVED_ORG``
        (a suspended or rejected organisation may still pause and close)."""
        if org_approved:
            return self.actions
        return tuple(a for a in self.actions if a not in NEEDS_APPROVED_ORG)

    @property
    def finished(self) -> bool:
        """Closed: no move leaves its state."""
        return not CAMPAIGN_TRANSITIONS[self.state]

    def allow(self, action: str) -> CampaignState:
        """The state the move ``action`` (a name of ``CAMPAIGN_MOVES``) leads to from this
        one; ``Conflict`` when its state does not allow that move."""
        moves = CAMPAIGN_MOVES[action]
        if self.state not in moves:
            to = next(iter(moves.values()))
            params = {"state": self.state.value, "to": to.value}
            raise Conflict(Problem(None, "campaign.state_change", params))
        return moves[self.state]

    def move_to(self, state: CampaignState, now: datetime | None = None) -> None:
        if state not in CAMPAIGN_TRANSITIONS[self.state]:
            raise Conflict(
                Problem(
                    None,
                    "campaign.state_change",
                    {"state": self.state.value, "to": state.value},
                )
            )
        self.state = state
        if state is CampaignState.OPEN and self.opened_at is None:  # not again on resuming
            self.opened_at = now or utcnow()
        elif state is CampaignState.CLOSED:
            self.closed_at = now or utcnow()

    def media_overrides(self) -> dict[str, dict[str, Any]]:
        """The campaign's spec as ``MediaSpec.from_campaign`` overrides."""
        limits: dict[str, Any] = {}
        quality: dict[str, Any] = {}
        if "min_duration_s" in self.spec:
            quality["min_duration_s"] = float(self.spec["min_duration_s"])
        if "max_duration_s" in self.spec:
            limits["max_duration_s"] = float(self.spec["max_duration_s"])
        if "min_width" in self.spec:
            quality["min_width"] = int(self.spec["min_width"])
        if "min_height" in self.spec:
            quality["min_height"] = int(self.spec["min_height"])
        return {k: v for k, v in (("limits", limits), ("quality", quality)) if v}


@dataclass(frozen=True)
class CampaignManager:
    org_id: int


def check_campaign(c: Campaign) -> list[Problem]:
    problems: list[Problem] = []
    if not c.title.strip() or len(c.title) > 200:
        problems.append(Problem("title", "campaign.title", {"maximum": 200}))
    if type(c.rate_minor) is not int or c.rate_minor < 0:
        problems.append(Problem("rate_minor", "minor_units"))
    if type(c.coverage_bonus_minor) is not int or c.coverage_bonus_minor < 0:
        problems.append(Problem("coverage_bonus_minor", "minor_units"))
    if type(c.quota) is not int or not 1 <= c.quota <= MAX_QUOTA:
        problems.append(Problem("quota", "between", {"minimum": 1, "maximum": MAX_QUOTA}))
    if type(c.review_window_days) is not int or not 1 <= c.review_window_days <= 90:
        limits = {"minimum": 1, "maximum": MAX_REVIEW_WINDOW_DAYS}
        problems.append(Problem("review_window_days", "between", limits))
    if c.licence_template not in TEMPLATES:
        choices = {"choices": sorted(TEMPLATES)}
        problems.append(Problem("licence_template", "one_of", choices))
    if c.coverage_bonus_minor and c.kind is not ItemKind.AMBIENT:
        problems.append(Problem("coverage_bonus_minor", "campaign.coverage_ambient_only"))
    if c.pay_basis is PayBasis.PER_MINUTE and c.kind in (ItemKind.PHOTO, ItemKind.CHAT):
        problems.append(Problem("pay_basis", "campaign.no_minutes", {"kind": c.kind.value}))
    longest = c.spec.get("max_duration_s")
    if c.pay_basis is PayBasis.PER_MINUTE and (
        isinstance(longest, bool) or not isinstance(longest, int | float) or longest <= 0
    ):
        problems.append(Problem("spec.max_duration_s", "campaign.per_minute_needs_longest"))
    try:
        Money(c.rate_minor if type(c.rate_minor) is int else 0, c.currency)
    except InvalidInput as exc:
        problems += [p.at("currency") for p in exc.problems]
    problems.extend(check_spec(c.kind, c.spec))
    return problems


def units_per_item(campaign: Campaign) -> int:
    """The most pay units one item can earn: 1 per item, or the longest allowed recording
    in whole minutes (rounded up) for a per-minute campaign."""
    if campaign.pay_basis is PayBasis.PER_ITEM:
        return 1
    # check_campaign refuses a new one without it; this guards campaigns stored before.
    longest = campaign.spec.get("max_duration_s")
    if not isinstance(longest, int | float) or longest <= 0:
        raise InvalidInput(Problem("spec.max_duration_s", "campaign.per_minute_needs_longest"))
    return -(-int(longest) // 60)


@dataclass(eq=False)
class ReviewVote:
    """One reviewer's verdict on one item. A reviewer votes once per item (unique)."""

    item_id: int
    campaign_id: int
    reviewer_id: int
    up: bool
    note: str = ""
    created_at: datetime = field(default_factory=utcnow)
    id: int | None = None


@dataclass(frozen=True)
class VoteTally:
    """The votes one item received so far."""

    up: int = 0
    down: int = 0


def peer_verdict(up: int, down: int) -> str | None:
    """``accept`` when at least two up-votes and more up than down; ``reject`` when at
    least two down-votes and more down than up (the mirror rule, so a bad item does not
    wait forever); otherwise None (keep waiting for votes)."""
    if up >= PEER_MIN_UP_VOTES and up > down:
        return "accept"
    if down >= PEER_MIN_UP_VOTES and down > up:
        return "reject"
    return None


def coverage_gap(cell: str | None, covered: dict[str, int]) -> bool:
    """True when an item from ``cell`` would be the first accepted coverage of it."""
    return bool(cell) and covered.get(cell or "", 0) == 0


@dataclass(eq=False)
class CampaignPayTerms:
    """A campaign's pay-floor terms and state (one row per campaign, keyed by its id).

    ``expected_minutes_per_item`` is the effort the campaign states per unit of pay (an
    item, or a recorded minute for ``per_minute`` campaigns); ``country`` picks an
    operator-set floor (``Settings.pay_floor_by_country``). Once enough submissions are
    measured the floor is rechecked (``rechecked_at``); when the measured rate falls short
    the campaign is ``paused_at`` until escrow covers ``required_rate_minor``.
    """

    campaign_id: int
    expected_minutes_per_item: int
    country: str | None = None
    rechecked_at: datetime | None = None
    measured_submissions: int | None = None
    median_effort_seconds: int | None = None
    required_rate_minor: int | None = None
    paused_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


@dataclass(eq=False)
class TaskStart:
    """A contributor started working on a campaign's task (the clock for measured effort:
    task start → upload)."""

    campaign_id: int
    user_id: int
    started_at: datetime = field(default_factory=utcnow)
    item_id: int | None = None  # the submission it measured, once the upload arrived
    id: int | None = None
