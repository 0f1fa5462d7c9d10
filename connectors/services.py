"""Connector management: create (signing secret shown once), read with health, update, rotate, disable;
deliveries: list, retry, replay. The caller commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET
from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors import schemas as s
from connectors.models import Connector, ConnectorToken, Delivery, DeliveryAttempt
from connectors.outbox.models import OutboxEvent
from connectors.secrets import auth_aad, new_signing_secret, seal, signing_aad, signing_entries, split_auth
from hub.crypto import Keyring
from hub.errors import ForbiddenError, InvalidInputError, NotFoundError, with_article
from hub.ids import new_id
from hub.schema import Page, decode_cursor, page_of
from hub.scope import Scope
from partners.models import Offer, Program, Venue
from routing.fanout import PERSONAL_LEVELS, receives

SIGNING_OVERLAP = dt.timedelta(hours=24)
REPLAY_DAYS = 93  # how far back a venue's or partner's key may replay (an admin's has no bound)
DEFAULT_VENUE_LEVEL = "masked"  # what a program lets venues receive unless its owner says otherwise
UrlCheck = Callable[[str], Any]  # an async egress check, raising for a refused URL


class ConnectorNotFoundError(NotFoundError):
    default_message = "No such connector (or not one this key may see)."


class DeliveryNotFoundError(NotFoundError):
    default_message = "No such delivery (or not one this key may see)."


def visible(scope: Scope) -> ColumnElement[bool]:
    """Admins see every connector; a partner its venues' connectors; a venue its own."""
    if scope.role == "admin":
        return Connector.id.is_not(None)
    if scope.role == "partner":
        return Connector.owner_venue_id.in_(select(Venue.id).where(Venue.partner_id == scope.partner_id))
    if scope.role == "venue":
        return Connector.owner_venue_id == scope.venue_id
    return Connector.id.is_(None)


async def _check_owner(session: AsyncSession, scope: Scope, owner: s.Owner) -> None:
    if (owner.program_id is None) == (owner.venue_id is None):
        raise InvalidInputError(
            "owner is {program_id} (a coalition CRM) or {venue_id} (a venue's CRM/POS).", field="owner"
        )
    if owner.program_id is not None:
        if scope.role != "admin":
            raise InvalidInputError("Only an admin connects a program's CRM.", field="owner.program_id")
        if await session.get(Program, owner.program_id) is None:
            raise InvalidInputError("owner.program_id names no program.", field="owner.program_id")
        return
    venue = await session.get(Venue, owner.venue_id)
    allowed = venue is not None and (
        scope.role == "admin"
        or (scope.role == "partner" and venue.partner_id == scope.partner_id)
        or (scope.role == "venue" and venue.id == scope.venue_id)
    )
    if not allowed:
        raise InvalidInputError("owner.venue_id names no venue this key manages.", field="owner.venue_id")


async def _venue_level_max(session: AsyncSession, venue_id: uuid.UUID) -> str:
    """The most personal data any program at this venue lets venues receive (offered there, or the
    venue's own programs); the programs' default while none is."""
    venue = await session.get_one(Venue, venue_id)
    offered = select(Offer.program_id).where(
        Offer.is_active.is_(True),
        or_(
            Offer.venue_id == venue.id,
            Offer.partner_id == venue.partner_id,
            and_(Offer.venue_id.is_(None), Offer.partner_id.is_(None)),
        ),
    )
    own = and_(Program.kind == "venue", Program.owner_partner_id == venue.partner_id)
    levels = await session.scalars(
        select(Program.venue_personal_data_max).where(or_(Program.id.in_(offered), own)).distinct()
    )
    return max(levels, key=PERSONAL_LEVELS.index, default=DEFAULT_VENUE_LEVEL)


async def _check_venue_level(session: AsyncSession, venue_id: uuid.UUID | None, level: str) -> None:
    """A venue's connector may not ask for more personal data than the venue's programs allow venues."""
    if venue_id is None:
        return
    allowed = await _venue_level_max(session, venue_id)
    if PERSONAL_LEVELS.index(level) > PERSONAL_LEVELS.index(allowed):
        raise ForbiddenError(
            f"personal_data {level!r} is more than the programs at this venue let venues receive (at most"
            f" {allowed!r}): each program's owner sets venue_personal_data_max.",
            field="personal_data",
            allowed=allowed,
        )


