"""What every destination implements, and what the dispatcher hands it.

A destination (one per connector kind: rest, iiko, amocrm) turns one event envelope into calls to
its CRM/POS. It raises the errors of connectors.errors; returning means delivered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from hub.clock import Clock


@dataclass(frozen=True)
class ConnectorConfig:
    id: uuid.UUID
    name: str
    kind: str  # rest | iiko | amocrm
    url: str
    auth: dict[str, Any]  # public and secret fields together, decrypted; never log it
    settings: dict[str, Any]
    personal_data: str  # none | masked | full
    signing_secrets: tuple[str, ...] = ()  # whsec_…, newest first (two during a rotation)
    owner_venue_id: uuid.UUID | None = None  # a venue's own connector (else the program's)

    def __repr__(self) -> str:
        return f"ConnectorConfig({self.kind} {self.id} {self.name!r})"


@dataclass(frozen=True)
class DeliveryJob:
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    envelope: dict[str, Any]  # already cut to the connector's personal_data level
    attempt: int  # 1 for the first attempt
    needs_reconcile: bool = False  # the previous attempt's outcome is unknown
    request_id: str | None = None


@dataclass
class Attempt:
    """What an attempt did, for the delivery log (the destination fills it in as it goes)."""

    status_code: int | None = None
    detail: str = ""
    calls: list[str] = field(default_factory=list)


class TokenSource(Protocol):
    async def token(self, connector: ConnectorConfig, *, force_refresh: bool = False) -> str:
        """A valid access token for this connector (cached, shared by all processes)."""
        ...


class RefStore(Protocol):
    """Remembers what a destination created for us (contact ids, note ids), so retries never write twice."""

    async def get(self, connector_id: uuid.UUID, kind: str, key: str) -> str | None: ...

    async def put(self, connector_id: uuid.UUID, kind: str, key: str, value: str) -> None: ...


@dataclass(frozen=True)
class Runtime:
    """The process-wide parts a destination may use."""

    http: aiohttp.ClientSession  # the one session, with the egress guard; never follow redirects
    tokens: TokenSource
    refs: RefStore
    clock: Clock


class Destination(Protocol):
    async def deliver(self, connector: ConnectorConfig, job: DeliveryJob, attempt: Attempt) -> None:
        """Deliver one event; raise a connectors.errors error unless it was delivered."""
        ...

    async def reconcile(self, connector: ConnectorConfig, job: DeliveryJob) -> bool:
        """After an unknown outcome: True if the destination already has this event's effect."""
        ...
