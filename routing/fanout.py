"""Which connector gets which event, and with which personal data (pure).

A coalition program's connectors get every event of that program; a venue's connectors get the
events at that venue whatever the program (they learn the guest came through it). A connector taking
visit.verified also gets visit.cancelled, so it never keeps counting a visit that was cancelled.
Personal data is cut to the connector's level: `full` keeps the phone, `masked` shows it masked,
`none` drops the member's contact entirely (the member id and tier stay: they are not contact data).

The recipient does not choose its own level: a venue's connector gets at most what the event's
program allows venues (`venue_personal_data_max`, set by the program's owner), decided at delivery
time, so lowering a program's maximum covers deliveries already queued and replays.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = ("visit.verified", "visit.cancelled", "receipt.closed", "receipt.refunded", "referral.visited")
# a connector that takes an event also takes what undoes it: whoever got the visit hears it was cancelled
IMPLIED_BY = {"visit.cancelled": "visit.verified"}
PERSONAL_LEVELS = ("none", "masked", "full")


def lower_level(first: str, second: str) -> str:
    """The less personal of two levels (none < masked < full)."""
    return min(first, second, key=PERSONAL_LEVELS.index)


def delivered_level(connector_level: str, *, is_venue_owned: bool, venue_max: str) -> str:
    """What a connector receives of an event: a venue's connector at most the program's venue maximum."""
    return lower_level(connector_level, venue_max) if is_venue_owned else connector_level


@dataclass(frozen=True)
class Route:
    connector_id: uuid.UUID
    owner_program_id: uuid.UUID | None
    owner_venue_id: uuid.UUID | None
    events: frozenset[str]
    is_enabled: bool = True


def receives(events: Iterable[str]) -> frozenset[str]:
    """The event types a connector subscribed to `events` is sent (its own, and what undoes them)."""
    chosen = set(events)
    return frozenset(chosen | {undo for undo, done in IMPLIED_BY.items() if done in chosen})


def route(
    event_type: str, program_id: uuid.UUID, venue_id: uuid.UUID, connectors: Iterable[Route]
) -> list[uuid.UUID]:
    """The connectors this event goes to, in a stable order."""
    chosen = {
        c.connector_id
        for c in connectors
        if c.is_enabled
        and event_type in receives(c.events)
        and (c.owner_program_id == program_id or c.owner_venue_id == venue_id)
    }
    return sorted(chosen)


def cut_personal(
    envelope: dict[str, Any], personal: dict[str, Any] | None, level: str, *, in_place: bool = False
) -> dict[str, Any]:
    """The envelope as this connector may see it: the phone in full, masked, or not at all.

    `personal` is what was stored encrypted beside the event: {"phone": E.164, "phone_masked": …}.
    A copy unless `in_place` (for an envelope decoded for this one connector).
    """
    if level not in PERSONAL_LEVELS:
        raise ValueError(f"unknown personal data level {level!r}")
    result = envelope if in_place else copy.deepcopy(envelope)
    member = result.get("data", {}).get("member")
    if not isinstance(member, dict):
        return result
    personal = personal or {}
    if level == "full" and personal.get("phone"):
        member["phone"] = personal["phone"]
    elif level == "masked" and personal.get("phone_masked"):
        member["phone"] = personal["phone_masked"]
    else:
        member.pop("phone", None)
    return result
