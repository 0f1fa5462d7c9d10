"""IikoDestination: a coalition guest's visit and check, written into the venue's iikoCloud.

visit.verified  the guest is created or found by phone (customer/create_or_update is an upsert,
                so a repeat finds the same guest), then marked as coming through the program:
                by the guest category in settings["category_id"] (customer_category/add), or
                else by a comment line "came through <program>" appended to theirs. iiko's
                customer id is remembered in refs ("customer", member id) and ("visit", visit id).
                Without a full phone (the connector's personal_data is not "full", or the member
                has none) the event is delivered as a no-op and attempt.detail says why: the
                venue chose that level, nothing is broken, and a dead letter would alert someone
                for a configuration working as designed (replaying it could not succeed either).
receipt.closed  iiko records the check itself when the restaurant's POS closes it (a CloseOrder
                transaction in the guest's report), and its loyalty accrues by its own rules, so
                by default nothing is written. A connector may opt in to a coalition accrual
                (settings accrual_wallet_id + accrual_percent): a customer/wallet/topup whose
                comment carries the event id. iiko takes no idempotency key, so a lost answer is
                OutcomeUnknownError and reconcile() reads the guest's transactions back.
other events    nothing in iiko corresponds: delivered as a no-op.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.base import Attempt, ConnectorConfig, DeliveryJob, Runtime
from connectors.errors import PermanentError
from connectors.iiko import mapping, wire
from connectors.iiko.client import DEFAULT_GRACE_SECONDS, DEFAULT_TIMEOUT_SECONDS, IikoClient


class IikoDestination:
    """The Destination for connectors of kind "iiko"."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self._runtime = runtime
        self._timeout_seconds = timeout_seconds
        self._grace_seconds = grace_seconds

    def client(self, connector: ConnectorConfig, attempt: Attempt | None = None) -> IikoClient:
        return IikoClient(
            self._runtime.http,
            self._runtime.tokens,
            connector,
            self._runtime.clock,
            attempt=attempt,
            timeout_seconds=self._timeout_seconds,
            grace_seconds=self._grace_seconds,
        )

    async def deliver(self, connector: ConnectorConfig, job: DeliveryJob, attempt: Attempt) -> None:
        """Write the event's effect in iiko; raise a connectors.errors error unless it is there."""
        settings = _settings(connector)
        client = self.client(connector, attempt)
        if job.event_type == "visit.verified":
            await self._visit(client, connector, settings, job, attempt)
        elif job.event_type == "receipt.closed":
            await self._receipt(client, connector, settings, job, attempt)
        else:
            attempt.detail = f"delivered as a no-op: iiko has nothing that corresponds to {job.event_type}"

    async def reconcile(self, connector: ConnectorConfig, job: DeliveryJob) -> bool:
        """After an unknown outcome: read iiko back to see whether the event's effect is there."""
        settings = _settings(connector)
        client = self.client(connector)
        if job.event_type == "visit.verified":
            return await self._visit_applied(client, connector, settings, job)
        if job.event_type == "receipt.closed":
            return await self._topup_applied(client, connector, settings, job)
        return True  # nothing is written for other events

    async def _visit(
        self,
        client: IikoClient,
        connector: ConnectorConfig,
        settings: mapping.IikoSettings,
        job: DeliveryJob,
        attempt: Attempt,
    ) -> None:
        plan = mapping.visit_plan(job.envelope, connector.personal_data)
        if isinstance(plan, mapping.Skip):
            attempt.detail = f"delivered as a no-op: {plan.reason}"
            return
        customer_id = await client.create_or_update(mapping.upsert_by_phone(plan, settings.organization_id))
        await self._remember(connector, plan, customer_id)
        by_id = wire.CustomerInfoById(id=customer_id, organization_id=settings.organization_id)
        info = await client.customer_info(by_id)
        await _mark(client, settings, plan, info)
        attempt.detail = f"iiko guest {customer_id} marked {plan.mark!r}"

    async def _visit_applied(
        self, client: IikoClient, connector: ConnectorConfig, settings: mapping.IikoSettings, job: DeliveryJob
    ) -> bool:
        plan = mapping.visit_plan(job.envelope, connector.personal_data)
        if isinstance(plan, mapping.Skip):
            return True
        query = wire.CustomerInfoByPhone(phone=plan.phone, organization_id=settings.organization_id)
        info = await client.find_customer(query)
        if info is None:
            return False
        await self._remember(connector, plan, info.id)
        return mapping.is_marked(info, plan.mark, settings.category_id)

    async def _receipt(
        self,
        client: IikoClient,
        connector: ConnectorConfig,
        settings: mapping.IikoSettings,
        job: DeliveryJob,
        attempt: Attempt,
    ) -> None:
        topup = await self._planned_topup(connector, settings, job)
        if isinstance(topup, mapping.Skip):
            attempt.detail = f"delivered as a no-op: {topup.reason}"
            return
        if job.needs_reconcile and await self._topup_applied(client, connector, settings, job):
            attempt.detail = "the wallet top-up from an earlier attempt is already in iiko"
            return
        await client.wallet_topup(topup)
        attempt.detail = f"topped up {topup.sum} on wallet {topup.wallet_id} of guest {topup.customer_id}"

    async def _topup_applied(
        self, client: IikoClient, connector: ConnectorConfig, settings: mapping.IikoSettings, job: DeliveryJob
    ) -> bool:
        topup = await self._planned_topup(connector, settings, job)
        if isinstance(topup, mapping.Skip):
            return True
        around = _occurred_at(job.envelope) or self._runtime.clock.now()
        window = mapping.transactions_window(topup.customer_id, settings.organization_id, around)
        return mapping.has_operation(await client.transactions(window), str(job.event_id))

    async def _planned_topup(
        self, connector: ConnectorConfig, settings: mapping.IikoSettings, job: DeliveryJob
    ) -> wire.ChangeUserBalanceRequest | mapping.Skip:
        if settings.accrual_wallet_id is None or settings.accrual_percent is None:
            return mapping.Skip("iiko records the check itself when the POS closes it; no accrual set up")
        data = job.envelope.get("data") or {}
        customer_id = await self._runtime.refs.get(connector.id, "visit", str(data.get("visit_id")))
        if customer_id is None:
            return mapping.Skip("the visit's guest is not in iiko (no full phone was shared)")
        amount = mapping.accrual_sum(int(data.get("total_minor") or 0), settings.accrual_percent)
        if amount <= 0:
            return mapping.Skip("the accrual for this check rounds to zero")
        return mapping.topup_request(
            customer_id, settings.accrual_wallet_id, settings.organization_id, amount, str(job.event_id)
        )

    async def _remember(self, connector: ConnectorConfig, plan: mapping.VisitPlan, customer_id: str) -> None:
        await self._runtime.refs.put(connector.id, "customer", plan.member_id, customer_id)
        await self._runtime.refs.put(connector.id, "visit", plan.visit_id, customer_id)


