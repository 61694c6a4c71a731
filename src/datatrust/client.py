"""Buyer-side helpers: check a Datatrust revocation feed and drop revoked records from a
local copy of a snapshot (``prune_snapshot``, which also needs ``pyarrow``). Standard
library plus ``cryptography`` for the signature, so a buyer can vendor this one file.

    keys = fetch_jwks("https://datatrust.example")            # /.well-known/jwks.json
    follower = FeedFollower(keys, state_path="feed-state.json")
    feed = follower.accept(open("feed.jws").read())            # FeedError says why not
    kept = filter_allowed(records, feed)

The feed is a signed, sequenced, expiring log. ``verify_feed`` refuses, each with its
``reason``: a malformed token (``malformed``), a key id the key set does not hold
(``unknown_key``), a bad signature (``bad_signature``), a feed past its ``exp``
(``expired``), entries that do not run 1..``last_seq`` (``gap``: a notice withheld).
``FeedFollower`` also remembers the newest feed it accepted and refuses an older one
(``replayed``: a lower ``last_seq`` or an earlier ``iat``), so a copy from before a
withdrawal cannot be passed off as current.

A record is anything with a ``content_sha256`` (a dict, or an object with that
attribute), as in the rows of a snapshot's ``index.parquet``
(``pyarrow.parquet.read_table(path).to_pylist()``) and every shard's ``<key>.json``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FEED_TYPE = "datatrust-revocation-feed"
NOTICE_TYPE = "datatrust-revocation-notice"
JWKS_PATH = "/.well-known/jwks.json"


class FeedError(ValueError):
    """The feed cannot be trusted; ``reason`` is a stable code, the message says why."""

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


def _b64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise FeedError("malformed feed: a part is not base64url") from None


def _keys(keys: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A JWK Set's keys, or a single JWK as a set of one."""
    found = keys.get("keys") if "keys" in keys else [keys]
    if not isinstance(found, list):
        raise FeedError("the key set is not a JWK Set (no 'keys' list)", "unknown_key")
    return [k for k in found if isinstance(k, Mapping)]


