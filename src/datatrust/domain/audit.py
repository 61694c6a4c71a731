"""The audit log's rules: a closed list of tags, a hash chain, its head and checkpoints.

Each event's hash covers its own fields and the hash of the event before it, so changing,
removing or reordering any stored event breaks every hash after it.

The chain alone cannot stop whoever holds the database: they can delete the last events,
or rewrite one and recompute every later hash. Two things catch that:

- the *head* (count and last hash, kept in its own row and updated with every append) is
  compared with the stored events, so deleting the newest events without also rewinding
  the head is caught;
- *checkpoints*: the instance signs (Ed25519) the count and the head hash at a moment and
  hands them out (an anonymous endpoint, every snapshot). Anyone holding one can later
  prove the log still has at least that many events and that event ``count`` still has
  that hash, i.e. nothing up to it was removed or rewritten. The signature means an
  operator cannot mint an old checkpoint to match a rewritten log without the signing key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from datatrust.domain.clock import as_utc
from datatrust.domain.errors import InvalidInput, Problem

GENESIS_HASH = "0" * 64


class AuditTag(StrEnum):
    ACCOUNT_SIGN_UP = "account:sign_up"
    ACCOUNT_SIGN_IN = "account:sign_in"
    ACCOUNT_SIGN_IN_FAILED = "account:sign_in_failed"
    ACCOUNT_SIGN_UP_REQUEST = "account:sign_up_request"
    ACCOUNT_TOTP_ENABLE = "account:totp_enable"
    ACCOUNT_TOTP_DISABLE = "account:totp_disable"
    ACCOUNT_RECOVERY_CODE_USE = "account:recovery_code_use"
    ACCOUNT_ERASE = "account:erase"
    ACCOUNT_PASSWORD_RESET_REQUEST = "account:password_reset_request"
    ACCOUNT_PASSWORD_RESET = "account:password_reset"
    ACCOUNT_PASSWORD_CHANGE = "account:password_change"
    ACCOUNT_PROFILE_UPDATE = "account:profile_update"
    TOKEN_CREATE = "token:create"
    TOKEN_REVOKE = "token:revoke"
    ORG_CREATE = "org:create"
    ORG_APPROVE = "org:approve"
    ORG_REJECT = "org:reject"
    ORG_SUSPEND = "org:suspend"
    ORG_MEMBER_ADD = "org:member_add"
    ITEM_CREATE = "item:create"
    ITEM_PROCESS = "item:process"
    ITEM_ACCEPT = "item:accept"
    ITEM_REJECT = "item:reject"
    ITEM_LIST = "item:list"
    ITEM_ACCESS = "item:access"
    ITEM_SELECT = "item:select"
    ITEM_SELL = "item:sell"
    ITEM_REVIEW = "item:review"
    ITEM_REPROCESS = "item:reprocess"
    ITEM_RECHECK = "item:recheck"  # consent given again: sent through its checks again
    ITEM_MARK_MISSED = "item:mark_missed"
    ITEM_DELETE = "item:delete"
    PARTICIPANT_INVITE = "participant:invite"
    PARTICIPANT_CONFIRM = "participant:confirm"
    PARTICIPANT_DECLINE = "participant:decline"
    CAMPAIGN_CREATE = "campaign:create"
    CAMPAIGN_OPEN = "campaign:open"
    CAMPAIGN_CLOSE = "campaign:close"
    UPLOAD_START = "upload:start"
    UPLOAD_TERMINATE = "upload:terminate"
    LICENCE_CREATE = "licence:create"
    LICENCE_ATTACH = "licence:attach"
    LICENCE_REVISE = "licence:revise"
    LICENCE_SET_DEFAULT = "licence:set_default"
    # Per-use approval of a replica use (issue 16 §3).
    REPLICA_REQUEST = "replica:request"
    REPLICA_APPROVE = "replica:approve"
    REPLICA_REFUSE = "replica:refuse"
    CONSENT_GIVE = "consent:give"
    CONSENT_GIVE_AGAIN = "consent:give_again"  # a new consent after a withdrawal
    CONSENT_WITHDRAW = "consent:withdraw"
    CONSENT_EXPIRE = "consent:expire"
    CONSENT_RENEW = "consent:renew"
    CONSENT_RECEIPT = "consent:receipt"  # a new receipt: the record's recipients changed
    PERSONAL_DATA_EXPORT = "personal_data:export"
    KEY_DESTROY = "key:destroy"
    SNAPSHOT_BUILD = "snapshot:build"
    SNAPSHOT_DELIVER = "snapshot:deliver"
    SNAPSHOT_DOWNLOAD = "snapshot:download"
    SAMPLE_ACCESS = "sample:access"
    REVOCATION_NOTIFY = "revocation:notify"
    DELETION_ATTEST = "deletion:attest"
    # Buyers, orders, snapshots and revocation (issue 5).
    BUYER_REFUSE = "buyer:refuse"
    ORDER_DECLARE = "order:declare"
    ORDER_REFUSE = "order:refuse"
    ORDER_PURCHASE = "order:purchase"
    SNAPSHOT_REFUSE = "snapshot:refuse"
    REVOCATION_ACKNOWLEDGE = "revocation:acknowledge"
    REVOCATION_OVERDUE = "revocation:overdue"
    # Consent given again under the same licence within a buyer's promised notice: the
    # withdrawal never took effect for that buyer, and its notice is superseded.
    REVOCATION_SUPERSEDE = "revocation:supersede"
    DELETION_REFUSE = "deletion:refuse"
    OPERATOR_NOTIFY = "operator:notify"
    JOB_FAIL = "job:fail"
    LEDGER_POST = "ledger:post"
    FUNDS_DEPOSIT = "funds:deposit"
    ESCROW_FUND = "escrow:fund"
    ESCROW_PAY = "escrow:pay"
    ESCROW_RELEASE = "escrow:release"
    SALE_RECORD = "sale:record"
    PAYOUT_REQUEST = "payout:request"
    PAYOUT_SETTLE = "payout:settle"
    PAYOUT_FAIL = "payout:fail"
    PAYOUT_METHOD_ADD = "payout:method_add"
    PAYOUT_METHOD_REMOVE = "payout:method_remove"
    FX_RATE_SET = "fx:rate_set"
    # Pay floor recheck and coverage bonuses (issue 6).
    TASK_START = "task:start"
    PAYFLOOR_RECHECK = "payfloor:recheck"
    PAYFLOOR_TOPUP = "payfloor:topup"
    CAMPAIGN_PAUSE = "campaign:pause"
    CAMPAIGN_RESUME = "campaign:resume"
    COVERAGE_BONUS = "coverage:bonus"
    INSTANCE_UPDATE = "instance:update"
    # The incident register (issue 14 §6).
    INCIDENT_OPEN = "incident:open"
    INCIDENT_AFFECT = "incident:affect"  # one per item touched: the item's passport shows it
    INCIDENT_NOTIFY = "incident:notify"
    INCIDENT_REMIND = "incident:remind"
    INCIDENT_REPORT = "incident:report"
    INCIDENT_CLOSE = "incident:close"
    # Pushed withdrawal notices (issue 17 §2).
    WEBHOOK_REGISTER = "webhook:register"
    WEBHOOK_REMOVE = "webhook:remove"
    WEBHOOK_REFUSE = "webhook:refuse"
    # Misuse tracing (issue 17 §3).
    MISUSE_TRACE = "misuse:trace"
    MISUSE_REPORT = "misuse:report"


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_hash(prev_hash: str, seq: int, at: datetime, record_fields: dict[str, Any]) -> str:
    """The hash that commits event ``seq`` to its content and its predecessor."""
    body = {"prev": prev_hash, "seq": seq, "at": as_utc(at).isoformat(), **record_fields}
    return hashlib.sha256(canonical(body)).hexdigest()


def record_fields(
    tag: str, actor: str, subject_type: str, subject_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "tag": str(tag),
        "actor": actor,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "data": data,
    }


@dataclass(eq=False)
class AuditEvent:
    """A stored event: its place in the chain, its content, and the hashes that bind it."""

    seq: int
    at: datetime
    tag: str
    actor: str
    subject_type: str
    subject_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a reader of the log is shown of one event (a passport's line): its place in
    the chain, what happened, who did it, and the hash to check it by; read as a row,
    never loaded as a mapped ``AuditEvent``."""

    seq: int
    at: datetime
    tag: str
    actor: str
    data: dict[str, Any]
    hash: str