async def customer_info(
    runtime: Runtime,
    connector: ConnectorConfig,
    *,
    phone: str | None = None,
    card_track: str | None = None,
    card_number: str | None = None,
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> mapping.IikoCustomerInfo | None:
    """For a venue program delegated to iiko: the guest's category (tier) and balance, None if unknown."""
    organization_id = _settings(connector).organization_id
    query: wire.CustomerInfoRequest
    if phone is not None:
        query = wire.CustomerInfoByPhone(phone=phone, organization_id=organization_id)
    elif card_track is not None:
        query = wire.CustomerInfoByCardTrack(card_track=card_track, organization_id=organization_id)
    elif card_number is not None:
        query = wire.CustomerInfoByCardNumber(card_number=card_number, organization_id=organization_id)
    else:
        raise ValueError("customer_info needs a phone, a card track or a card number")
    client = IikoClient(
        runtime.http,
        runtime.tokens,
        connector,
        runtime.clock,
        timeout_seconds=timeout_seconds,
        grace_seconds=grace_seconds,
    )
    info = await client.find_customer(query)
    return mapping.customer_summary(info) if info is not None else None


async def _mark(
    client: IikoClient,
    settings: mapping.IikoSettings,
    plan: mapping.VisitPlan,
    info: wire.CustomerInfoResponse,
) -> None:
    """Mark the guest as sent by the program, unless an earlier attempt already did."""
    if mapping.is_marked(info, plan.mark, settings.category_id):
        return
    if settings.category_id is not None:
        body = wire.ChangeCategoryForCustomerRequest(
            customer_id=info.id, category_id=settings.category_id, organization_id=settings.organization_id
        )
        await client.add_category(body)
        return
    comment = mapping.merged_comment(info.comment, plan.mark)
    if comment is not None:
        await client.create_or_update(mapping.comment_update(info.id, comment, settings.organization_id))


def _settings(connector: ConnectorConfig) -> mapping.IikoSettings:
    try:
        return mapping.settings_of(connector.auth, connector.settings)
    except (ValueError, ArithmeticError) as exc:
        raise PermanentError(f"iiko connector misconfigured: {exc}") from exc


def _occurred_at(envelope: dict[str, Any]) -> dt.datetime | None:
    value = envelope.get("occurred_at")
    if not isinstance(value, str):
        return None
    try:
        at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None
