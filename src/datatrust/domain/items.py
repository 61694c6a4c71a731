"""Items: one contribution (photo, video, audio, voice, call, chat) and its artefacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import utcnow
from datatrust.domain.consent import ConsentState
from datatrust.domain.errors import Conflict, Problem


class ItemKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    AMBIENT = "ambient"
    VOICE = "voice"
    CALL = "call"
    CHAT = "chat"


class ItemStatus(StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    PROCESSED = "processed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    LISTED = "listed"
    WITHDRAWN = "withdrawn"


# Where an item may return when its contributor gives consent again after withdrawing it:
# the statuses of an item whose checks finished and passed. One withdrawn while it was
# still being checked (its processing job found it withdrawn and did nothing), or before
# migration 0031 without a de-identified version (``withdrawn_from`` None), is checked
# again instead, from ``received``; a rejected one may never be offered.
RESTORABLE = frozenset({ItemStatus.PROCESSED, ItemStatus.ACCEPTED, ItemStatus.LISTED})
# Where its de-identified version is what ships (checked and passed, not rejected or
# withdrawn): what the pipeline missed in it can still be marked and removed.
SHIPPING = RESTORABLE

# An item's file name once it was deleted by its owner or erased with their account (its
# sealed name is gone; the row stays for the ledger and buyers' deletion duties).
ERASED_FILENAME = "erased"


class ReviewState(StrEnum):
    """Where a campaign item's review stands (None on an item no campaign reviews)."""

    WAITING = "waiting"  # for its reviewers, until its review window ends
    # Accepted by its review window, but escrow cannot pay it yet: it waits for the buyer
    # to top up, and a later auto-approval run settles it.
    WAITING_FOR_ESCROW = "waiting_for_escrow"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# Not decided yet: what a reviewer may still vote on and auto-approval settles when due.
UNDECIDED_REVIEWS = frozenset({ReviewState.WAITING, ReviewState.WAITING_FOR_ESCROW})


class ReviewDecider(StrEnum):
    """Who decided a campaign item's review."""

    OPERATOR = "operator"  # an operator's vote (operator-reviewed campaigns, or any vote)
    PEERS = "peers"  # enough peer votes (``campaigns.peer_verdict``)
    REVIEW_WINDOW = "review_window"  # nobody decided before the window ended: accepted


# Still in the pipeline's first checks: its processing job would write to an item changed
# or deleted under it, so it cannot be deleted yet.
BEING_CHECKED = frozenset({ItemStatus.RECEIVED, ItemStatus.VALIDATED})


# The item lifecycle (DESIGN.md, issue 4): received → validated → processed → accepted or
# rejected → listed. A review may still reject an accepted item; withdrawal ends any state,
# and consent given again returns a checked item to the state it had (``Item.restore``).
TRANSITIONS: dict[ItemStatus, frozenset[ItemStatus]] = {
    ItemStatus.RECEIVED: frozenset({ItemStatus.VALIDATED, ItemStatus.REJECTED}),
    ItemStatus.VALIDATED: frozenset({ItemStatus.PROCESSED, ItemStatus.REJECTED}),
    ItemStatus.PROCESSED: frozenset({ItemStatus.ACCEPTED, ItemStatus.REJECTED}),
    ItemStatus.ACCEPTED: frozenset({ItemStatus.LISTED, ItemStatus.REJECTED}),
    ItemStatus.REJECTED: frozenset(),
    ItemStatus.LISTED: frozenset(),
    ItemStatus.WITHDRAWN: frozenset(),
}


@dataclass(frozen=True)
class SelectionGroup:
    """Candidate items sharing everything a selection decision depends on, and how many.

    ``consent_state`` and ``consent_offer_id`` are the item's mirror of its consent record
    (``None``: no consent was ever given for it).
    """

    status: str
    licence_id: int | None
    consent_offer_id: int | None
    consent_state: str | None
    count: int


@dataclass(frozen=True)
class CatalogueEntry:
    """What the catalogue shows of an item on offer, read from its columns alone."""

    id: int
    kind: ItemKind
    licence_id: int | None
    language: str | None
    quality_score: float | None
    h3_cell: str | None
    duration_seconds: int | None

    @classmethod
    def of(cls, item: Item) -> CatalogueEntry:
        return cls(
            item.id or 0,
            item.kind,
            item.licence_id,
            item.language,
            item.quality_score,
            item.h3_cell,
            item.duration_seconds,
        )


