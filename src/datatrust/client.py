"""Buyer-side helpers: check a Datatrust revocation feed and drop revoked records from a
local copy of a snapshot. Standard library plus ``cryptography`` for the signature, so a
buyer can vendor this one file.

    feed = verify_feed(open("feed.jws").read(), json.load(open("platform.jwk.json")))
    kept = filter_allowed(records, feed)

A record is anything with a ``content_sha256`` (a dict, or an object with that
attribute), as in the rows of a snapshot's ``index.parquet``
(``pyarrow.parquet.read_table(path).to_pylist()``) and every shard's ``<key>.json``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FEED_TYPE = "datatrust-revocation-feed"


class FeedError(ValueError):
    """The feed is malformed, not a revocation feed, or its signature does not verify."""


def _b64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise FeedError("malformed feed: a part is not base64url") from None


def verify_feed(token: str, public_jwk: Mapping[str, str]) -> dict[str, Any]:
    """The feed's claims if ``token`` is a compact JWS (EdDSA) signed by ``public_jwk``.

    Accepts only ``alg: EdDSA`` and an Ed25519 key; raises ``FeedError`` naming the problem.
    """
    if public_jwk.get("kty") != "OKP" or public_jwk.get("crv") != "Ed25519":
        raise FeedError("the key is not an Ed25519 JWK (kty OKP, crv Ed25519)")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise FeedError("malformed feed: a compact JWS has three dot-separated parts")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
    except ValueError:
        raise FeedError("malformed feed: header or payload is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "EdDSA":
        raise FeedError("the feed is not signed with EdDSA")
    if "kid" in header and "kid" in public_jwk and header["kid"] != public_jwk["kid"]:
        raise FeedError(f"the feed was signed by key {header['kid']!r}, not this one")
    try:
        key = Ed25519PublicKey.from_public_bytes(_b64(public_jwk.get("x", "")))
        key.verify(_b64(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (InvalidSignature, ValueError):
        raise FeedError("bad feed signature: it was altered or signed by another key") from None
    if not isinstance(claims, dict) or claims.get("type") != FEED_TYPE:
        raise FeedError("this is not a Datatrust revocation feed")
    return claims


def revoked_hashes(feed: Mapping[str, Any]) -> frozenset[str]:
    """Content hashes the feed (verified claims) says must be deleted: each entry's
    ``content_sha256`` and every one of its ``content_hashes`` (an item re-done between
    builds reached the buyer under several)."""
    found: set[str] = set()
    for entry in feed.get("revoked", []):
        if not isinstance(entry, Mapping):
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
