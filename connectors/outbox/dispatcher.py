"""The outbox dispatcher: claims due deliveries, delivers them, records every attempt.

Claims use SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite's BEGIN IMMEDIATE lets one
process claim at a time) and a lease (claimed_until): a claim held by a process that died is
taken back when its lease runs out, 60 s by default. Only the oldest open delivery of each
(connector, member) is claimable, so per-member order holds and one stuck member blocks only
itself. First attempts sort before retries, so a backlog of retries never starves fresh events.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from connectors.base import Attempt, ConnectorConfig, DeliveryJob, Destination
from connectors.errors import (
    DeliveryError,
    GoneError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitError,
    ReconsentError,
    TransientError,
)
from connectors.models import Connector, Delivery, DeliveryAttempt
from connectors.outbox import backoff
from connectors.outbox.models import OutboxEvent
from connectors.outbox.writer import personal_aad
from connectors.secrets import config_of
from hub import metrics
from hub.clock import Clock
from hub.crypto import Keyring
from hub.db import Database
from hub.db.base import UtcDateTime
from hub.logs import REQUEST_ID
from routing.fanout import cut_personal

log = logging.getLogger("hub.dispatcher")
OPEN = ("pending", "retrying")


@dataclass(frozen=True)
class DispatchSettings:
    poll_seconds: float = 0.2
    batch_size: int = 64
    lease_seconds: float = 60.0
    attempt_timeout_seconds: float = 30.0  # well inside the lease: an attempt never outlives its claim
    per_connector_concurrency: int = 8
    max_attempts: int = backoff.MAX_ATTEMPTS
    backoff_base_seconds: float = backoff.BASE_SECONDS
    backoff_cap_seconds: float = backoff.CAP_SECONDS
    breaker_after_seconds: float = 900.0  # failing continuously this long → paused
    breaker_probe_seconds: float = 60.0  # then one probe delivery after this pause
    reconsent_recheck_seconds: float = 300.0
    record_batch: int = 256  # attempts recorded in one transaction (group commit)
    config_cache_seconds: float = (
        30.0  # a decrypted connector config is reused this long (or until it changes)
    )


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Outcome:
    """A finished attempt waiting to be recorded (recorded in batches: one commit for many attempts)."""

    item: Claimed
    attempt: Attempt
    error: DeliveryError | None
    started_at: dt.datetime
    latency_ms: int
    done: asyncio.Future[None]


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    connector_id: uuid.UUID
    attempts: int
    needs_reconcile: bool
    loaded: tuple[Any, Any, dt.datetime] | None = None  # (Delivery, OutboxEvent, connector changed at)
    claimed_at: float = dataclasses.field(default_factory=time.monotonic)


class Dispatcher:
    def __init__(
        self,
        database: Database,
        keyring: Keyring,
        clock: Clock,
        destinations: Mapping[str, Destination],
        settings: DispatchSettings | None = None,
        worker: str | None = None,
    ) -> None:
        self.database = database
        self.keyring = keyring
        self.clock = clock
        self.destinations = destinations
        self.settings = settings or DispatchSettings()
        self.worker = worker or worker_name()
        self._in_flight: dict[uuid.UUID, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self._configs: dict[uuid.UUID, tuple[dt.datetime, float, ConnectorConfig]] = {}
        self._slots: dict[uuid.UUID, asyncio.Semaphore] = {}

    def wake(self) -> None:
        """Look for work now instead of at the next poll (called after a commit that enqueued events)."""
        self._wake.set()

    # ---- the loop ----

    async def run(self, stop: asyncio.Event) -> None:
        log.info("dispatcher %s started", self.worker)
        while not stop.is_set():
            try:
                claimed = await self.claim()
            except Exception:  # the database may be restarting: wait and go on
                log.exception("claiming deliveries failed")
                claimed = []
            for item in claimed:
                task = asyncio.create_task(self._deliver_and_release(item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if not claimed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wait(stop), timeout=self.settings.poll_seconds)
        await self.drain()
        log.info("dispatcher %s stopped", self.worker)

    async def _wait(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def drain(self) -> None:
        """Let in-flight attempts finish and be recorded (graceful stop)."""
        if self._tasks:
            grace = self.settings.attempt_timeout_seconds + 30
            await asyncio.wait(
                list(self._tasks), timeout=grace
            )  # unrecorded ones are retried after their lease
        if self._recorder is not None:
            self._recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recorder
            self._recorder = None

    async def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Deliver everything due now (tests, replays): claim, deliver, repeat until nothing is due."""
        done = 0
        for _ in range(max_rounds):
            claimed = await self.claim()
            if not claimed:
                await self.drain()
                if not await self.claim_peek():
                    return done
                continue
            await asyncio.gather(*(self._deliver_and_release(c) for c in claimed))
            done += len(claimed)
        return done

    async def claim_peek(self) -> bool:
        async with self.database.reader() as session:
            return (await session.scalar(self._due_query(self.clock.now()).limit(1))) is not None

    # ---- claiming ----

    def _due_query(self, now: dt.datetime, status: str | None = None) -> Any:
        """Due deliveries (ids only), for peeking and for tests; claims use the prepared CLAIM_QUERY."""
        condition = Delivery.status == status if status is not None else Delivery.status.in_(OPEN)
        query = _claimable(condition, lock=False)
        return query.with_only_columns(Delivery.id).params(now=now, saturated=[])

    def _saturated(self) -> list[uuid.UUID]:
        """Connectors with every slot of this process busy: their backlog must not fill the batch."""
        cap = 2 * self.settings.per_connector_concurrency
        return [connector_id for connector_id, busy in self._in_flight.items() if busy >= cap]

    async def claim(self) -> list[Claimed]:
        now = self.clock.now()
        params = {"now": now, "saturated": self._saturated()}
        batch = self.settings.batch_size
        async with self.database.transaction() as session:
            rows: list[Any] = []
            # first attempts have their own share of the batch, so a backlog of retries never starves them
            for query, share in ((CLAIM_PENDING, batch), (CLAIM_RETRYING, max(1, batch // 4))):
                rows += (await session.execute(query.limit(share), params)).all()
            if not rows:
                return []
            taken = self._within_caps(rows, [r[0] for r in rows])
            if taken:
                lease = now + dt.timedelta(seconds=self.settings.lease_seconds)
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_([c.delivery_id for c in taken]))
                    .values(claimed_by=self.worker, claimed_until=lease)
                )
                taken = await self._prefetch(session, taken)
        return taken

    async def _prefetch(self, session: AsyncSession, taken: list[Claimed]) -> list[Claimed]:
        """Each claimed delivery with its event, read in the claim's own transaction (one query for all)."""
        rows = await session.execute(
            select(Delivery, OutboxEvent, Connector.updated_at)
            .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
            .join(Connector, Connector.id == Delivery.connector_id)
            .where(Delivery.id.in_([c.delivery_id for c in taken]))
        )
        loaded = {row[0].id: (row[0], row[1], row[2]) for row in rows}
        return [dataclasses.replace(c, loaded=loaded.get(c.delivery_id)) for c in taken]

    def _within_caps(self, rows: Any, order: list[uuid.UUID]) -> list[Claimed]:
        """Keep each connector within its concurrency (one probe for a paused connector)."""
        by_id = {r[0]: r for r in rows}
        taken: list[Claimed] = []
        for delivery_id in order:
            _, connector_id, attempts, reconcile, status = by_id[delivery_id]
            # claim up to twice the concurrency: the next attempts wait in memory, not on a claim round trip
            cap = 1 if status == "paused" else 2 * self.settings.per_connector_concurrency
            if self._in_flight.get(connector_id, 0) >= cap:
                continue
            self._in_flight[connector_id] = self._in_flight.get(connector_id, 0) + 1
            taken.append(Claimed(delivery_id, connector_id, attempts, reconcile))
        return taken

    # ---- delivering ----

    async def _deliver_and_release(self, item: Claimed) -> None:
        slots = self._slots.setdefault(
            item.connector_id, asyncio.Semaphore(self.settings.per_connector_concurrency)
        )
        try:
            async with slots:
                # a claim that waited too long for a slot might outlive its lease mid-attempt: give it back
                if (
                    time.monotonic() - item.claimed_at
                    > self.settings.lease_seconds - self.settings.attempt_timeout_seconds
                ):
                    await self._release(item)
                    return
                await self._deliver(item)
        except Exception:
            log.exception(
                "delivery %s crashed; its lease will expire and it will be retried", item.delivery_id
            )
        finally:
            self._in_flight[item.connector_id] -= 1
            self._wake.set()  # a slot is free: look for more work now

    async def _release(self, item: Claimed) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == item.delivery_id, Delivery.claimed_by == self.worker)
                .values(claimed_by=None, claimed_until=None)
            )

    async def _load(self, item: Claimed) -> tuple[ConnectorConfig, DeliveryJob]:
        async with self.database.reader() as session:
            if item.loaded is None:
                item = (await self._prefetch(session, [item]))[0]
            assert item.loaded is not None  # noqa: S101  # the delivery exists: we hold its claim
            delivery, event, changed_at = item.loaded
            config = await self._config(session, item.connector_id, changed_at)
        personal = None
        if event.personal_ciphertext is not None:
            personal = json.loads(self.keyring.decrypt_str(event.personal_ciphertext, personal_aad(event.id)))
        job = DeliveryJob(
            delivery_id=delivery.id,
            event_id=event.id,
            event_type=event.type,
            envelope=cut_personal(event.envelope, personal, config.personal_data),
            attempt=delivery.attempts + 1,
            needs_reconcile=delivery.needs_reconcile,
            request_id=event.request_id,
        )
        return config, job

    async def _config(
        self, session: AsyncSession, connector_id: uuid.UUID, changed_at: dt.datetime
    ) -> ConnectorConfig:
        """The decrypted connector, reused until the row changes (or for config_cache_seconds)."""
        cached = self._configs.get(connector_id)
        if (
            cached is not None
            and cached[0] == changed_at
            and time.monotonic() - cached[1] < self.settings.config_cache_seconds
        ):
            return cached[2]
        connector = await session.get_one(Connector, connector_id)
        config = config_of(self.keyring, connector, self.clock.now())
        self._configs[connector_id] = (changed_at, time.monotonic(), config)
        return config

    async def _deliver(self, item: Claimed) -> None:
        config, job = await self._load(item)
        REQUEST_ID.set(job.request_id)  # this task's log lines carry the id of the request behind the event
        destination = self.destinations.get(config.kind)
        attempt = Attempt()
        started_at = self.clock.now()
        started = time.perf_counter()
        error: DeliveryError | None = None
        try:
            if destination is None:
                raise PermanentError(f"no destination for connector kind {config.kind!r}")
            async with asyncio.timeout(self.settings.attempt_timeout_seconds):
                if job.needs_reconcile and await destination.reconcile(config, job):
                    attempt.detail = "already applied at the destination (reconciled)"
                else:
                    await destination.deliver(config, job, attempt)
        except DeliveryError as exc:
            error = exc
        except TimeoutError:
            error = OutcomeUnknownError(f"no answer within {self.settings.attempt_timeout_seconds:.0f} s")
        latency_ms = int((time.perf_counter() - started) * 1000)
        metrics.DELIVERIES.labels(kind=config.kind, outcome=_outcome(error)).inc()
        metrics.DELIVERY_SECONDS.labels(kind=config.kind).observe(latency_ms / 1000)
        await self._submit(
            Outcome(item, attempt, error, started_at, latency_ms, asyncio.get_running_loop().create_future())
        )

    # ---- recording (group commit) ----

    async def _submit(self, outcome: Outcome) -> None:
        """Queue the outcome and wait until it is committed (the slot stays taken until then)."""
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_forever())
        self._outcomes.append(outcome)
        self._outcome_ready.set()
        await outcome.done

    async def _record_forever(self) -> None:
        while True:
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            while self._outcomes:
                batch = self._outcomes[: self.settings.record_batch]
                try:
                    async with self.database.transaction() as session:
                        await self._record_batch(session, batch)
                except Exception:  # the database may be restarting: keep the outcomes and try again
                    log.exception("recording %d attempts failed; retrying", len(batch))
                    await asyncio.sleep(1.0)
                    continue
                del self._outcomes[: len(batch)]
                for outcome in batch:
                    if not outcome.done.done():
                        outcome.done.set_result(None)

    async def _record_batch(self, session: AsyncSession, batch: list[Outcome]) -> None:
        """Many attempts, one transaction: successes in bulk, failures one by one (breaker logic)."""
        now = self.clock.now()
        successes = [o for o in batch if o.error is None]
        session.add_all(self._attempt_row(o, o.item.attempts + 1) for o in successes)
        if successes:
            table = cast(Table, Delivery.__table__)  # Core table: a plain executemany, one statement
            await session.execute(
                table.update()
                .where(
                    table.c.id == bindparam("b_id"), or_(table.c.status == OPEN[0], table.c.status == OPEN[1])
                )
                .values(
                    status="delivered",
                    delivered_at=now,
                    needs_reconcile=False,
                    attempts=table.c.attempts + 1,
                    claimed_by=None,
                    claimed_until=None,
                    last_status_code=None,
                    last_error=None,
                    first_attempt_at=func.coalesce(table.c.first_attempt_at, bindparam("b_started")),
                ),
                [{"b_id": o.item.delivery_id, "b_started": o.started_at} for o in successes],
            )
            await self._note_successes(session, {o.item.connector_id for o in successes}, now)
        for outcome in batch:
            if outcome.error is not None:
                await self._record(session, outcome, now)

    async def _note_successes(
        self, session: AsyncSession, connector_ids: set[uuid.UUID], now: dt.datetime
    ) -> None:
        """Connector health after successes, written only when it changes (or once a second): no hot row."""
        ids = sorted(connector_ids)
        await session.execute(
            update(Connector)
            .where(
                Connector.id.in_(ids),
                or_(
                    Connector.failing_since.is_not(None),
                    Connector.last_success_at.is_(None),
                    Connector.last_success_at < now - dt.timedelta(seconds=1),
                ),
            )
            .values(last_success_at=now, failing_since=None)
            .execution_options(synchronize_session=False)
        )
        # a successful probe of a paused connector resumes it
        await session.execute(
            update(Connector)
            .where(Connector.id.in_(ids), Connector.status == "paused", Connector.paused_until.is_not(None))
            .values(status="active", paused_until=None, status_reason=None)
            .execution_options(synchronize_session=False)
        )

    def _attempt_row(self, outcome: Outcome, number: int) -> DeliveryAttempt:
        error = outcome.error
        return DeliveryAttempt(
            delivery_id=outcome.item.delivery_id,
            connector_id=outcome.item.connector_id,
            number=number,
            worker=self.worker,
            started_at=outcome.started_at,
            latency_ms=outcome.latency_ms,
            outcome=_outcome(error),
            status_code=error.status_code if error else outcome.attempt.status_code,
            error=(str(error) if error else outcome.attempt.detail or None),
        )

    async def _record(self, session: AsyncSession, outcome: Outcome, now: dt.datetime) -> None:
        delivery = await session.get_one(Delivery, outcome.item.delivery_id, with_for_update=True)
        connector = await session.get_one(Connector, outcome.item.connector_id, with_for_update=True)
        counted = not isinstance(outcome.error, (RateLimitError, ReconsentError))
        session.add(self._attempt_row(outcome, delivery.attempts + (1 if counted else 0)))
        delivery.claimed_by, delivery.claimed_until = None, None
        delivery.first_attempt_at = delivery.first_attempt_at or outcome.started_at
        if delivery.status not in OPEN:  # an operator acted meanwhile
            return
        self._apply(delivery, connector, outcome.error, now)

    def _apply(
        self, delivery: Delivery, connector: Connector, error: DeliveryError | None, now: dt.datetime
    ) -> None:
        delivery.last_status_code = error.status_code if error else None
        delivery.last_error = str(error)[:1000] if error else None
        if error is None:
            delivery.status, delivery.delivered_at, delivery.needs_reconcile = "delivered", now, False
            delivery.attempts += 1
            connector.last_success_at, connector.failing_since = now, None
            if connector.status == "paused" and connector.paused_until is not None:
                connector.status, connector.paused_until, connector.status_reason = "active", None, None
            return
        if isinstance(error, ReconsentError):
            delivery.status = "retrying"
            delivery.next_attempt_at = now + dt.timedelta(seconds=self.settings.reconsent_recheck_seconds)
            if connector.status != "needs_reconsent":
                # an alert: deliveries to this CRM wait until a person authorises the hub again
                log.error("connector %s needs re-consent (OAuth grant lost): %s", connector.id, error)
            connector.status, connector.status_reason = "needs_reconsent", str(error)[:500]
            return
        if isinstance(error, RateLimitError):
            delivery.status = "retrying"
            delivery.next_attempt_at = now + dt.timedelta(seconds=max(1.0, error.retry_after or 1.0))
            return
        delivery.attempts += 1
        connector.last_failure_at = now
        if isinstance(error, PermanentError):
            delivery.status = "dead"
            if isinstance(error, GoneError):
                connector.status, connector.status_reason = (
                    "disabled",
                    f"the destination answered 410 Gone: {error}"[:500],
                )
            return
        self._retry_later(delivery, connector, error, now)

    def _retry_later(
        self, delivery: Delivery, connector: Connector, error: DeliveryError, now: dt.datetime
    ) -> None:
        delivery.needs_reconcile = delivery.needs_reconcile or isinstance(error, OutcomeUnknownError)
        if delivery.attempts >= self.settings.max_attempts:
            delivery.status = "dead"
            return
        delay = backoff.next_delay(
            delivery.attempts, base=self.settings.backoff_base_seconds, cap=self.settings.backoff_cap_seconds
        )
        if isinstance(error, TransientError) and error.retry_after:
            delay = max(delay, error.retry_after)
        delivery.status, delivery.next_attempt_at = "retrying", now + dt.timedelta(seconds=delay)
        connector.failing_since = connector.failing_since or now
        failing_for = (now - connector.failing_since).total_seconds()
        if connector.status in ("active", "paused") and failing_for >= self.settings.breaker_after_seconds:
            connector.status = "paused"
            connector.status_reason = f"failing for {failing_for:.0f} s: paused, probing again shortly"
            connector.paused_until = now + dt.timedelta(seconds=self.settings.breaker_probe_seconds)


