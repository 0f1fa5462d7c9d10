"""Who is asking: the role and tenant scope of an API key, passed to services as a filter."""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

Role = Literal["admin", "concierge", "partner", "venue", "terminal"]
ROLES: tuple[Role, ...] = ("admin", "concierge", "partner", "venue", "terminal")


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    role: Role
    key_id: uuid.UUID | None = None
    program_ids: frozenset[uuid.UUID] = frozenset()
    partner_id: uuid.UUID | None = None
    venue_id: uuid.UUID | None = None
    terminal_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


ADMIN = Scope(role="admin")
