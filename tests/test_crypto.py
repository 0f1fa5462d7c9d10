"""Secrets at rest: AES-GCM bound to its row, key rotation, and blind indexes for look-up."""

from __future__ import annotations

import pytest

from hub.crypto import DecryptionError, Keyring

OLD = b"o" * 32
NEW = b"n" * 32
AAD = b"member.phone:00000000-0000-0000-0000-000000000001"


def test_round_trip() -> None:
    """What is encrypted for a row decrypts for that row."""
    ring = Keyring((NEW,))
    token = ring.encrypt(b"+79161234567", AAD)
    assert ring.decrypt(token, AAD) == b"+79161234567"
    assert ring.decrypt_str(ring.encrypt_str("hello", "row:1"), "row:1") == "hello"


def test_ciphertext_hides_the_plaintext_and_is_randomised() -> None:
    """The token does not contain the plaintext, and two encryptions of one value differ."""
    ring = Keyring((NEW,))
    first, second = ring.encrypt(b"+79161234567", AAD), ring.encrypt(b"+79161234567", AAD)
    assert b"79161234567" not in first
    assert first != second


def test_bound_to_the_row() -> None:
    """A token moved to another row (other associated data) does not decrypt."""
    ring = Keyring((NEW,))
    token = ring.encrypt(b"secret", AAD)
    with pytest.raises(DecryptionError, match="does not verify"):
        ring.decrypt(token, b"member.phone:00000000-0000-0000-0000-000000000002")


@pytest.mark.parametrize("position", [1, 5, 20, -1])
def test_tampering_is_detected(position: int) -> None:
    """Flipping any byte of a token (key id, nonce, body or tag) makes it refuse to decrypt."""
    ring = Keyring((NEW,))
    token = bytearray(ring.encrypt(b"secret", AAD))
    token[position] ^= 0x01
    with pytest.raises(DecryptionError):
        ring.decrypt(bytes(token), AAD)


@pytest.mark.parametrize("token", [b"", b"\x01short", b"\x02" + b"x" * 40])
def test_garbage_is_not_a_token(token: bytes) -> None:
    """Short tokens and unknown versions are refused, not crashed on."""
    with pytest.raises(DecryptionError, match="not a hub ciphertext"):
        Keyring((NEW,)).decrypt(token, AAD)


def test_rotation_reads_old_tokens_and_writes_under_the_newest_key() -> None:
    """With a new key put first, old tokens still decrypt and new ones use the new key."""
    old_ring = Keyring((OLD,))
    old_token = old_ring.encrypt(b"secret", AAD)
    rotated = Keyring((NEW, OLD))
    assert rotated.decrypt(old_token, AAD) == b"secret"
    assert not rotated.is_current(old_token)
    new_token = rotated.encrypt(b"secret", AAD)
    assert rotated.is_current(new_token)
    with pytest.raises(DecryptionError, match="no longer in HUB_SECRET_KEYS"):
        old_ring.decrypt(new_token, AAD)


def test_a_dropped_key_is_reported_as_such() -> None:
    """A token under a key that left the ring says so."""
    token = Keyring((OLD,)).encrypt(b"secret", AAD)
    with pytest.raises(DecryptionError, match="no longer in HUB_SECRET_KEYS"):
        Keyring((NEW,)).decrypt(token, AAD)


def test_blind_index_is_deterministic_keyed_and_rotation_aware() -> None:
    """The same value indexes the same under one key, differently under another; during rotation the
    look-up set holds both."""
    old_ring, new_ring, rotated = Keyring((OLD,)), Keyring((NEW,)), Keyring((NEW, OLD))
    value = "+79161234567"
    assert old_ring.blind_index(value) == old_ring.blind_index(value)
    assert old_ring.blind_index(value) != new_ring.blind_index(value)
    assert old_ring.blind_index(value) != old_ring.blind_index("+79161234568")
    assert value not in old_ring.blind_index(value)
    assert rotated.blind_index(value) == new_ring.blind_index(value)
    assert rotated.blind_indexes(value) == [new_ring.blind_index(value), old_ring.blind_index(value)]


def test_an_empty_ring_is_refused() -> None:
    """A keyring needs at least one key."""
    with pytest.raises(ValueError, match="at least one key"):
        Keyring(())


def test_repr_shows_no_key_material() -> None:
    """A keyring printed in a log names how many keys it has, not the keys."""
    assert repr(Keyring((NEW, OLD))) == "Keyring(2 keys)"
