"""Ids are UUIDv7, unique, and strictly increasing within a process (rows of one transaction keep order)."""

from __future__ import annotations

import uuid

from hub.ids import new_id


def test_ids_increase_strictly_even_within_a_millisecond() -> None:
    """100,000 ids in a row (many per millisecond) come out unique and in order."""
    ids = [new_id() for _ in range(100_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_version_7() -> None:
    """Each id is a version-7 UUID with the RFC variant, and its first 48 bits are the time in ms."""
    value = new_id()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