@dataclass(frozen=True)
class CatalogueFilter:
    """What a catalogue search narrows the items on offer by (None or empty: not
    narrowed): the kind, the language, a range of durations in seconds (an item with no
    duration counts as 0 s), the least quality score (an item without one is left out),
    an area as ranges of H3 cell strings (``pipeline.regions.cell_ranges``; an item
    without a cell is left out, and an empty tuple admits none) and the licence offers
    whose price the search admits (``licence_ids``; the price is in each offer's terms,
    judged per offer, not per item). ``admits`` is the rule; ``ItemSelection.entries``
    applies it in the database."""

    kind: str | None = None
    language: str | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    min_quality: float | None = None
    cells: tuple[tuple[str, str], ...] | None = None
    licence_ids: frozenset[int] | None = None

    def admits(self, entry: CatalogueEntry) -> bool:
        duration = entry.duration_seconds or 0
        quality = entry.quality_score
        cell = entry.h3_cell
        return (
            (not self.kind or entry.kind.value == self.kind)
            and (not self.language or entry.language == self.language)
            and (self.min_duration is None or duration >= self.min_duration)
            and (self.max_duration is None or duration <= self.max_duration)
            and (self.min_quality is None or (quality is not None and quality >= self.min_quality))
            and (
                self.cells is None
                or (cell is not None and any(low <= cell <= high for low, high in self.cells))
            )
            and (self.licence_ids is None or entry.licence_id in self.licence_ids)
        )


def report_language(report: Mapping[str, Any] | None) -> str | None:
    """The language (BCP 47) a processing report names, or the campaign's part of it."""
    report = report or {}
    campaign = report.get("campaign")
    value = report.get("language") or (
        campaign.get("language") if isinstance(campaign, Mapping) else None
    )
    return value if isinstance(value, str) else None


def report_quality_score(report: Mapping[str, Any] | None) -> float | None:
    """The quality score a processing report names (``report["quality"]["score"]``)."""
    quality = (report or {}).get("quality") or {}
    score = quality.get("score") if isinstance(quality, Mapping) else None
    return float(score) if isinstance(score, int | float) else None


