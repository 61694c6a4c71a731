"""Envelope encryption (streaming AES-GCM) and Ed25519 compact JWS."""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import SecretStr

from datatrust.adapters.crypto import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    AesGcmCipher,
    Ed25519Signer,
    b64url_decode,
    b64url_encode,
    jwk_thumbprint,
    verify_jws,
)
from datatrust.config import InsecureSettings, Settings
from datatrust.domain.errors import InvalidInput
from datatrust.services.storage import DecryptionError

SEG = SEGMENT_SIZE + TAG_SIZE  # one full ciphertext segment
MiB = 1024 * 1024


@pytest.fixture
def cipher() -> AesGcmCipher:
    return AesGcmCipher(os.urandom(32))


@pytest.fixture
def key(cipher: AesGcmCipher) -> bytes:
    return cipher.new_wrapped_key()


def encrypt(cipher: AesGcmCipher, key: bytes, data: bytes, chunk: int = 10_000) -> bytes:
    return b"".join(cipher.encrypt(key, (data[i : i + chunk] for i in range(0, len(data), chunk))))


def decrypt(cipher: AesGcmCipher, key: bytes, blob: bytes, chunk: int = 7_777) -> bytes:
    return b"".join(cipher.decrypt(key, (blob[i : i + chunk] for i in range(0, len(blob), chunk))))


# --- data keys ------------------------------------------------------------------------------


def test_wrapped_keys_are_40_bytes_and_never_repeat(cipher):
    keys = {cipher.new_wrapped_key() for _ in range(50)}
    assert len(keys) == 50
    assert {len(k) for k in keys} == {40}


def test_a_master_key_must_be_32_bytes():
    with pytest.raises(ValueError, match="32 bytes"):
        AesGcmCipher(b"short")


def test_the_cipher_reads_its_master_key_from_settings():
    cipher = AesGcmCipher.from_settings(Settings(dev_mode=True))
    key = cipher.new_wrapped_key()
    assert decrypt(cipher, key, encrypt(cipher, key, b"x")) == b"x"


# --- round trips and format -----------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE + 5]
)
def test_an_encrypted_stream_decrypts_to_the_original(cipher, key, size):
    data = os.urandom(size)
    assert decrypt(cipher, key, encrypt(cipher, key, data)) == data


def test_ciphertext_can_be_decrypted_from_any_chunking(cipher, key):
    data = os.urandom(2 * SEGMENT_SIZE + 3)
    blob = encrypt(cipher, key, data, chunk=SEGMENT_SIZE * 5)
    assert decrypt(cipher, key, blob, chunk=1_000_003) == data
    small = os.urandom(100)
    assert decrypt(cipher, key, encrypt(cipher, key, small), chunk=1) == small


def test_ciphertext_has_a_versioned_header_and_fixed_size_segments(cipher, key):
    blob = encrypt(cipher, key, os.urandom(2 * SEGMENT_SIZE + 10))
    assert blob[:4] == b"DTE\x01"
    assert HEADER_SIZE == 12
    # Two full segments, then a last one of 10 bytes plus its tag.
    assert len(blob) == HEADER_SIZE + 2 * SEG + 10 + TAG_SIZE
    # Even an empty plaintext gets an authenticated (empty) last segment.
    assert len(encrypt(cipher, key, b"")) == HEADER_SIZE + TAG_SIZE


def test_the_same_plaintext_encrypts_differently_each_time(cipher, key):
    data = b"same bytes" * 1000
    first, second = encrypt(cipher, key, data), encrypt(cipher, key, data)
    assert first != second
    assert first[4:HEADER_SIZE] != second[4:HEADER_SIZE]  # fresh nonce prefix
    assert data not in first


def test_a_50_mb_stream_is_encrypted_and_decrypted_without_being_held_in_memory(cipher, key):
    total = 50 * MiB
    block = os.urandom(MiB)

    def plaintext() -> Iterator[bytes]:
        for _ in range(total // MiB):
            yield block

    tracemalloc.start()
    try:
        size = sum(len(c) for c in cipher.decrypt(key, cipher.encrypt(key, plaintext())))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total
    assert peak < 8 * MiB


def test_encryption_consumes_its_input_lazily(cipher, key):
    pulled = []

    def plaintext() -> Iterator[bytes]:
        for i in range(100):
            pulled.append(i)
            yield bytes(SEGMENT_SIZE)

    stream = cipher.encrypt(key, plaintext())
    next(stream)  # the header
    next(stream)  # the first segment
    assert len(pulled) <= 2


# --- tampering ---------------------------------------------------------------------------------


@pytest.fixture
def data() -> bytes:
    return os.urandom(3 * SEGMENT_SIZE + 100)


@pytest.fixture
def blob(cipher, key, data) -> bytes:
    return encrypt(cipher, key, data)


@pytest.mark.parametrize(
    "position",
    [
        5,  # the nonce prefix in the header
        HEADER_SIZE,  # first byte of the first segment
        HEADER_SIZE + SEG - 1,  # last byte of the first segment's tag
        HEADER_SIZE + 2 * SEG + 500,  # the middle of the third segment
        -1,  # the last byte of all
    ],
)
def test_changing_any_byte_is_detected(cipher, key, blob, position):
    tampered = bytearray(blob)
    tampered[position] ^= 0x01
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, key, bytes(tampered))


