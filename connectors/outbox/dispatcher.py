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
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import Integer, Table, Text, and_, bindparam, case, func, or_, select, update
from sqlalchemy import cast as cast_as
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
from hub.ids import new_id
from hub.logs import REQUEST_ID
from partners.models import Program
from routing.fanout import cut_personal, delivered_level

log = logging.getLogger("hub.dispatcher")
OPEN = ("pending", "retrying")
QUEUE_DEPTH = (
    3  # claims held per connector, in units of its concurrency (a claim is refilled a slot's worth early)
)
# the hot paths (claim, record) are Core statements on these tables, built once: no ORM per delivery
DELIVERIES = cast(Table, Delivery.__table__)
ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
CONNECTORS = cast(Table, Connector.__table__)
EVENTS = cast(Table, OutboxEvent.__table__)
PROGRAMS = cast(Table, Program.__table__)


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


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """The event of a claimed delivery, read by the claim's own query."""

    id: uuid.UUID
    type: str
    envelope: str  # the JSON text: decoded once per attempt, into a dict of its own
    personal_ciphertext: bytes | None
    request_id: str | None
    venue_personal_data_max: str  # the event's program's cap on what a venue's connector receives


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: uuid.UUID
    connector_id: uuid.UUID
    attempts: int
    needs_reconcile: bool
    event: ClaimedEvent
    connector_changed_at: dt.datetime  # the connector row's updated_at: a changed row is read again
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
        self._in_flight: dict[uuid.UUID, int] = {}  # claimed, not yet recorded, per connector
        self._queued: dict[uuid.UUID, int] = {}  # claimed, attempt not yet finished, per connector
        self._connections: list[AsyncConnection] = []  # kept between claims and records (PostgreSQL)
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._outcome_ready = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self._configs: dict[uuid.UUID, tuple[dt.datetime, float, ConnectorConfig]] = {}
        self._slots: dict[uuid.UUID, asyncio.Semaphore] = {}
        self._metrics: dict[tuple[str, str], tuple[Any, Any]] = {}

    def wake(self) -> None:
        """Look for work now instead of at the next poll (called after a commit that enqueued events)."""
        self._wake.set()

    # ---- the loop ----

    async def run(self, stop: asyncio.Event) -> None:
        log.info("dispatcher %s started", self.worker)
        while not stop.is_set():
            self._wake.clear()  # before the claim: a wake that comes while it runs is not lost
            try:
                claimed, more_due = await self._claim()
            except Exception:  # the database may be restarting: wait and go on
                log.exception("claiming deliveries failed")
                claimed, more_due = [], False
            for item in claimed:
                task = asyncio.create_task(self._deliver_and_release(item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if not more_due:
                # nothing more is due, or what is due waits for a slot: claim again when a connector's
                # queue runs low (wake) or at the next poll, not after every single attempt
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

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """database.transaction(), but on PostgreSQL on a connection the dispatcher keeps between batches:
        claims and records skip the pool's checkout and its ping (two round trips) every time."""
        if self.database.is_sqlite:  # there the process's write lock comes first
            async with self.database.transaction() as session:
                yield session
            return
        conn = self._connections.pop() if self._connections else await self.database.engine.connect()
        try:
            async with AsyncSession(bind=conn, expire_on_commit=False) as session, session.begin():
                yield session
        except BaseException:
            await conn.invalidate()  # it may be broken (the database restarted): the next one is fresh
            await conn.close()
            raise
        self._connections.append(conn)

    async def _close_connections(self) -> None:
        while self._connections:
            await self._connections.pop().close()

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
        await self._close_connections()

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
        await self.drain()
        return done

    async def claim_peek(self) -> bool:
        async with self.database.reader() as session:
            return (await session.scalar(self._due_query(self.clock.now()).limit(1))) is not None

    # ---- claiming ----

    def _due_query(self, now: dt.datetime, status: str | None = None) -> Any:
        """Due deliveries (ids only), for peeking and for tests; claims use the prepared CLAIM_QUERY."""
        condition = DELIVERIES.c.status == status if status is not None else DELIVERIES.c.status.in_(OPEN)
        query = _claimable(condition, lock=False)
        return query.with_only_columns(DELIVERIES.c.id).params(now=now, saturated=[])

    @property
    def _queue_cap(self) -> int:
        """Claims a connector may hold in this process: attempts in flight plus the next ones waiting."""
        return QUEUE_DEPTH * self.settings.per_connector_concurrency

    def _saturated(self) -> list[uuid.UUID]:
        """Connectors whose queue in this process is full: their backlog must not fill the batch."""
        cap = self._queue_cap
        return [connector_id for connector_id, queued in self._queued.items() if queued >= cap]

    def _room(self) -> int:
        """The room left in the queues of the connectors seen so far."""
        cap = self._queue_cap
        return sum(max(0, cap - queued) for queued in self._queued.values())

    def _limit(self) -> int:
        """How many to claim: the room left in the queues seen so far (one queue's worth if none is left,
        to find connectors not seen yet)."""
        return min(self.settings.batch_size, self._room() or self._queue_cap)

    async def claim(self) -> list[Claimed]:
        return (await self._claim())[0]

    async def _claim(self) -> tuple[list[Claimed], bool]:
        """Claimed deliveries (with their events), and whether more may be due with room to take them."""
        now = self.clock.now()
        limit = self._limit()
        # first attempts have their own share of the batch, so a backlog of retries never starves them
        shares = ((CLAIM_PENDING, limit), (CLAIM_RETRYING, max(1, limit // 4)))
        async with self._transaction() as session:
            conn = await session.connection()
            rows: list[Any] = []
            more_due = False
            for query, share in shares:
                params = {"now": now, "saturated": self._saturated(), "b_limit": share}
                found = (await conn.execute(query, params)).all()
                more_due = more_due or len(found) == share
                rows += found
            if not rows:
                return [], False
            taken = self._within_caps(rows)
            if taken:
                lease = now + dt.timedelta(seconds=self.settings.lease_seconds)
                await conn.execute(
                    TAKE, {"b_ids": [c.delivery_id for c in taken], "b_worker": self.worker, "b_lease": lease}
                )
        # claim again at once only if all it found was taken and a queue seen so far still has room;
        # connectors not seen yet are found by the next poll (a claim that skips a saturated connector
        # reads past its whole backlog, so it is not repeated after every attempt)
        return taken, more_due and len(taken) == len(rows) and self._room() > 0

    def _within_caps(self, rows: list[Any]) -> list[Claimed]:
        """Keep each connector within its queue (one probe at a time for a paused connector)."""
        taken: list[Claimed] = []
        queued, unrecorded = self._queued, self._in_flight
        # the next attempts wait in memory, not on a claim round trip
        cap = self._queue_cap
        for delivery_id, connector_id, attempts, reconcile, status, changed_at, *event in rows:
            if status == "paused":
                if unrecorded.get(connector_id, 0) >= 1:
                    continue
            elif queued.get(connector_id, 0) >= cap:
                continue
            queued[connector_id] = queued.get(connector_id, 0) + 1
            unrecorded[connector_id] = unrecorded.get(connector_id, 0) + 1
            taken.append(
                Claimed(delivery_id, connector_id, attempts, reconcile, ClaimedEvent(*event), changed_at)
            )
        return taken

    # ---- delivering ----

    async def _deliver_and_release(self, item: Claimed) -> None:
        slots = self._slots.get(item.connector_id)
        if slots is None:
            slots = self._slots[item.connector_id] = asyncio.Semaphore(
                self.settings.per_connector_concurrency
            )
        attempted = False
        try:
            async with slots:
                try:
                    # a claim that waited too long for a slot might outlive its lease mid-attempt: release it
                    if (
                        time.monotonic() - item.claimed_at
                        > self.settings.lease_seconds - self.settings.attempt_timeout_seconds
                    ):
                        await self._release(item)
                        return
                    outcome = await self._deliver(item)
                finally:
                    attempted = True
                    self._attempted(item.connector_id)
            # recorded outside the slot: the next attempt goes out while this one waits for its commit
            # (the claim still counts as unrecorded: a paused connector gets one probe at a time)
            await self._submit(outcome)
        except Exception:
            log.exception(
                "delivery %s crashed; its lease will expire and it will be retried", item.delivery_id
            )
        finally:
            if not attempted:  # cancelled while waiting for a slot
                self._attempted(item.connector_id)
            self._in_flight[item.connector_id] -= 1

    def _attempted(self, connector_id: uuid.UUID) -> None:
        queued = self._queued[connector_id] = self._queued[connector_id] - 1
        # the queue runs low: claim more now, so the slots never run dry while the claim is on its way
        if queued <= self._queue_cap - self.settings.per_connector_concurrency:
            self._wake.set()

    async def _release(self, item: Claimed) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == item.delivery_id, Delivery.claimed_by == self.worker)
                .values(claimed_by=None, claimed_until=None)
            )

    async def _load(self, item: Claimed) -> tuple[ConnectorConfig, DeliveryJob]:
        config = self._cached_config(item.connector_id, item.connector_changed_at)
        if config is None:
            config = await self._config(item.connector_id, item.connector_changed_at)
        event = item.event
        level = delivered_level(
            config.personal_data,
            is_venue_owned=config.owner_venue_id is not None,
            venue_max=event.venue_personal_data_max,
        )
        if level != config.personal_data:  # the program allows venues less than this one asked for
            config = dataclasses.replace(config, personal_data=level)
        personal = None
        if event.personal_ciphertext is not None:
            personal = _decode_object(
                self.keyring.decrypt(event.personal_ciphertext, personal_aad(event.id).encode())
            )
        job = DeliveryJob(
            delivery_id=item.delivery_id,
            event_id=event.id,
            event_type=event.type,
            envelope=cut_personal(
                _decode_object(event.envelope), personal, config.personal_data, in_place=True
            ),
            attempt=item.attempts + 1,
            needs_reconcile=item.needs_reconcile,
            request_id=event.request_id,
        )
        return config, job

    def _cached_config(self, connector_id: uuid.UUID, changed_at: dt.datetime) -> ConnectorConfig | None:
        cached = self._configs.get(connector_id)
        if (
            cached is not None
            and cached[0] == changed_at
            and time.monotonic() - cached[1] < self.settings.config_cache_seconds
        ):
            return cached[2]
        return None

    async def _config(self, connector_id: uuid.UUID, changed_at: dt.datetime) -> ConnectorConfig:
        """The decrypted connector, reused until the row changes (or for config_cache_seconds)."""
        async with self.database.reader() as session:
            connector = await session.get_one(Connector, connector_id)
        config = config_of(self.keyring, connector, self.clock.now())
        self._configs[connector_id] = (changed_at, time.monotonic(), config)
        return config

    async def _deliver(self, item: Claimed) -> Outcome:
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
        self._observe(config.kind, _outcome(error), latency_ms)
        return Outcome(
            item, attempt, error, started_at, latency_ms, asyncio.get_running_loop().create_future()
        )

    def _observe(self, kind: str, outcome: str, latency_ms: int) -> None:
        """Prometheus counters, their labelled children looked up once per (kind, outcome)."""
        children = self._metrics.get((kind, outcome))
        if children is None:
            children = self._metrics[(kind, outcome)] = (
                metrics.DELIVERIES.labels(kind=kind, outcome=outcome),
                metrics.DELIVERY_SECONDS.labels(kind=kind),
            )
        children[0].inc()
        children[1].observe(latency_ms / 1000)

    # ---- recording (group commit) ----

    async def _submit(self, outcome: Outcome) -> None:
        """Queue the outcome and wait until it is committed (the claim counts as unrecorded until then)."""
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
                    async with self._transaction() as session:
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
        if successes:
            conn = await session.connection()
            await conn.execute(
                ATTEMPTS.insert(), [self._attempt_values(o, o.item.attempts + 1) for o in successes]
            )
            await conn.execute(
                RECORD_DELIVERED,
                [
                    {
                        "b_id": o.item.delivery_id,
                        "b_started": o.started_at,
                        "b_now": now,
                        "b_code": o.attempt.status_code,
                    }
                    for o in successes
                ],
            )
            await self._note_successes(conn, {o.item.connector_id for o in successes}, now)
        for outcome in batch:
            if outcome.error is not None:
                await self._record(session, outcome, now)

    async def _note_successes(
        self, conn: AsyncConnection, connector_ids: set[uuid.UUID], now: dt.datetime
    ) -> None:
        """Connector health after successes, written only when it changes (or once a second): no hot row."""
        params = {"b_ids": sorted(connector_ids), "b_now": now, "b_stale": now - dt.timedelta(seconds=1)}
        await conn.execute(NOTE_SUCCESS, params)

    def _attempt_values(self, outcome: Outcome, number: int) -> dict[str, Any]:
        error = outcome.error
        return {
            "id": new_id(),
            "delivery_id": outcome.item.delivery_id,
            "connector_id": outcome.item.connector_id,
            "number": number,
            "worker": self.worker,
            "started_at": outcome.started_at,
            "latency_ms": outcome.latency_ms,
            "outcome": _outcome(error),
            "status_code": error.status_code if error else outcome.attempt.status_code,
            "error": (str(error) if error else outcome.attempt.detail or None),
        }

    def _attempt_row(self, outcome: Outcome, number: int) -> DeliveryAttempt:
        return DeliveryAttempt(**self._attempt_values(outcome, number))

    async def _record(self, session: AsyncSession, outcome: Outcome, now: dt.datetime) -> None:
        delivery = await session.get_one(Delivery, outcome.item.delivery_id, with_for_update=True)
        connector = await session.get_one(Connector, outcome.item.connector_id, with_for_update=True)
        counted = not isinstance(outcome.error, (RateLimitError, ReconsentError))
        number = delivery.attempt_offset + delivery.attempts + (1 if counted else 0)
        session.add(self._attempt_row(outcome, number))
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

    Built once with bound parameters (now, saturated) so SQLAlchemy compiles it once per process; it
    reads the event and the connector's version too, so a claim needs no second query.
    """
    now = bindparam("now", type_=UtcDateTime())
    d, c, e = DELIVERIES.c, CONNECTORS.c, EVENTS.c
    earlier = DELIVERIES.alias("earlier")
    head_of_member = ~(
        select(earlier.c.id)
        .where(
            earlier.c.connector_id == d.connector_id,
            earlier.c.member_key == d.member_key,
            earlier.c.id < d.id,
            earlier.c.status.in_(OPEN),
        )
        .exists()
    )
    usable = or_(
        c.status == "active",
        and_(c.status == "paused", c.paused_until.is_not(None), c.paused_until <= now),
    )
    query = (
        select(
            d.id,
            d.connector_id,
            d.attempt_offset + d.attempts,  # attempts made so far, counted on across operator retries
            d.needs_reconcile,
            c.status,
            c.updated_at,
            e.id,
            e.type,
            cast_as(e.envelope, Text),  # the text, decoded by msgspec (not the driver's json.loads)
            e.personal_ciphertext,
            e.request_id,
            func.coalesce(PROGRAMS.c.venue_personal_data_max, "none"),
        )
        .select_from(
            DELIVERIES.join(CONNECTORS, c.id == d.connector_id)
            .join(EVENTS, e.id == d.event_id)
            .outerjoin(PROGRAMS, PROGRAMS.c.id == e.program_id)
        )
        .where(
            status_condition,
            d.next_attempt_at <= now,
            or_(d.claimed_until.is_(None), d.claimed_until < now),
            d.connector_id.not_in(bindparam("saturated", expanding=True)),
            usable,
            head_of_member,
        )
        .order_by(d.next_attempt_at, d.id)
    )
    return query.with_for_update(skip_locked=True, of=DELIVERIES) if lock else query


CLAIM_PENDING = _claimable(DELIVERIES.c.status == "pending").limit(bindparam("b_limit", type_=Integer))
CLAIM_RETRYING = _claimable(DELIVERIES.c.status == "retrying").limit(bindparam("b_limit", type_=Integer))
TAKE = (
    DELIVERIES.update()
    .where(DELIVERIES.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(claimed_by=bindparam("b_worker"), claimed_until=bindparam("b_lease", type_=UtcDateTime()))
)
RECORD_DELIVERED = (  # one executemany for a batch of successes
    DELIVERIES.update()
    .where(
        DELIVERIES.c.id == bindparam("b_id"),
        or_(DELIVERIES.c.status == OPEN[0], DELIVERIES.c.status == OPEN[1]),
    )
    .values(
        status="delivered",
        delivered_at=bindparam("b_now", type_=UtcDateTime()),
        needs_reconcile=False,
        attempts=DELIVERIES.c.attempts + 1,
        claimed_by=None,
        claimed_until=None,
        last_status_code=bindparam("b_code", type_=Integer),  # the destination's 2xx, when it had one
        last_error=None,
        first_attempt_at=func.coalesce(
            DELIVERIES.c.first_attempt_at, bindparam("b_started", type_=UtcDateTime())
        ),
    )
)
_PROBED = and_(CONNECTORS.c.status == "paused", CONNECTORS.c.paused_until.is_not(None))
NOTE_SUCCESS = (  # health after successes; a successful probe of a paused connector resumes it
    CONNECTORS.update()
    .where(
        CONNECTORS.c.id.in_(bindparam("b_ids", expanding=True)),
        or_(
            CONNECTORS.c.failing_since.is_not(None),
            CONNECTORS.c.last_success_at.is_(None),
            CONNECTORS.c.last_success_at < bindparam("b_stale", type_=UtcDateTime()),
            _PROBED,
        ),
    )
    .values(
        last_success_at=bindparam("b_now", type_=UtcDateTime()),
        failing_since=None,
        status=case((_PROBED, "active"), else_=CONNECTORS.c.status),
        paused_until=case((_PROBED, None), else_=CONNECTORS.c.paused_until),
        status_reason=case((_PROBED, None), else_=CONNECTORS.c.status_reason),
    )
)


_decode_object = msgspec.json.Decoder(dict[str, Any]).decode


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
