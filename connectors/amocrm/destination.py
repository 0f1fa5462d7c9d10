"""amoCRM destination: every guest event becomes one text note on the guest's contact, written once.

Once: refs ("note", event id) is written after amoCRM took the note, and checked first. When a write
may have happened without our knowing (a timeout on the POST, or any retry: the process may have died
between the POST and the refs write), the contact's recent notes are read back and searched for the
event's marker before anything is written again.

The contact: `visit.verified` is found by the guest's phone (refs ("contact", sha256(phone)) caches the
id), created when amoCRM has none. Receipts, refunds and referrals carry no phone; they follow the
visit or receipt they name to the contact remembered when that visit was delivered. Without a phone
(personal_data other than "full") or such a link there is no contact to write on: PermanentError,
since no retry can change that.
"""

from __future__ import annotations

import uuid

from connectors.amocrm import mapping
from connectors.amocrm.client import PROCESS_RATE_LIMITS, AmoCrmClient, RateLimits
from connectors.base import Attempt, ConnectorConfig, DeliveryJob, Runtime
from connectors.errors import PermanentError


class AmoCrmDestination:
    def __init__(self, runtime: Runtime, *, rate_limits: RateLimits = PROCESS_RATE_LIMITS) -> None:
        self._runtime = runtime
        self._refs = runtime.refs
        self._rate_limits = rate_limits

    async def deliver(self, connector: ConnectorConfig, job: DeliveryJob, attempt: Attempt) -> None:
        """Write the event's note on the guest's contact unless it is already there."""
        if job.event_type not in mapping.NOTE_EVENTS:
            attempt.detail = f"{job.event_type} makes no note in amoCRM"
            return
        if await self._noted(connector, job.event_id):
            attempt.detail = "the note was written before"
            return
        client = self._client(connector, attempt)
        contact_id = await self._contact_for(client, connector, job, may_create=True)
        assert contact_id is not None  # noqa: S101  # may_create either finds, creates or raises
        if (job.needs_reconcile or job.attempt > 1) and await self._read_back(
            client, connector, job.event_id, contact_id
        ):
            attempt.detail = f"the note was already on contact {contact_id}"
            return
        note = mapping.note_for(job.envelope, job.event_id, contact_id)
        note_id = await client.add_note(contact_id, note)
        await self._refs.put(connector.id, "note", str(job.event_id), str(note_id or ""))
        attempt.detail = f"note {note_id} on contact {contact_id}"

    async def reconcile(self, connector: ConnectorConfig, job: DeliveryJob) -> bool:
        """True if the contact already shows this event's note (read back, never written)."""
        if await self._noted(connector, job.event_id):
            return True
        client = self._client(connector, Attempt())
        contact_id = await self._contact_for(client, connector, job, may_create=False)
        if contact_id is None:
            return False
        return await self._read_back(client, connector, job.event_id, contact_id)

    def _client(self, connector: ConnectorConfig, attempt: Attempt) -> AmoCrmClient:
        runtime = self._runtime
        limiter = self._rate_limits.for_connector(connector.id)
        return AmoCrmClient(runtime.http, runtime.tokens, runtime.clock, connector, limiter, attempt)

    async def _noted(self, connector: ConnectorConfig, event_id: uuid.UUID) -> bool:
        return await self._refs.get(connector.id, "note", str(event_id)) is not None

    async def _read_back(
        self, client: AmoCrmClient, connector: ConnectorConfig, event_id: uuid.UUID, contact_id: int
    ) -> bool:
        """Look for the event's marker among the contact's recent notes; remember the note if found."""
        note_id = mapping.find_event_note(await client.recent_notes(contact_id), event_id)
        if note_id is None:
            return False
        await self._refs.put(connector.id, "note", str(event_id), str(note_id))
        return True

    async def _contact_for(
        self, client: AmoCrmClient, connector: ConnectorConfig, job: DeliveryJob, *, may_create: bool
    ) -> int | None:
        phone = mapping.member_phone(job.envelope, connector.personal_data)
        if phone is not None:
            contact_id = await self._contact_by_phone(client, connector, job, phone, may_create=may_create)
        else:
            contact_id = await self._contact_by_link(connector, job)
        if contact_id is None:
            if may_create:
                raise PermanentError(_no_contact_reason(connector, job))
            return None
        for kind, key in mapping.links_to_remember(job.envelope):
            await self._refs.put(connector.id, kind, key, str(contact_id))
        return contact_id

    async def _contact_by_phone(
        self,
        client: AmoCrmClient,
        connector: ConnectorConfig,
        job: DeliveryJob,
        phone: str,
        *,
        may_create: bool,
    ) -> int | None:
        key = mapping.phone_key(phone)
        cached = await self._refs.get(connector.id, "contact", key)
        if cached is not None:
            return int(cached)
        contact_id = mapping.matching_contact(await client.find_contacts(mapping.search_query(phone)), phone)
        if contact_id is None and may_create:
            new = mapping.new_contact(phone, job.envelope)
            contact_id = await client.create_contact(new)
        if contact_id is not None:
            await self._refs.put(connector.id, "contact", key, str(contact_id))
        return contact_id

    async def _contact_by_link(self, connector: ConnectorConfig, job: DeliveryJob) -> int | None:
        for kind, key in mapping.contact_links(job.envelope):
            found = await self._refs.get(connector.id, kind, key)
            if found is not None:
                return int(found)
        return None


def _no_contact_reason(connector: ConnectorConfig, job: DeliveryJob) -> str:
    if job.event_type == "visit.verified":
        return (
            f"amoCRM contacts are found by phone, and this connector's personal_data is "
            f"{connector.personal_data!r}: only 'full' carries the guest's phone, so there is no contact "
            f"to write the note on"
        )
    return (
        f"no amoCRM contact is known for this {job.event_type}: the guest's visit.verified was not "
        f"delivered to this connector (it needs personal_data 'full' and must come first)"
    )
