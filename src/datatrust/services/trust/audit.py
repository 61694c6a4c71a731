"""Reading and verifying the audit log, and its signed checkpoints.

A checkpoint (``domain.audit.Checkpoint``) is handed out as a compact JWS signed by the
instance's ``Signer``; whoever keeps one (a buyer in a snapshot, a contributor, an auditor
fetching ``/api/audit/checkpoint``) can later prove the log was neither truncated nor
rewritten up to it: ``verify_audit_log(..., checkpoints=[...])``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datatrust.domain.audit import GENESIS_HASH, ChainReport, Checkpoint, verify_chain
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.permissions import Actor, Permission, authorize
from datatrust.services.ports import Signer, UnitOfWork


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    jws: str
    key: dict[str, str]  # the public JWK that verifies ``jws``

    def document(self) -> dict[str, Any]:
        """The JSON handed out (endpoint, snapshots) and read back by ``read_checkpoint``."""
        claims = self.checkpoint.claims()
        return {
            "checkpoint": self.jws,
            "count": claims["count"],
            "head": claims["head"],
            "at": claims["at"],
            "key": self.key,
        }


def verify_audit_log(
    uow: UnitOfWork, actor: Actor, *, checkpoints: list[Checkpoint] | None = None
) -> ChainReport:
    """Recompute the chain up to its head and compare the head (so removing the newest
    events is caught) and every checkpoint given; the report names the first problem."""
    authorize(actor, Permission.AUDIT_VERIFY)
    log = uow.audit
    head = log.head()  # first: events appended after this are not judged
    return verify_chain(log.events(), head=head, checkpoints=checkpoints or [])


def sign_checkpoint(uow: UnitOfWork, signer: Signer) -> SignedCheckpoint:
    """Sign the log's current head. Public: a count and a hash say nothing about anyone.

    Reads only (no write lock), so anyone may ask as often as they like. The head is
    checked against the event it names first, so the instance never signs a head that
    its own log contradicts (``InvalidInput`` then; the operator must investigate)."""
    log = uow.audit
    head = log.head()
    if head.seq:
        last = log.event(head.seq)
        if last is None or last.hash != head.hash:
            raise InvalidInput(Problem(None, "audit.head_mismatch", {"seq": head.seq}))
    elif head.hash != GENESIS_HASH:
        raise InvalidInput(Problem(None, "audit.head_without_events"))
    checkpoint = Checkpoint(count=head.seq, head=head.hash, at=utcnow())
    return SignedCheckpoint(checkpoint, signer.sign(checkpoint.claims()), signer.public_jwk())


def read_checkpoint(text: str, verify: Callable[[str], dict[str, Any]]) -> Checkpoint:
    """A checkpoint from what ``SignedCheckpoint.document`` wrote, or the bare JWS.

    ``verify`` checks the JWS and returns its claims: this instance's ``Signer.verify``,
    or ``verify_jws`` with a public key held elsewhere. The signed claims are what count;
    the readable copies beside the JWS in the document are ignored. ``InvalidInput``
    names the problem: not JSON nor a JWS, a bad signature, or not a checkpoint."""
    raw = text.strip()
    if raw.startswith("{"):
        try:
            document = json.loads(raw)
        except ValueError:
            raise InvalidInput(Problem("checkpoint", "audit.checkpoint_not_json")) from None
        token = document.get("checkpoint") if isinstance(document, dict) else None
        if not isinstance(token, str):
            raise InvalidInput(Problem("checkpoint", "audit.checkpoint_missing"))
    else:
        token = raw
    claims = verify(token)
    return Checkpoint.from_claims(claims)
