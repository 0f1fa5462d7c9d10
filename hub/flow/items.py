"""How many items a check holds (pure): what `items_per_check` counts."""

from __future__ import annotations

from collections.abc import Iterable

from partners.rules import MILLI


def item_count(quantities_milli: Iterable[int]) -> int:
    """Each line counts its quantity when it is a whole number (3 x a dish is 3 items); a line sold by
    weight or volume (0.35 kg, 1.5 l) is one item."""
    return sum(q // MILLI if q % MILLI == 0 else 1 for q in quantities_milli)