def _check_auth_kind(kind: str, auth: s.Auth) -> None:
    auth_type = msgspec.to_builtins(auth)["type"]
    if auth_type not in s.AUTH_FOR_KIND[kind]:
        raise InvalidInputError(
            f"{with_article(kind).capitalize()} connector takes auth of type "
            f"{', '.join(s.AUTH_FOR_KIND[kind])}, not {auth_type}.",
            field="auth.type",
        )


async def _check_urls(check_url: UrlCheck, url: str, auth: dict[str, Any]) -> None:
    await check_url(url)
    if auth.get("token_url"):
        await check_url(str(auth["token_url"]))


def _set_auth(keyring: Keyring, connector: Connector, auth: s.Auth) -> None:
    public, secret = split_auth(msgspec.to_builtins(auth))
    connector.auth_type = public["type"]
    connector.auth_public = public
    connector.auth_secret_ciphertext = seal(keyring, secret, auth_aad(connector.id)) if secret else None


async def create(
    session: AsyncSession, keyring: Keyring, scope: Scope, data: s.ConnectorCreate, check_url: UrlCheck
) -> s.ConnectorCreated:
    await _check_owner(session, scope, data.owner)
    await _check_venue_level(session, data.owner.venue_id, data.personal_data)
    _check_auth_kind(data.kind, data.auth)
    await _check_urls(check_url, data.url, msgspec.to_builtins(data.auth))
    secret = new_signing_secret()
    connector = Connector(
        id=new_id(),
        name=data.name,
        kind=data.kind,
        owner_program_id=data.owner.program_id,
        owner_venue_id=data.owner.venue_id,
        url=data.url,
        events=sorted(set(data.events)),
        personal_data=data.personal_data,
        settings=msgspec.to_builtins(data.settings),
        status="active",
    )
    connector.signing_ciphertext = seal(
        keyring, [{"secret": secret, "until": None}], signing_aad(connector.id)
    )
    _set_auth(keyring, connector, data.auth)
    session.add(connector)
    await session.flush()
    read = connector_read(connector)
    return s.ConnectorCreated(**msgspec.structs.asdict(read), signing_secret=secret)


def connector_read(connector: Connector, health: s.Health | None = None) -> s.ConnectorRead:
    return s.ConnectorRead(
        id=connector.id,
        name=connector.name,
        kind=connector.kind,
        owner=s.OwnerRead(program_id=connector.owner_program_id, venue_id=connector.owner_venue_id),
        url=connector.url,
        auth=dict(connector.auth_public),
        events=list(connector.events),
        personal_data=connector.personal_data,
        settings=dict(connector.settings),
        status=connector.status,
        status_reason=connector.status_reason,
        paused_until=connector.paused_until,
        created_at=connector.created_at,
        updated_at=connector.updated_at,
        health=health,
    )


async def load(
    session: AsyncSession, scope: Scope, connector_id: uuid.UUID, *, lock: bool = False
) -> Connector:
    query = select(Connector).where(Connector.id == connector_id, visible(scope))
    connector = await session.scalar(query.with_for_update() if lock else query)
    if connector is None:
        raise ConnectorNotFoundError()
    return connector


async def health(session: AsyncSession, connector: Connector) -> s.Health:
    counts = dict(
        (
            await session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.connector_id == connector.id)
                .group_by(Delivery.status)
            )
        ).all()
    )
    oldest = await session.scalar(
        select(func.min(Delivery.created_at)).where(
            Delivery.connector_id == connector.id, Delivery.status.in_(("pending", "retrying"))
        )
    )
    recent = list(
        (
            await session.execute(
                select(DeliveryAttempt.latency_ms, DeliveryAttempt.outcome)
                .where(DeliveryAttempt.connector_id == connector.id)
                .order_by(DeliveryAttempt.started_at.desc())
                .limit(100)
            )
        ).all()
    )
    latencies = sorted(r[0] for r in recent)
    token_expires = await session.scalar(
        select(ConnectorToken.expires_at).where(ConnectorToken.connector_id == connector.id)
    )
    return s.Health(
        pending=counts.get("pending", 0),
        retrying=counts.get("retrying", 0),
        dead=counts.get("dead", 0),
        delivered=counts.get("delivered", 0),
        oldest_open_at=oldest,
        last_success_at=connector.last_success_at,
        last_failure_at=connector.last_failure_at,
        failing_since=connector.failing_since,
        token_expires_at=token_expires,
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p99_ms=_percentile(latencies, 0.99),
        error_rate=(sum(1 for r in recent if r[1] != "delivered") / len(recent)) if recent else None,
    )


