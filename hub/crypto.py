"""Secrets and personal data at rest: AES-256-GCM under a keyring (newest key first), bound to their row.

Token layout: version (1 byte, 0x01) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag.
The associated data names the row (e.g. b"member.phone:<uuid>"), so a ciphertext copied to another
row does not decrypt. Blind indexes are HMAC-SHA256 under a key derived per secret key, so a
look-up tries every key of the ring and rotation can re-index at its own pace.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A token was tampered with, bound to another row, or made under a key no longer in the ring."""


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"coalition-hub/" + purpose).derive(key)


def generate_secret_key() -> str:
    """A new url-safe base64 key for HUB_SECRET_KEYS."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


@dataclass(frozen=True)
class _Key:
    kid: bytes
    aead: AESGCM
    index_key: bytes


def _make_key(raw: bytes) -> _Key:
    return _Key(
        kid=hashlib.sha256(b"kid" + raw).digest()[:4],
        aead=AESGCM(_derive(raw, b"aead")),
        index_key=_derive(raw, b"blind-index"),
    )


@dataclass(frozen=True)
class Keyring:
    raw_keys: tuple[bytes, ...]
    _keys: tuple[_Key, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.raw_keys:
            raise ValueError("a keyring needs at least one key")
        object.__setattr__(self, "_keys", tuple(_make_key(k) for k in self.raw_keys))

    def __repr__(self) -> str:
        return f"Keyring({len(self.raw_keys)} keys)"

    def encrypt(self, plaintext: bytes, aad: bytes) -> bytes:
        key = self._keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + key.kid + nonce + key.aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, token: bytes, aad: bytes) -> bytes:
        if len(token) < 1 + 4 + _NONCE_BYTES + 16 or token[:1] != _VERSION:
            raise DecryptionError("not a hub ciphertext")
        kid, nonce, body = token[1:5], token[5 : 5 + _NONCE_BYTES], token[5 + _NONCE_BYTES :]
        for key in self._keys:
            if key.kid == kid:
                try:
                    return key.aead.decrypt(nonce, body, aad)
                except InvalidTag:
                    raise DecryptionError("ciphertext does not verify for this row") from None
        raise DecryptionError("made under a key that is no longer in HUB_SECRET_KEYS")

    def is_current(self, token: bytes) -> bool:
        """Whether a token is already under the newest key (rotation skips those)."""
        return token[1:5] == self._keys[0].kid

    def encrypt_str(self, plaintext: str, aad: str) -> bytes:
        return self.encrypt(plaintext.encode(), aad.encode())

    def decrypt_str(self, token: bytes, aad: str) -> str:
        return self.decrypt(token, aad.encode()).decode()

    def blind_index(self, value: str) -> str:
        """The look-up index of a value under the newest key."""
        return self._index(self._keys[0], value)

    def blind_indexes(self, value: str) -> list[str]:
        """The value's index under every key of the ring (newest first), for look-ups during rotation."""
        return [self._index(k, value) for k in self._keys]

    @staticmethod
    def _index(key: _Key, value: str) -> str:
        return hmac.new(key.index_key, value.encode(), hashlib.sha256).hexdigest()[:40]
