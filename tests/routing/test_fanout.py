"""Event routing rules (pure): which connectors an event goes to."""

from __future__ import annotations

import uuid

import pytest

from routing.fanout import EVENT_TYPES, Route, receives, route

PROGRAM, VENUE, ELSEWHERE = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)


@pytest.mark.parametrize(
    ("events", "gets"),
    [
        ({"visit.verified"}, {"visit.verified", "visit.cancelled"}),
        ({"visit.cancelled"}, {"visit.cancelled"}),
        ({"receipt.closed"}, {"receipt.closed"}),
        (set(), set()),
    ],
)
def test_a_connector_taking_a_visit_also_hears_its_cancellation(events: set[str], gets: set[str]) -> None:
    """visit.verified implies visit.cancelled; no other subscription grows."""
    assert receives(events) == gets


def test_visit_cancelled_routes_like_the_visit() -> None:
    """The program's and the venue's connectors that took the visit get its cancellation; others not."""
    connectors = [
        Route(uuid.UUID(int=10), PROGRAM, None, frozenset({"visit.verified"})),
        Route(uuid.UUID(int=11), None, VENUE, frozenset({"visit.verified"})),
        Route(uuid.UUID(int=12), None, VENUE, frozenset({"receipt.closed"})),
        Route(uuid.UUID(int=13), None, ELSEWHERE, frozenset({"visit.verified"})),
        Route(uuid.UUID(int=14), None, VENUE, frozenset({"visit.verified"}), is_enabled=False),
    ]
    assert route("visit.cancelled", PROGRAM, VENUE, connectors) == [uuid.UUID(int=10), uuid.UUID(int=11)]
    assert "visit.cancelled" in EVENT_TYPES