def _claimable(status_condition: Any, *, lock: bool = True) -> Any:
    """Claimable deliveries: due, not leased, connector usable, the oldest open one of their guest.

    Built once with bound parameters (now, saturated) so SQLAlchemy compiles it once per process.
    """
    now = bindparam("now", type_=UtcDateTime())
    earlier = aliased(Delivery)
    head_of_member = ~(
        select(earlier.id)
        .where(
            earlier.connector_id == Delivery.connector_id,
            earlier.member_key == Delivery.member_key,
            earlier.id < Delivery.id,
            earlier.status.in_(OPEN),
        )
        .exists()
    )
    usable = or_(
        Connector.status == "active",
        and_(
            Connector.status == "paused", Connector.paused_until.is_not(None), Connector.paused_until <= now
        ),
    )
    query = (
        select(
            Delivery.id, Delivery.connector_id, Delivery.attempts, Delivery.needs_reconcile, Connector.status
        )
        .join(Connector, Connector.id == Delivery.connector_id)
        .where(
            status_condition,
            Delivery.next_attempt_at <= now,
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            Delivery.connector_id.not_in(bindparam("saturated", expanding=True)),
            usable,
            head_of_member,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
    )
    return query.with_for_update(skip_locked=True, of=Delivery) if lock else query


CLAIM_PENDING = _claimable(Delivery.status == "pending")
CLAIM_RETRYING = _claimable(Delivery.status == "retrying")


def _outcome(error: DeliveryError | None) -> str:
    if error is None:
        return "delivered"
    for kind, name in (
        (GoneError, "gone"),
        (PermanentError, "permanent"),
        (ReconsentError, "reconsent"),
        (RateLimitError, "rate_limited"),
        (OutcomeUnknownError, "unknown"),
    ):
        if isinstance(error, kind):
            return name
    return "transient"