def fetch_jwks(base_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The platform's published key set, from ``<base_url>/.well-known/jwks.json``."""
    with urllib.request.urlopen(base_url.rstrip("/") + JWKS_PATH, timeout=timeout) as got:
        document = json.loads(got.read())
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise FeedError("the key set is not a JWK Set (no 'keys' list)", "unknown_key")
    return document


def verify_jws(token: str, keys: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of ``token`` if it is a compact JWS (EdDSA) signed by one of ``keys``
    (a JWK Set, or one JWK); the key is the one the header's ``kid`` names. Raises
    ``FeedError`` (``malformed``, ``unknown_key``, ``bad_signature``)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise FeedError("malformed token: a compact JWS has three dot-separated parts")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
    except ValueError:
        raise FeedError("malformed token: header or payload is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "EdDSA":
        raise FeedError("the token is not signed with EdDSA", "bad_signature")
    candidates = [k for k in _keys(keys) if k.get("kty") == "OKP" and k.get("crv") == "Ed25519"]
    if not candidates:
        raise FeedError(
            "no Ed25519 key (kty OKP, crv Ed25519) to check the token with", "unknown_key"
        )
    kid = header.get("kid")
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") in (None, kid)]
        if not candidates:
            raise FeedError(
                f"the token was signed by key {kid!r}, which the platform's key set does not "
                "hold; fetch the key set again, and if it is still missing, do not trust it",
                "unknown_key",
            )
    for key in candidates:
        try:
            public = Ed25519PublicKey.from_public_bytes(_b64(str(key.get("x", ""))))
            public.verify(_b64(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
            break
        except (InvalidSignature, ValueError):
            continue
    else:
        raise FeedError("bad signature: it was altered or signed by another key", "bad_signature")
    if not isinstance(claims, dict):
        raise FeedError("malformed token: the payload is not a JSON object")
    return claims


def verify_feed(token: str, keys: Mapping[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """The feed's claims if ``token`` is a compact JWS (EdDSA) signed by one of ``keys``
    (a JWK Set, or one JWK), not expired at ``now`` (default: the clock), and a complete
    sequence (entries ``seq`` 1..``last_seq``).

    Accepts only ``alg: EdDSA`` and Ed25519 keys; the key is the one the header's ``kid``
    names. Raises ``FeedError`` naming the problem, with its ``reason``.
    """
    claims = verify_jws(token, keys)
    if claims.get("type") != FEED_TYPE:
        raise FeedError("this is not a Datatrust revocation feed")
    _check_log(claims, time.time() if now is None else now)
    return claims


def verify_notice(
    token: str,
    keys: Mapping[str, Any],
    *,
    audience: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of one pushed notice (the body a webhook receives), signed like the
    feed: ``notice`` is the entry as the feed lists it (``seq``, ``content_hashes``,
    ``deletion_deadline`` …), ``last_seq`` the feed's position when it was sent. With
    ``audience`` (the webhook's own URL), a notice addressed to another endpoint is
    refused (``wrong_audience``); an expired one too (``expired``). A push only says "read
    the feed now": fetch it and pass it to ``FeedFollower`` before deleting or keeping."""
    claims = verify_jws(token, keys)
    if claims.get("type") != NOTICE_TYPE or not isinstance(claims.get("notice"), Mapping):
        raise FeedError("this is not a Datatrust revocation notice")
    exp = claims.get("exp")
    if not isinstance(exp, int) or (time.time() if now is None else now) >= exp:
        raise FeedError("the notice has expired or has no expiry; read the feed", "expired")
    if audience is not None and claims.get("aud") != audience:
        raise FeedError(
            f"the notice was addressed to {claims.get('aud')!r}, not to {audience!r}",
            "wrong_audience",
        )
    return claims


def _check_log(claims: Mapping[str, Any], now: float) -> None:
    exp, last, iat = claims.get("exp"), claims.get("last_seq"), claims.get("iat")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, last, iat)):
        raise FeedError("the feed has no expiry, issue time or last sequence; it cannot be trusted")
    if now >= exp:
        raise FeedError(
            f"the feed expired {int(now - exp)} s ago (exp {exp}); fetch a fresh one", "expired"
        )
    seqs = [e.get("seq") for e in claims.get("revoked", []) if isinstance(e, Mapping)]
    if seqs != list(range(1, last + 1)):
        raise FeedError(
            f"the feed's notices are not the sequence 1..{last} (got {seqs[:10]}); "
            "a notice is missing or repeated",
            "gap",
        )


class FeedFollower:
    """Accepts feeds one after another and refuses one older than the newest it accepted.

    ``state_path`` (optional) keeps ``{"last_seq", "iat"}`` between runs, written
    atomically; without it the memory lasts as long as the object.
    """

    def __init__(self, keys: Mapping[str, Any], state_path: str | os.PathLike[str] | None = None):
        self.keys = keys
        self.state_path = Path(state_path) if state_path is not None else None
        self.last_seq, self.iat = 0, 0
        if self.state_path is not None and self.state_path.exists():
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.last_seq, self.iat = int(state["last_seq"]), int(state["iat"])

    def accept(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """``verify_feed``, then refuse a feed older than the last one accepted: a lower
        ``last_seq`` or an earlier ``iat`` (``reason`` ``replayed``). The same feed again
        is accepted (polling twice within a second is not an attack)."""
        claims = verify_feed(token, self.keys, now=now)
        if claims["last_seq"] < self.last_seq or claims["iat"] < self.iat:
            raise FeedError(
                f"the feed is older than one already seen (sequence {claims['last_seq']} "
                f"issued at {claims['iat']}; seen {self.last_seq} at {self.iat}); "
                "it may be a replay from before a withdrawal",
                "replayed",
            )
        self.last_seq, self.iat = claims["last_seq"], claims["iat"]
        if self.state_path is not None:
            tmp = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
            tmp.write_text(json.dumps({"last_seq": self.last_seq, "iat": self.iat}))
            os.replace(tmp, self.state_path)
        return claims


def revoked_hashes(feed: Mapping[str, Any]) -> frozenset[str]:
    """Content hashes the feed (verified claims) says must be deleted: each entry's
    ``content_sha256`` and every one of its ``content_hashes`` (an item re-done between
    builds reached the buyer under several). A superseded entry (``superseded_at``:
    consent was given again before its promised notice ended) revokes nothing; a later
    entry for the same item, if any, does."""
    found: set[str] = set()
    for entry in feed.get("revoked", []):
        if not isinstance(entry, Mapping) or entry.get("superseded_at"):
            continue
        many = entry.get("content_hashes")
        for h in [entry.get("content_sha256"), *(many if isinstance(many, list) else [])]:
            if isinstance(h, str):
                found.add(h)
    return frozenset(found)


def _hash_of(record: Any) -> str | None:
    if isinstance(record, Mapping):
        value = record.get("content_sha256")
    else:
        value = getattr(record, "content_sha256", None)
    return value if isinstance(value, str) else None


def filter_allowed(records: Iterable[Any], feed: Mapping[str, Any]) -> list[Any]:
    """``records`` without those whose content hash the feed revokes.

    ``feed`` is the verified claims (``verify_feed``). A record without a content hash is
    dropped too: what cannot be checked against the feed cannot be kept (fail closed).
    """
    revoked = revoked_hashes(feed)
    return [r for r in records if (h := _hash_of(r)) is not None and h not in revoked]


def prune_snapshot(root: Path, feed: Mapping[str, Any], *, apply: bool = False) -> dict[str, Any]:
    """What the verified ``feed`` revokes in the local snapshot at ``root``: a report of
    the records kept and revoked (by key and content hash). With ``apply``, rewrite
    ``index.parquet`` without the revoked records and delete their media files.
    ``FileNotFoundError`` when ``root`` holds no ``index.parquet``."""
    # pyarrow only here: the rest of this file stays standard library plus cryptography.
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = root / "index.parquet"
    if not index.is_file():
        raise FileNotFoundError(f"{index} not found; is this a Datatrust snapshot?")
    table = pq.read_table(index)
    rows = table.to_pylist()
    kept = filter_allowed(rows, feed)
    removed = [r for r in rows if r not in kept]
    report: dict[str, Any] = {
        "records": len(rows),
        "kept": len(kept),
        "revoked": [{"key": r["key"], "content_sha256": r["content_sha256"]} for r in removed],
    }
    if apply and removed:
        pq.write_table(pa.Table.from_pylist(kept, schema=table.schema), index)
        for r in removed:
            for path in root.rglob(f"{r['key']}.*"):
                path.unlink()
        report["applied"] = True
    return report


class Buyer:
    """A buyer's whole side of withdrawal, over the HTTP API with an API token:

        buyer = Buyer("https://datatrust.example", token, state_path="feed-state.json")
        buyer.set_webhook("https://ml.example/datatrust")      # pushes; polling stays
        for notice in buyer.due():                              # verified, never a replay
            buyer.acknowledge(notice)
            ...delete every copy...
            buyer.attest(notice, snapshots=buyer.held(notice), models="retrained_without",
                         copies=["s3://ml-data/walks (emptied)"], statement="deleted")

    ``receive(body, url)`` checks a pushed notice (the webhook's request body).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        state_path: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.keys = fetch_jwks(self.base_url, timeout)
        self.follower = FeedFollower(self.keys, state_path)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as got:
                return json.loads(got.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:2000]
            raise BuyerError(exc.code, detail) from None

    def feed(self) -> dict[str, Any]:
        """The current feed, verified and not older than the last one accepted."""
        return self.follower.accept(self._call("GET", "/api/buyers/feed")["feed"])

    def due(self) -> list[dict[str, Any]]:
        """The feed's notices not attested yet, oldest first."""
        return [e for e in self.feed()["revoked"] if not e.get("attested")]

    def receive(self, body: bytes | str, url: str) -> dict[str, Any]:
        """A pushed notice's claims (``verify_notice`` against the platform's keys)."""
        token = body.decode("ascii") if isinstance(body, bytes) else body
        return verify_notice(token, self.keys, audience=url)

    def set_webhook(self, url: str) -> dict[str, Any]:
        return self._call("PUT", "/api/buyers/webhook", {"url": url})

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/api/buyers/webhook")["deliveries"])

    def held(self, notice: Mapping[str, Any]) -> list[int]:
        """Ids of the snapshots this organisation downloaded that hold the notice's item:
        an attestation must name every one."""
        choices = self._call("GET", "/api/buyers/revocations")
        return list(choices.get(notice["content_sha256"], {}).get("snapshots", []))

    def acknowledge(self, notice: Mapping[str, Any]) -> dict[str, Any]:
        hashes = list(notice.get("content_hashes") or [notice["content_sha256"]])
        return self._call("POST", "/api/buyers/revocations/acknowledge", {"content_sha256": hashes})

    def attest(
        self,
        notice: Mapping[str, Any],
        *,
        snapshots: list[int],
        models: str,
        statement: str,
        copies: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Attest deletion of every copy of the notice's item; returns the statement the
        platform signed, verified against its keys."""
        hashes = list(notice.get("content_hashes") or [notice["content_sha256"]])
        done = self._call(
            "POST",
            "/api/buyers/attestations",
            {
                "content_sha256": hashes,
                "snapshots": list(snapshots),
                "copies": list(copies),
                "models": models,
                "statement": statement,
            },
        )
        return verify_jws(done["signed_statement"], self.keys)


class BuyerError(RuntimeError):
    """The platform refused a call; ``status`` is the HTTP status, the message its answer
    (which names every problem, such as a snapshot left out of an attestation)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
