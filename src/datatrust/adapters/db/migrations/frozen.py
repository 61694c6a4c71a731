"""Frozen copies of what migrations need from the live code, as it was when each was
written. A migration must do the same thing on every database, whenever it runs, while
the live code it would otherwise import goes on changing; so migrations import nothing
of ``datatrust`` but this module (``tests/test_migrations_frozen.py`` checks it). Never
edit what is here: a migration that needs something else gets a copy of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

# Sealed fields v1, as ``adapters.crypto.AesGcmCipher`` wrote them when migrations 0016,
# 0018 and 0025 were written: "dtf1." + base64url(nonce | AES-GCM ciphertext and tag),
# under a key derived from the contributor's data key.
SEALED_FIELD_PREFIX = "dtf1."
_FIELD_INFO = b"datatrust sealed fields v1"
_CONTENT_ID_INFO = b"datatrust content identity v1"


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=info).derive(key)


class FieldSealer:
    """Seals text fields and names contents under the instance's master key (sealed
    fields v1, content identity v1)."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._master_key = master_key

    def new_wrapped_key(self) -> bytes:
        """A fresh random data key, wrapped (40 bytes)."""
        return aes_key_wrap(self._master_key, os.urandom(32))

    def seal_field(self, wrapped_key: bytes, text: str) -> str:
        data_key = aes_key_unwrap(self._master_key, wrapped_key)
        aead = AESGCM(_derive(data_key, _FIELD_INFO))
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, text.encode("utf-8"), SEALED_FIELD_PREFIX.encode())
        encoded = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return SEALED_FIELD_PREFIX + encoded

    def content_id(self, sha256: str) -> str:
        key = _derive(self._master_key, _CONTENT_ID_INFO)
        return hmac.new(key, bytes.fromhex(sha256), hashlib.sha256).hexdigest()
