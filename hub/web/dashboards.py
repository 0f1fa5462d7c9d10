"""The venue dashboard (venue, partner, admin) and the concierge page (concierge, admin)."""

from __future__ import annotations

from typing import Any

HANDLERS: list[Any] = []