def _percentile(sorted_values: list[int], q: float) -> int | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def list_connectors(
    session: AsyncSession,
    scope: Scope,
    *,
    limit: int,
    cursor: str | None,
    owner_venue_id: uuid.UUID | None = None,
) -> Page[s.ConnectorRead]:
    query = select(Connector).where(visible(scope))
    if owner_venue_id is not None:
        query = query.where(Connector.owner_venue_id == owner_venue_id)
    if (after := decode_cursor(cursor)) is not None:
        query = query.where(Connector.id > after)
    rows = list(await session.scalars(query.order_by(Connector.id).limit(limit + 1)))
    reads = [connector_read(c, await health(session, c)) for c in rows[:limit]]
    return page_of(reads + [connector_read(c) for c in rows[limit:]], [c.id for c in rows], limit)


async def update_connector(
    session: AsyncSession,
    keyring: Keyring,
    scope: Scope,
    connector_id: uuid.UUID,
    data: s.ConnectorUpdate,
    check_url: UrlCheck,
) -> s.ConnectorRead:
    connector = await load(session, scope, connector_id, lock=True)
    if connector.status == "disabled":
        raise InvalidInputError(
            "This connector is disabled (deleted or gone): create a new one.", field="status"
        )
    if data.auth is not UNSET:
        _check_auth_kind(connector.kind, data.auth)
    if data.personal_data is not UNSET:
        await _check_venue_level(session, connector.owner_venue_id, data.personal_data)
    url = data.url if data.url is not UNSET else connector.url
    auth = msgspec.to_builtins(data.auth) if data.auth is not UNSET else connector.auth_public
    if data.url is not UNSET or data.auth is not UNSET:
        await _check_urls(check_url, url, auth)
    connector.url = url
    if data.auth is not UNSET:
        _set_auth(keyring, connector, data.auth)
        # the cached tokens belong to the old credentials: the next delivery fetches new ones
        await session.execute(delete(ConnectorToken).where(ConnectorToken.connector_id == connector.id))
        if connector.status == "needs_reconsent":
            connector.status, connector.status_reason = "active", None  # re-authorised
    for field in ("name", "personal_data"):
        value = getattr(data, field)
        if value is not UNSET:
            setattr(connector, field, value)
    if data.events is not UNSET:
        connector.events = sorted(set(data.events))
    if data.settings is not UNSET:
        connector.settings = msgspec.to_builtins(data.settings)
    if data.status is not UNSET:
        connector.status = data.status
        connector.status_reason = "paused by an operator" if data.status == "paused" else None
        connector.paused_until = None
        connector.failing_since = None if data.status == "active" else connector.failing_since
    await session.flush()
    return connector_read(connector, await health(session, connector))


async def disable(session: AsyncSession, scope: Scope, connector_id: uuid.UUID) -> None:
    connector = await load(session, scope, connector_id, lock=True)
    connector.status, connector.status_reason = "disabled", "deleted"


async def rotate_signing_secret(
    session: AsyncSession, keyring: Keyring, scope: Scope, connector_id: uuid.UUID, now: dt.datetime
) -> s.SigningSecretRotated:
    """A new secret; the previous one keeps signing beside it for 24 hours so receivers can switch."""
    connector = await load(session, scope, connector_id, lock=True)
    previous = [e for e in signing_entries(keyring, connector) if e.get("until") is None][:1]
    until = now + SIGNING_OVERLAP
    secret = new_signing_secret()
    entries = [
        {"secret": secret, "until": None},
        *({"secret": e["secret"], "until": until.isoformat()} for e in previous),
    ]
    connector.signing_ciphertext = seal(keyring, entries, signing_aad(connector.id))
    return s.SigningSecretRotated(signing_secret=secret, previous_valid_until=until)


# ---- deliveries ----


