"""Encryption at rest (envelope AES-GCM) and signatures (Ed25519 compact JWS).

Data keys
    Each contributor has a random 32-byte AES-256 data key. It is stored only wrapped by
    the instance master key with AES Key Wrap (RFC 3394, ``cryptography``'s ``keywrap``):
    40 bytes, deterministic, no nonce to manage, and unwrapping under the wrong master key
    (or a corrupted wrapped key) fails its built-in integrity check instead of producing
    a wrong key.

Ciphertext format, version 1 (a streaming AEAD in the shape of the "STREAM" construction)
    header    12 bytes  = b"DTE" | version 0x01 | nonce prefix (8 random bytes per object)
    segments  each = AES-256-GCM(data key, nonce, plaintext segment, aad) = ciphertext | tag
              plaintext segments are 64 KiB, the last one 0..64 KiB (there is always one,
              so even an empty object is authenticated)
              nonce = nonce prefix | segment index (4 bytes, big-endian)
              aad   = header | 0x01 for the last segment, 0x00 for the others
    The index in the nonce detects reordering and dropped segments; the last-segment flag
    detects truncation at a segment boundary and anything appended after the end; the
    header in the aad ties every segment to this object's header.

    The same data key encrypts all of a contributor's objects; the random 8-byte prefix
    keeps nonces distinct (a repeat needs about 2**32 objects from one contributor).

Signatures
    ``Ed25519Signer`` writes JWS compact serialisation with ``alg: EdDSA`` (RFC 8037) by
    hand: base64url without padding, and ``kid`` is the key's RFC 7638 thumbprint.
    ``verify_jws`` needs only the public JWK, so a contributor can check a receipt offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from datatrust.config import InsecureSettings, Settings
from datatrust.domain.errors import InvalidInput
from datatrust.services.storage import SEALED_FIELD_PREFIX, DecryptionError

MAGIC = b"DTE"
VERSION = 1
PREFIX_SIZE = 8
HEADER_SIZE = len(MAGIC) + 1 + PREFIX_SIZE
SEGMENT_SIZE = 64 * 1024
TAG_SIZE = 16
_MAX_SEGMENTS = 2**32  # the index is 4 bytes; at 64 KiB that is 256 TiB per object


class AesGcmCipher:
    """Implements ``services.storage.Cipher`` with the format in this module's docstring.

    ``encrypt`` and ``decrypt`` unwrap the data key at call time (a bad wrapped key raises
    ``DecryptionError`` there) and then stream lazily, holding about one segment at a time
    plus whatever chunk the caller hands in.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._master_key = master_key

    @classmethod
    def from_settings(cls, settings: Settings) -> AesGcmCipher:
        return cls(settings.master_key_bytes())

    def new_wrapped_key(self) -> bytes:
        """A fresh random data key, wrapped (40 bytes)."""
        return aes_key_wrap(self._master_key, os.urandom(32))

    def object_name(self, wrapped_key: bytes, sha256: str) -> str:
        """The name an object with plaintext hash ``sha256`` gets: HMAC-SHA256 under a key
        derived from the data key. Stable per contributor (the same bytes land on the same
        name), and once the data key is destroyed nobody can tell which content a name
        stands for."""
        key = _derive(self._unwrap(wrapped_key), _OBJECT_NAME_INFO)
        return hmac.new(key, bytes.fromhex(sha256), hashlib.sha256).hexdigest()

    def seal_field(self, wrapped_key: bytes, text: str) -> str:
        """``text`` encrypted under a key derived from the data key, as a string that fits a
        text column: ``dtf1.`` + base64url(nonce | AES-GCM ciphertext and tag)."""
        aead = AESGCM(_derive(self._unwrap(wrapped_key), _FIELD_INFO))
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, text.encode("utf-8"), SEALED_FIELD_PREFIX.encode())
        return SEALED_FIELD_PREFIX + b64url_encode(nonce + sealed)

    def open_field(self, wrapped_key: bytes, sealed: str) -> str:
        """The text ``seal_field`` sealed; ``DecryptionError`` if it was altered or sealed
        under another key."""
        aead = AESGCM(_derive(self._unwrap(wrapped_key), _FIELD_INFO))
        try:
            raw = b64url_decode(sealed.removeprefix(SEALED_FIELD_PREFIX))
            plain = aead.decrypt(raw[:12], raw[12:], SEALED_FIELD_PREFIX.encode())
        except (InvalidInput, InvalidTag, ValueError):
            raise DecryptionError("a sealed field failed authentication") from None
        return plain.decode("utf-8")

    def content_id(self, sha256: str) -> str:
        """An instance-wide identity for a plaintext hash (HMAC under a key derived from
        the master key): equal contents get equal ids across contributors, so duplicate
        checks keep working, but the raw hash of anyone's upload is never stored."""
        key = _derive(self._master_key, _CONTENT_ID_INFO)
        return hmac.new(key, bytes.fromhex(sha256), hashlib.sha256).hexdigest()

    def encrypt(self, wrapped_key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield the header, then one encrypted segment per 64 KiB of ``chunks``."""
        aead = AESGCM(self._unwrap(wrapped_key))
        return self._encrypt(aead, chunks)

    def decrypt(self, wrapped_key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield the plaintext segment by segment.

        Raises ``DecryptionError`` while iterating if the header is wrong or any segment
        fails authentication. Earlier segments have been yielded by then: they are
        authentic, but the object as a whole is not, and must be thrown away.
        """
        aead = AESGCM(self._unwrap(wrapped_key))
        return self._decrypt(aead, chunks)

    def _unwrap(self, wrapped_key: bytes) -> bytes:
        if not wrapped_key:
            raise DecryptionError("the data key was destroyed: nothing it encrypted can be read")
        try:
            return aes_key_unwrap(self._master_key, wrapped_key)
        except (InvalidUnwrap, ValueError) as exc:
            raise DecryptionError(
                "the wrapped data key does not unwrap under this master key "
                "(wrong master key, or the wrapped key is corrupted)"
            ) from exc

    @staticmethod
    def _encrypt(aead: AESGCM, chunks: Iterable[bytes]) -> Iterator[bytes]:
        header = MAGIC + bytes([VERSION]) + os.urandom(PREFIX_SIZE)
        prefix = header[-PREFIX_SIZE:]
        yield header
        for index, (segment, last) in enumerate(_segments(chunks, SEGMENT_SIZE)):
            if index >= _MAX_SEGMENTS:
                raise ValueError("object too large to encrypt (over 256 TiB)")
            yield aead.encrypt(_nonce(prefix, index), segment, _aad(header, last))

    @staticmethod
    def _decrypt(aead: AESGCM, chunks: Iterable[bytes]) -> Iterator[bytes]:
        header, rest = _read_header(iter(chunks))
        prefix = header[-PREFIX_SIZE:]
        for index, (segment, last) in enumerate(_segments(rest, SEGMENT_SIZE + TAG_SIZE)):
            try:
                yield aead.decrypt(_nonce(prefix, index), segment, _aad(header, last))
            except InvalidTag:
                raise DecryptionError(
                    f"segment {index} failed authentication: the object was tampered with, "
                    "truncated, extended or reordered, or encrypted under another key"
                ) from None
            except ValueError:  # index beyond 4 bytes: more segments than we ever write
                raise DecryptionError("object has more segments than the format allows") from None


_OBJECT_NAME_INFO = b"datatrust object names v1"
_FIELD_INFO = b"datatrust sealed fields v1"
_CONTENT_ID_INFO = b"datatrust content identity v1"


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(key)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


def _aad(header: bytes, last: bool) -> bytes:
    return header + (b"\x01" if last else b"\x00")


def _read_header(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """Split the header off a stream whose chunks may be any size."""
    head = bytearray()
    for chunk in chunks:
        head += chunk
        if len(head) >= HEADER_SIZE:
            break
    if len(head) < HEADER_SIZE or head[: len(MAGIC)] != MAGIC:
        raise DecryptionError("not a Datatrust encrypted object: the header is missing or wrong")
    if head[len(MAGIC)] != VERSION:
        raise DecryptionError(f"unsupported encrypted object format version {head[len(MAGIC)]}")
    leftover = bytes(head[HEADER_SIZE:])

    def rest() -> Iterator[bytes]:
        yield leftover
        yield from chunks

    return bytes(head[:HEADER_SIZE]), rest()


def _segments(chunks: Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Re-cut ``chunks`` into ``size``-byte segments, flagging the last one.

    Every segment but the last is exactly ``size`` bytes; the last is 0..``size`` bytes
    and always yielded, even for an empty stream. At least one byte is held back until
    the input ends, because only then is it known which segment is last.
    """
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > size:
            full = (len(buffer) - 1) // size
            for i in range(full):
                yield bytes(buffer[i * size : (i + 1) * size]), False
            # One deletion per chunk, not per segment: deleting from the front of a
            # bytearray moves what is left, so per segment it would be quadratic.
            del buffer[: full * size]
    yield bytes(buffer), True


# --- signatures --------------------------------------------------------------------------

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_DEV_KEY_INFO = b"datatrust dev-mode signing key v1"


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url, as JWS uses it; ``InvalidInput`` on anything else."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidInput("malformed token: a part is not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public JWK whose ``x`` is given."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def _json_part(claims: dict[str, Any]) -> str:
    body = json.dumps(claims, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return b64url_encode(body.encode("utf-8"))


def _public_jwk(x: str) -> dict[str, str]:
    """The public JWK of the Ed25519 key ``x`` (base64url), ``kid`` its thumbprint."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": jwk_thumbprint(x),
        "alg": "EdDSA",
        "use": "sig",
    }


class Ed25519Signer:
    """Implements the ``Signer`` port: compact JWS, ``alg: EdDSA``, Ed25519 keys.

    Build it with ``from_settings``: the PEM in ``DATATRUST_SIGNING_KEY``, or in dev mode
    only a key derived from ``DATATRUST_SECRET_KEY`` (``from_dev_secret``).
    """

    def __init__(
        self, private_key: Ed25519PrivateKey, retired: Iterable[dict[str, str]] = ()
    ) -> None:
        self._private_key = private_key
        self._retired = [dict(jwk) for jwk in retired]
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._jwk = _public_jwk(b64url_encode(raw))

    @classmethod
    def from_pem(cls, pem: str | bytes) -> Ed25519Signer:
        """Load an unencrypted PKCS#8 PEM private key (``openssl genpkey -algorithm ed25519``)."""
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key")
        return cls(key)

    @classmethod
    def from_dev_secret(cls, secret: str) -> Ed25519Signer:
        """DEV ONLY: a key derived deterministically (HKDF-SHA256) from the secret key.

        Anyone who knows the secret key can sign as this instance, and changing the secret
        key changes the signing key and voids every signature already handed out. That is
        fine on a laptop and never in production, where ``check_secrets`` insists on a
        real ``DATATRUST_SIGNING_KEY``.
        """
        seed = HKDF(algorithm=SHA256(), length=32, salt=None, info=_DEV_KEY_INFO).derive(
            secret.encode()
        )
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_settings(cls, settings: Settings) -> Ed25519Signer:
        if settings.signing_key is not None:
            signer = cls.from_pem(settings.signing_key.get_secret_value())
        elif settings.dev_mode:
            signer = cls.from_dev_secret(settings.secret_key.get_secret_value())
        else:
            raise InsecureSettings(
                "DATATRUST_SIGNING_KEY (an Ed25519 PEM) is required outside dev mode"
            )
        return signer.with_retired(settings.retired_signing_jwks)

    def with_retired(self, retired: Iterable[dict[str, str]]) -> Ed25519Signer:
        """This key signing, and ``retired`` public JWKs (keys it replaced) still published
        in ``jwks`` so what they signed keeps verifying. Each must be an Ed25519 public
        JWK; its ``kid`` is recomputed from ``x`` (a JWK cannot claim another key's id)."""
        keys = []
        for jwk in retired:
            if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
                raise ValueError("a retired signing key must be an Ed25519 public JWK")
            if len(b64url_decode(jwk.get("x", ""))) != 32:
                raise ValueError("a retired signing key's x must be 32 bytes")
            if jwk["x"] == self._jwk["x"]:
                # Retiring a key means it signs nothing new: a configuration that both
                # signs with it and lists it as retired is a rotation left half done.
                raise ValueError(
                    f"the signing key {self._jwk['kid']} is listed as retired; a retired key "
                    "cannot sign: set a new DATATRUST_SIGNING_KEY"
                )
            keys.append(_public_jwk(jwk["x"]))
        return type(self)(self._private_key, keys)

    def sign(self, claims: dict[str, Any]) -> str:
        """Sign JSON-serialisable ``claims`` (keys sorted, UTF-8) as a compact JWS."""
        header = {"alg": "EdDSA", "kid": self._jwk["kid"], "typ": "JWT"}
        signing_input = f"{_json_part(header)}.{_json_part(claims)}"
        signature = self._private_key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url_encode(signature)}"

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this instance signed, with the key that signs now or a
        retired one still published (the header's ``kid`` picks it); see ``verify_jwks``.
        Receipts, checkpoints and feeds signed before a rotation keep verifying."""
        return verify_jwks(token, self.jwks())

    def key(self, kid: str) -> dict[str, str] | None:
        """The published public JWK with this ``kid`` (signing or retired), else None."""
        return next((dict(k) for k in self.jwks()["keys"] if k["kid"] == kid), None)

    def public_jwk(self) -> dict[str, str]:
        return dict(self._jwk)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set to publish (RFC 7517): the signing key first, then retired ones."""
        return {"keys": [dict(self._jwk), *(dict(k) for k in self._retired)]}


def verify_jws(token: str, public_jwk: dict[str, str]) -> dict[str, Any]:
    """Check a compact JWS against an Ed25519 public JWK and return its claims.

    Checks the signature only: what the claims mean (expiry, audience…) is the caller's
    business, because receipts must stay verifiable for ever. Accepts only
    ``alg: EdDSA`` (never ``none`` nor whatever else the token asks for), rejects a
    ``crit`` header and a ``kid`` that differs from the JWK's. Raises ``InvalidInput``
    naming the problem for a malformed token, a wrong key, or a bad signature.
    """
    if public_jwk.get("kty") != "OKP" or public_jwk.get("crv") != "Ed25519":
        raise InvalidInput("the public key is not an Ed25519 JWK (kty OKP, crv Ed25519)")
    raw_key = b64url_decode(public_jwk.get("x", ""))
    if len(raw_key) != 32:
        raise InvalidInput("the public key is not an Ed25519 JWK: x must be 32 bytes")

    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise InvalidInput("malformed token: a compact JWS has three dot-separated parts")
    header = _decode_json(parts[0], "header")
    if header.get("alg") != "EdDSA":
        raise InvalidInput(f"token algorithm {header.get('alg')!r} is not accepted; only EdDSA")
    if "crit" in header:
        raise InvalidInput("token has critical header extensions this verifier does not know")
    if "kid" in header and "kid" in public_jwk and header["kid"] != public_jwk["kid"]:
        raise InvalidInput(f"token was signed by key {header['kid']!r}, not {public_jwk['kid']!r}")
    claims = _decode_json(parts[1], "payload")  # also proves the part is ASCII
    signature = b64url_decode(parts[2])
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(
            signature, f"{parts[0]}.{parts[1]}".encode("ascii")
        )
    except InvalidSignature:
        raise InvalidInput("bad token signature: it was altered or signed by another key") from None
    return claims


def verify_jwks(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check a compact JWS against a JWK Set (as ``/.well-known/jwks.json`` publishes it):
    the key is the one whose ``kid`` the header names, or the only key when the header
    names none. ``InvalidInput`` names the problem, an unknown key id included."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise InvalidInput("the key set is not a JWK Set: expected {'keys': [...]}")
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise InvalidInput("malformed token: a compact JWS has three dot-separated parts")
    kid = _decode_json(parts[0], "header").get("kid")
    if kid is None:
        if len(keys) != 1:
            raise InvalidInput("the token names no key id and the key set holds several keys")
        return verify_jws(token, keys[0])
    # A JWK's own kid is not trusted: it must be the thumbprint of its key.
    matching = [k for k in keys if isinstance(k.get("x"), str) and jwk_thumbprint(k["x"]) == kid]
    if not matching:
        raise InvalidInput(f"the token was signed by key {kid!r}, which the key set does not hold")
    return verify_jws(token, {**matching[0], "kid": kid})


def read_keys(data: Any) -> dict[str, Any]:
    """A JWK Set from what a file holds: a JWK Set itself or one public JWK."""
    if isinstance(data, dict) and isinstance(data.get("keys"), list):
        return data
    if isinstance(data, dict) and data.get("kty"):
        return {"keys": [data]}
    raise InvalidInput("expected a public JWK or a JWK Set ({'keys': [...]})")


def _decode_json(part: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(part))
    except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
        raise InvalidInput(f"malformed token: the {name} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"malformed token: the {name} is not a JSON object")
    return value