def test_changing_the_format_marker_is_detected(cipher, key, blob):
    with pytest.raises(DecryptionError, match="not a Datatrust encrypted object"):
        decrypt(cipher, key, b"XTE" + blob[3:])
    with pytest.raises(DecryptionError, match=r"unsupported .* version 2"):
        decrypt(cipher, key, b"DTE\x02" + blob[4:])


def test_truncating_the_last_segment_is_detected(cipher, key, blob):
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, key, blob[:-1])
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, key, blob[:-50])


def test_dropping_whole_segments_at_the_end_is_detected(cipher, key, blob):
    # Cut exactly on a segment boundary: every remaining segment is intact.
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, key, blob[: HEADER_SIZE + 3 * SEG])
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, key, blob[: HEADER_SIZE + SEG])


def test_a_header_without_segments_is_rejected(cipher, key, blob):
    with pytest.raises(DecryptionError):
        decrypt(cipher, key, blob[:HEADER_SIZE])
    with pytest.raises(DecryptionError, match="header is missing"):
        decrypt(cipher, key, blob[:5])
    with pytest.raises(DecryptionError, match="header is missing"):
        decrypt(cipher, key, b"")


def test_appending_bytes_or_a_segment_is_detected(cipher, key, blob):
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, key, blob + b"\x00")
    first_segment = blob[HEADER_SIZE : HEADER_SIZE + SEG]
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, key, blob + first_segment)


def test_reordering_segments_is_detected(cipher, key, blob):
    segments = [blob[HEADER_SIZE + i * SEG : HEADER_SIZE + (i + 1) * SEG] for i in range(3)]
    swapped = blob[:HEADER_SIZE] + segments[1] + segments[0] + segments[2] + blob[-(100 + 16) :]
    assert len(swapped) == len(blob)
    with pytest.raises(DecryptionError, match="segment 0 failed authentication"):
        decrypt(cipher, key, swapped)


def test_splicing_a_segment_from_another_object_is_detected(cipher, key, blob, data):
    other = encrypt(cipher, key, data)  # same key, same plaintext, different header
    spliced = blob[: HEADER_SIZE + SEG] + other[HEADER_SIZE + SEG :]
    with pytest.raises(DecryptionError, match="segment 1 failed authentication"):
        decrypt(cipher, key, spliced)


# --- wrong and destroyed keys --------------------------------------------------------------


def test_another_contributors_key_cannot_decrypt(cipher, key, blob):
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(cipher, cipher.new_wrapped_key(), blob)


def test_a_wrapped_key_from_another_instance_is_rejected_before_decrypting(key, blob):
    other_instance = AesGcmCipher(os.urandom(32))
    with pytest.raises(DecryptionError, match="does not unwrap under this master key"):
        other_instance.decrypt(key, [blob])
    with pytest.raises(DecryptionError, match="does not unwrap"):
        other_instance.encrypt(key, [b"x"])


def test_a_corrupted_wrapped_key_is_rejected(cipher, key, blob):
    with pytest.raises(DecryptionError, match="does not unwrap"):
        cipher.decrypt(key[:-1] + bytes([key[-1] ^ 1]), [blob])
    with pytest.raises(DecryptionError, match="does not unwrap"):
        cipher.decrypt(key[:20], [blob])


def test_a_destroyed_key_makes_the_data_unreadable(cipher, blob):
    with pytest.raises(DecryptionError, match="destroyed"):
        cipher.decrypt(b"", [blob])
    with pytest.raises(DecryptionError, match="destroyed"):
        cipher.encrypt(b"", [b"more"])


# --- JWS ---------------------------------------------------------------------------------------


@pytest.fixture
def signer() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())


def test_a_signed_token_verifies_and_gives_back_its_claims(signer):
    claims = {"sub": "item:12", "purpose": "research", "n": 3, "name": "Zoë"}
    token = signer.sign(claims)
    assert signer.verify(token) == claims
    assert verify_jws(token, signer.public_jwk()) == claims


def test_a_token_is_standard_compact_jws_with_alg_eddsa(signer):
    token = signer.sign({"a": 1})
    header_part, payload_part, signature_part = token.split(".")
    assert "=" not in token
    header = json.loads(b64url_decode(header_part))
    assert header == {"alg": "EdDSA", "kid": signer.public_jwk()["kid"], "typ": "JWT"}
    # Any Ed25519 implementation can check it from the JWK alone.
    raw = b64url_decode(signer.public_jwk()["x"])
    Ed25519PublicKey.from_public_bytes(raw).verify(
        b64url_decode(signature_part), f"{header_part}.{payload_part}".encode()
    )


def test_a_contributor_can_verify_offline_with_the_published_jwk(signer):
    token = signer.sign({"receipt": "consent:give"})
    published = json.loads(json.dumps(signer.public_jwk()))
    assert verify_jws(token, published) == {"receipt": "consent:give"}