def _delivery_read(delivery: Delivery, event_type: str) -> s.DeliveryRead:
    return s.DeliveryRead(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=event_type,
        connector_id=delivery.connector_id,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


async def list_deliveries(
    session: AsyncSession,
    scope: Scope,
    *,
    limit: int,
    cursor: str | None,
    connector_id: uuid.UUID | None,
    status: str | None,
) -> Page[s.DeliveryRead]:
    query = (
        select(Delivery, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .join(Connector, Connector.id == Delivery.connector_id)
        .where(visible(scope))
    )
    if connector_id is not None:
        query = query.where(Delivery.connector_id == connector_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if (after := decode_cursor(cursor)) is not None:
        query = query.where(Delivery.id > after)
    rows = (await session.execute(query.order_by(Delivery.id).limit(limit + 1))).all()
    return page_of([_delivery_read(d, t) for d, t in rows], [d.id for d, _ in rows], limit)


async def get_delivery(session: AsyncSession, scope: Scope, delivery_id: uuid.UUID) -> s.DeliveryDetail:
    row = (
        await session.execute(
            select(Delivery, OutboxEvent.type)
            .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
            .join(Connector, Connector.id == Delivery.connector_id)
            .where(Delivery.id == delivery_id, visible(scope))
        )
    ).first()
    if row is None:
        raise DeliveryNotFoundError()
    delivery, event_type = row
    attempts = await session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery.id)
        .order_by(DeliveryAttempt.started_at)
    )
    read = _delivery_read(delivery, event_type)
    return s.DeliveryDetail(
        **msgspec.structs.asdict(read),
        attempt_log=[
            s.AttemptRead(
                number=a.number,
                worker=a.worker,
                started_at=a.started_at,
                latency_ms=a.latency_ms,
                outcome=a.outcome,
                status_code=a.status_code,
                error=a.error,
            )
            for a in attempts
        ],
    )


async def retry(
    session: AsyncSession, scope: Scope, delivery_id: uuid.UUID, now: dt.datetime
) -> s.RetryAccepted:
    """Try again now, with a fresh attempt budget (an operator's decision); the attempt log numbers on."""
    delivery = await session.scalar(
        select(Delivery)
        .join(Connector, Connector.id == Delivery.connector_id)
        .where(Delivery.id == delivery_id, visible(scope))
        .with_for_update(of=Delivery)
    )
    if delivery is None:
        raise DeliveryNotFoundError()
    if delivery.status != "delivered":
        _start_over(delivery, now)
    return s.RetryAccepted(id=delivery.id, status=delivery.status)


def _start_over(delivery: Delivery, now: dt.datetime) -> None:
    """Pending now with a fresh budget; the attempts made so far keep their numbers."""
    delivery.attempt_offset += delivery.attempts
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.claimed_by = delivery.claimed_until = None


async def replay(
    session: AsyncSession,
    scope: Scope,
    connector_id: uuid.UUID,
    data: s.ReplayRequest,
    now: dt.datetime,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Deliver again: dead deliveries since `from`, or every routed event since then (same event ids)."""
    connector = await load(session, scope, connector_id)
    if data.from_.tzinfo is None:
        raise InvalidInputError("from needs a time zone offset.", field="from")
    if scope.role != "admin" and data.from_ < now - dt.timedelta(days=REPLAY_DAYS):
        raise InvalidInputError(
            f"A replay goes back at most {REPLAY_DAYS} days; ask an admin for older events.",
            field="from",
            max_days=REPLAY_DAYS,
        )
    if data.status == "dead":
        result = await session.execute(
            update(Delivery)
            .where(
                Delivery.connector_id == connector.id,
                Delivery.status == "dead",
                Delivery.created_at >= data.from_,
            )
            .values(
                status="pending",
                attempt_offset=Delivery.attempt_offset + Delivery.attempts,
                attempts=0,
                next_attempt_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
    events = list(
        (
            await session.execute(
                select(OutboxEvent.id, OutboxEvent.type, OutboxEvent.envelope)
                .where(
                    OutboxEvent.occurred_at >= data.from_,
                    OutboxEvent.type.in_(receives(connector.events)),
                    or_(
                        OutboxEvent.program_id == connector.owner_program_id,
                        OutboxEvent.venue_id == connector.owner_venue_id,
                    ),
                )
                .order_by(OutboxEvent.id)
            )
        ).all()
    )
    existing = {
        d.event_id: d
        for d in await session.scalars(
            select(Delivery).where(
                Delivery.connector_id == connector.id, Delivery.event_id.in_([e[0] for e in events])
            )
        )
    }
    for done, (event_id, _type, envelope) in enumerate(events, start=1):
        delivery = existing.get(event_id)
        if delivery is None:
            member = (envelope.get("data") or {}).get("member") or {}
            session.add(
                Delivery(
                    event_id=event_id,
                    connector_id=connector.id,
                    member_key=str(member.get("id") or event_id),
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                )
            )
        else:
            _start_over(delivery, now)
        if on_progress is not None:
            on_progress(done, len(events))
    return len(events)
