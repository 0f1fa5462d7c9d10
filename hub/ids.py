"""Time-ordered UUIDs (version 7, RFC 9562): unguessable, and they index and paginate in creation order.

Within one process the ids are strictly increasing (RFC 9562 §6.2, method 3: when the clock has not
moved on, the previous id plus one), so rows written in one transaction keep their order — the
outbox relies on it for per-guest delivery order.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = 0


def _fresh() -> int:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a (12 bits)
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return value


def new_id() -> uuid.UUID:
    global _last
    value = _fresh()
    with _lock:
        if value <= _last:
            # same millisecond (or the clock stepped back): keep order, stay in the variant's bits
            value = _last + 1
            if (value >> 62) & 0b11 != 0b10:  # rand_b overflowed into the variant: carry into rand_a
                value = (((value >> 64) + 1) << 64) | (0b10 << 62)
        _last = value
    return uuid.UUID(int=value)