@dataclass(eq=False)
class Item:
    owner_id: int
    kind: ItemKind
    filename: str
    content_type: str
    size: int
    original_key: str
    original_sha256: str
    status: ItemStatus = ItemStatus.RECEIVED
    title: str = ""
    campaign_id: int | None = None
    deidentified_key: str | None = None
    deidentified_sha256: str | None = None
    h3_cell: str | None = None
    duration_seconds: int | None = None
    report: dict[str, Any] = field(default_factory=dict)
    # The licence offer the item is offered under, and the consent record that lets it be
    # used; both None until the contributor attaches a licence and gives consent.
    licence_id: int | None = None
    consent_id: int | None = None
    # Mirrors of that consent record's offer and state, set only by services.consent in
    # the transaction that gives or changes the consent (None: no consent). Selections read
    # these instead of joining a million consent records.
    consent_offer_id: int | None = None
    consent_state: ConsentState | None = None
    # A campaign item's review (None: no campaign reviews it) and when its review window
    # ends: work not reviewed by then is accepted (DESIGN.md §5). Columns, indexed
    # together, so auto-approval finds the overdue ones without reading any report.
    review_state: ReviewState | None = None
    review_due: datetime | None = None
    # The status the item had when its consent was withdrawn (None while it is not
    # withdrawn): consent given again returns it there (``reconsent_problem``, ``restore``).
    withdrawn_from: ItemStatus | None = None
    # The rest of a campaign item's review, typed (migration 0032 moved them out of
    # report["campaign"]; the owner's view shows them there still). The pay terms the
    # pipeline accepted it under: its rate per unit (None: the campaign's) and the coverage
    # bonus promised to it (None: its campaign pays none for its kind; 0: its cell was
    # covered already). Then who decided, what acceptance paid for the work and the bonus
    # paid apart (None: no separate bonus entry), and what escrow lacked while it waits
    # for escrow.
    terms_rate_minor: int | None = None
    terms_bonus_minor: int | None = None
    reviewed_by: ReviewDecider | None = None
    paid_minor: int | None = None
    bonus_paid_minor: int | None = None
    escrow_shortfall_minor: int | None = None
    # What a catalogue search filters by, read from the processing report into columns
    # (migration 0034) so that the database filters: the language it names (BCP 47) and
    # its quality score. Never set apart from the report: making the item and
    # ``write_report`` set them from the report they come from.
    language: str | None = field(init=False, default=None)
    quality_score: float | None = field(init=False, default=None)
    # Perceptual and exact fingerprints, kept for near-duplicate checks against new items:
    # {"sha256_output", "phash" | "frame_phashes" | "audio": {"engine", "value"}}.
    fingerprints: dict[str, Any] | None = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    id: int | None = None

    def __post_init__(self) -> None:
        self.write_report(self.report)

    def write_report(self, report: dict[str, Any]) -> None:
        """Its processing report becomes ``report``; the columns read from it follow."""
        self.report = report
        self.language = report_language(report)
        self.quality_score = report_quality_score(report)

    @property
    def being_checked(self) -> bool:
        """Still in the pipeline's first checks (``BEING_CHECKED``): not deletable yet."""
        return self.status in BEING_CHECKED

    @property
    def ships(self) -> bool:
        """Checked and passed, neither rejected nor withdrawn (``SHIPPING``): what ships
        of it may still change, so its owner may mark what the pipeline missed."""
        return self.status in SHIPPING

    @property
    def consent_step(self) -> str | None:
        """What its owner can do about consent now: ``"give"`` (none given yet, and not
        rejected), ``"give_again"`` (withdrawn, and ``reconsent_problem`` is None),
        ``"withdraw"`` (consent given), or None (nothing: rejected, or withdrawn for
        good)."""
        if self.status is ItemStatus.WITHDRAWN:
            return "give_again" if self.reconsent_problem() is None else None
        if self.consent_id is not None:
            return "withdraw"
        return None if self.status is ItemStatus.REJECTED else "give"

    @property
    def shipped_content_type(self) -> str:
        """The content type of what ships (the de-identified version: a re-encoded video
        is MP4, a call whose other side has not confirmed ships only a text transcript);
        the upload's own type when processing recorded none."""
        output = (self.report or {}).get("output") or {}
        return output.get("content_type") or self.content_type

    @property
    def shipped_format(self) -> str | None:
        """The de-identified version's format (``mp4``, ``txt``, ``jpeg`` …), if recorded."""
        return ((self.report or {}).get("output") or {}).get("format")

    def move_to(self, status: ItemStatus) -> None:
        """Advance along ``TRANSITIONS``; any other move raises ``Conflict`` naming both
        states (withdrawal is allowed from every state but itself)."""
        allowed = TRANSITIONS[self.status]
        if status is ItemStatus.WITHDRAWN and self.status is not ItemStatus.WITHDRAWN:
            allowed = allowed | {ItemStatus.WITHDRAWN}
        if status not in allowed:
            raise Conflict(
                Problem(None, "item.state_change", {"state": self.status.value, "to": status.value})
            )
        if status is ItemStatus.LISTED and not self.deidentified_key:
            # A listed item is one a buyer may pay for: it must have something to deliver.
            raise Conflict(Problem(None, "item.nothing_to_list", {"item": self.id}))
        self.status = status
        self.updated_at = utcnow()

    def withdraw(self) -> None:
        """Consent withdrawn: out of every selection at once, remembering the status to
        return to if consent is given again (withdrawing twice keeps the first)."""
        if self.status is not ItemStatus.WITHDRAWN:
            self.withdrawn_from = self.status
            self.status = ItemStatus.WITHDRAWN
        self.updated_at = utcnow()

    def reconsent_problem(self) -> Problem | None:
        """Why consent cannot be given again for this item (None: it can): it is not
        withdrawn, it was deleted (its files are gone), or it was rejected (by its checks
        or a review; one withdrawn before migration 0031 says so in its report or review
        state). Whether its original is still stored, which an item that must be checked
        again (``needs_checks``) depends on, is the service's to ask."""
        params = {"item": self.id}
        if self.filename == ERASED_FILENAME:
            return Problem(None, "consent_again.erased", params)
        if self.status is not ItemStatus.WITHDRAWN:
            return Problem(None, "consent_again.not_withdrawn", params)
        rejected_before_0031 = self.withdrawn_from is None and (
            self.review_state is ReviewState.REJECTED
            or (self.report or {}).get("verdict") == "rejected"
        )
        if self.withdrawn_from is ItemStatus.REJECTED or rejected_before_0031:
            return Problem(None, "consent_again.rejected", params)
        return None

    @property
    def needs_checks(self) -> bool:
        """Withdrawn before its checks finished and passed (``RESTORABLE``): consent given
        again sends it through them again, as a fresh upload."""
        return self.status is ItemStatus.WITHDRAWN and self.withdrawn_from not in RESTORABLE

    def restore(self) -> None:
        """Consent was given again (``reconsent_problem`` must be None): back to the status
        it had when consent was withdrawn, or, where it ``needs_checks``, to ``received``
        (its processing job must be queued again by the caller): being checked, it ends
        accepted or rejected like a fresh upload."""
        problem = self.reconsent_problem()
        if problem is not None:
            raise Conflict(problem)
        again = ItemStatus.RECEIVED if self.needs_checks else self.withdrawn_from
        assert again is not None
        self.status, self.withdrawn_from = again, None
        self.updated_at = utcnow()
