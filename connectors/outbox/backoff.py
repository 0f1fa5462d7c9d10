"""When to try a failed delivery again (pure): exponential with jitter, about three days in all."""

from __future__ import annotations

import random
from collections.abc import Callable

BASE_SECONDS = 5.0
CAP_SECONDS = 6 * 3600.0
MAX_ATTEMPTS = 24  # 5 s, 10 s, 20 s … then every ~6 h: about three days before a delivery is dead


def next_delay(
    attempt: int,
    *,
    base: float = BASE_SECONDS,
    cap: float = CAP_SECONDS,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based), jittered ±50 % so retries spread."""
    exponential = min(cap, base * 2.0 ** max(0, attempt - 1))
    return exponential * (0.5 + rand())


def schedule_seconds(
    max_attempts: int = MAX_ATTEMPTS, base: float = BASE_SECONDS, cap: float = CAP_SECONDS
) -> float:
    """The total wait, without jitter, from the first attempt to the last."""
    return sum(min(cap, base * 2.0 ** (n - 1)) for n in range(1, max_attempts))