def test_the_public_jwk_matches_rfc_8037_and_its_kid_is_the_rfc_7638_thumbprint():
    # RFC 8037 appendix A.1-A.3 test vector.
    d = b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
    jwk = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(d)).public_jwk()
    assert jwk["x"] == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert jwk["kid"] == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert jwk_thumbprint(jwk["x"]) == jwk["kid"]
    assert {jwk["kty"], jwk["crv"], jwk["alg"]} == {"OKP", "Ed25519", "EdDSA"}


def _replace_part(token: str, index: int, value: dict) -> str:
    parts = token.split(".")
    parts[index] = b64url_encode(json.dumps(value).encode())
    return ".".join(parts)


def test_a_token_with_changed_claims_is_rejected(signer):
    token = signer.sign({"sub": "item:12", "deadline": "2030-01-01"})
    forged = _replace_part(token, 1, {"sub": "item:12", "deadline": "2099-01-01"})
    with pytest.raises(InvalidInput, match="bad token signature"):
        signer.verify(forged)


def test_a_token_with_a_changed_signature_is_rejected(signer):
    token = signer.sign({"a": 1})
    head, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[0] ^= 1
    with pytest.raises(InvalidInput, match="bad token signature"):
        signer.verify(f"{head}.{payload}.{b64url_encode(bytes(raw))}")


def test_a_token_signed_by_another_key_is_rejected(signer):
    other = Ed25519Signer(Ed25519PrivateKey.generate())
    token = other.sign({"a": 1})
    with pytest.raises(InvalidInput, match="signed by key"):
        signer.verify(token)
    # Without the kid hint the signature itself still fails.
    anonymous_jwk = {k: v for k, v in signer.public_jwk().items() if k != "kid"}
    with pytest.raises(InvalidInput, match="bad token signature"):
        verify_jws(token, anonymous_jwk)


def test_a_token_naming_another_algorithm_is_rejected(signer):
    token = signer.sign({"a": 1})
    for header in ({"alg": "none"}, {"alg": "HS256"}, {}):
        with pytest.raises(InvalidInput, match="only EdDSA"):
            signer.verify(_replace_part(token, 0, header))
    unsigned = _replace_part(token, 0, {"alg": "none"}).rsplit(".", 1)[0] + "."
    with pytest.raises(InvalidInput):
        signer.verify(unsigned)


def test_a_token_with_critical_extensions_is_rejected(signer):
    token = signer.sign({"a": 1})
    crit = _replace_part(token, 0, {"alg": "EdDSA", "crit": ["exp"], "exp": 1})
    with pytest.raises(InvalidInput, match="critical"):
        signer.verify(crit)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AAAA",
        "eyJhbGciOiJFZERTQSJ9.e30.AAA=",  # padded signature
        "bm90IGpzb24.e30.AAAA",  # header "not json"
        "WzFd.e30.AAAA",  # header is a JSON list
        "eyJhbGciOiJFZERTQSJ9.WzFd.AAAA",  # payload is a JSON list
        "eyJhbGciOiJFZERTQSJ9.e30.é",
    ],
)
def test_a_malformed_token_is_rejected_with_a_clear_error(signer, token):
    with pytest.raises(InvalidInput, match=r"malformed token|bad token signature"):
        signer.verify(token)


def test_a_public_key_that_is_not_ed25519_is_refused(signer):
    token = signer.sign({"a": 1})
    with pytest.raises(InvalidInput, match="not an Ed25519 JWK"):
        verify_jws(token, {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
    with pytest.raises(InvalidInput, match="32 bytes"):
        verify_jws(token, {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"})


# --- where the signing key comes from --------------------------------------------------------


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_the_signing_key_comes_from_the_pem_in_settings():
    private = Ed25519PrivateKey.generate()
    settings = Settings(signing_key=SecretStr(_pem(private)))
    signer = Ed25519Signer.from_settings(settings)
    assert signer.public_jwk() == Ed25519Signer(private).public_jwk()


def test_a_pem_that_is_not_ed25519_is_refused():
    with pytest.raises(ValueError, match="must be an Ed25519 private key"):
        Ed25519Signer.from_pem(_pem(generate_private_key(SECP256R1())))


def test_in_dev_mode_the_signing_key_is_derived_from_the_secret_key():
    first = Ed25519Signer.from_settings(Settings(dev_mode=True, secret_key=SecretStr("s1")))
    again = Ed25519Signer.from_settings(Settings(dev_mode=True, secret_key=SecretStr("s1")))
    other = Ed25519Signer.from_settings(Settings(dev_mode=True, secret_key=SecretStr("s2")))
    assert first.public_jwk() == again.public_jwk()
    assert first.public_jwk() != other.public_jwk()
    assert again.verify(first.sign({"a": 1})) == {"a": 1}


def test_outside_dev_mode_a_signing_key_must_be_configured():
    with pytest.raises(InsecureSettings, match="DATATRUST_SIGNING_KEY"):
        Ed25519Signer.from_settings(Settings(dev_mode=False))


def test_b64url_round_trips_without_padding():
    for size in range(10):
        data = os.urandom(size)
        text = b64url_encode(data)
        assert "=" not in text
        assert b64url_decode(text) == data
        assert base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)) == data