CHECKPOINT_TYPE = "datatrust-audit-checkpoint/1"


@dataclass(frozen=True)
class ChainHead:
    """What the head row says: how many events there are and the last one's hash."""

    seq: int
    hash: str


def append_to_chain(
    head: ChainHead, at: datetime, records: Sequence[dict[str, Any]]
) -> list[AuditEvent]:
    """The events that append ``records`` (each from ``record_fields``) after ``head``,
    numbered on from its ``seq`` and each hash binding its predecessor's."""
    events: list[AuditEvent] = []
    seq, prev = head.seq, head.hash
    for fields in records:
        seq += 1
        digest = event_hash(prev, seq, at, fields)
        events.append(AuditEvent(seq=seq, at=at, prev_hash=prev, hash=digest, **fields))
        prev = digest
    return events


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "at ``at`` the log held ``count`` events, the last hashing to
    ``head``" (``head`` is ``GENESIS_HASH`` for an empty log)."""

    count: int
    head: str
    at: datetime

    def claims(self) -> dict[str, Any]:
        return {
            "typ": CHECKPOINT_TYPE,
            "count": self.count,
            "head": self.head,
            "at": as_utc(self.at).isoformat(),
            "iat": int(self.at.timestamp()),
        }

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Checkpoint:
        """Read verified claims back; ``InvalidInput`` naming what is wrong otherwise."""
        if claims.get("typ") != CHECKPOINT_TYPE:
            raise InvalidInput(Problem("typ", "checkpoint.type", {"expected": CHECKPOINT_TYPE}))
        count, head = claims.get("count"), claims.get("head")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidInput(Problem("count", "checkpoint.count"))
        if not isinstance(head, str) or len(head) != 64:
            raise InvalidInput(Problem("head", "checkpoint.head"))
        try:
            at = datetime.fromisoformat(str(claims.get("at")))
        except ValueError:
            raise InvalidInput(Problem("at", "checkpoint.at")) from None
        return cls(count=count, head=head, at=as_utc(at))


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(
    events: Iterable[AuditEvent],
    *,
    head: ChainHead | None = None,
    checkpoints: Sequence[Checkpoint] = (),
) -> ChainReport:
    """Recompute every hash in order; name the first event that does not match.

    With ``head``, only events up to ``head.seq`` are checked (later ones were appended
    after the head was read) and the log must reach it: fewer events, or a last hash that
    differs, means the newest events were removed or replaced. Each of ``checkpoints``
    must be matched: the log holds at least ``count`` events and event ``count`` has the
    checkpoint's hash; otherwise the log was truncated, or something up to event
    ``count`` was rewritten (and every later hash recomputed). The problem names which.
    """
    wanted: dict[int, list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        wanted.setdefault(checkpoint.count, []).append(checkpoint)
    for checkpoint in wanted.get(0, []):
        if checkpoint.head != GENESIS_HASH:
            return ChainReport(False, 0, 0, "a checkpoint of an empty log has a head hash")
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for event in events:
        if head is not None and event.seq > head.seq:
            break
        if event.seq != expected_seq:
            return ChainReport(False, checked, event.seq, f"expected event {expected_seq} next")
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.seq, "link to the previous event is broken")
        fields = record_fields(
            event.tag, event.actor, event.subject_type, event.subject_id, event.data
        )
        if event_hash(prev, event.seq, event.at, fields) != event.hash:
            return ChainReport(False, checked, event.seq, "content does not match its hash")
        for checkpoint in wanted.get(event.seq, []):
            if checkpoint.head != event.hash:
                return ChainReport(
                    False,
                    checked,
                    event.seq,
                    f"rewritten: event {event.seq} (or one before it) differs from the "
                    f"checkpoint signed at {as_utc(checkpoint.at).isoformat()}",
                )
        prev = event.hash
        expected_seq += 1
        checked += 1
    for count in sorted(wanted):
        if count > checked:
            signed = as_utc(wanted[count][0].at).isoformat()
            return ChainReport(
                False,
                checked,
                checked + 1,
                f"truncated: the checkpoint signed at {signed} covers {count} events, "
                f"only {checked} are stored",
            )
    if head is not None:
        if head.seq > checked:
            return ChainReport(
                False,
                checked,
                checked + 1,
                f"truncated: the chain head records {head.seq} events, only {checked} are stored",
            )
        if head.hash != prev:
            return ChainReport(
                False, checked, checked, "the last event does not match the chain head"
            )
    return ChainReport(True, checked)
