"""The pure window rules: what a referral's window holds, how its status reads, which booking wins."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from hub.concierge import windows

T = dt.datetime(2026, 11, 20, 20, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("visit", "inside"),
    [
        (T - 12 * H - dt.timedelta(seconds=1), False),
        (T - 12 * H, True),
        (T, True),
        (T + 24 * H, True),
        (T + 24 * H + dt.timedelta(seconds=1), False),
    ],
)
def test_the_default_window_is_12_hours_before_to_24_after(visit: dt.datetime, inside: bool) -> None:
    """Both edges belong to the window."""
    assert windows.window_of(T).contains(visit) is inside


@pytest.mark.parametrize(
    ("stored", "now", "shown"),
    [
        ("booked", T, "booked"),
        ("booked", T + 24 * H, "booked"),
        ("booked", T + 24 * H + dt.timedelta(seconds=1), "expired"),
        ("visited", T + 100 * H, "visited"),
        ("cancelled", T + 100 * H, "cancelled"),
    ],
)
def test_a_booked_referral_reads_expired_once_its_window_closed(
    stored: str, now: dt.datetime, shown: str
) -> None:
    """Expiry is a reading of booked + closed window; visited and cancelled never expire."""
    assert windows.shown_status(stored, T + 24 * H, now) == shown


def _candidate(expected: dt.datetime, n: int) -> windows.Candidate:
    return windows.Candidate(
        referral_id=uuid.UUID(int=n), expected_at=expected, window=windows.window_of(expected)
    )


def test_the_closest_expected_time_wins_then_the_earlier_booking() -> None:
    """Of the bookings whose window holds the visit, the nearest expected time wins; a tie goes to the
    earlier booking; none inside gives None."""
    near, far, outside = _candidate(T + H, 2), _candidate(T - 5 * H, 1), _candidate(T + 20 * H, 3)
    assert windows.choose([far, near, outside], T) == near.referral_id
    twin = _candidate(T - H, 1)
    assert windows.choose([near, twin], T) == twin.referral_id
    assert windows.choose([outside], T) is None
    assert windows.choose([], T) is None
