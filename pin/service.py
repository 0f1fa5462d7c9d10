"""PIN challenges: issue, resend, check — with the send limits that stop SMS pumping.

The caller owns the transaction. Counting is atomic because the terminal and the member rows are
locked (SELECT … FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers) before
the send log is counted, and a challenge row is locked before an attempt is counted.

Above the card and the terminal, the venue, the program and the whole hub each have an SMS budget
per hour and per day (SendBudgets), counted from the same send log. Those counts take no lock of
their own, so on PostgreSQL sends in flight at once on different terminals may pass a budget by
as many sends as run concurrently; SQLite serialises them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.crypto import Keyring
from hub.errors import RateLimitedError
from hub.ids import new_id
from pin import otp
from pin.errors import (
    PinAlreadyUsedError,
    PinExpiredError,
    PinInvalidError,
    PinLockedError,
    SmsBudgetExceededError,
)
from pin.models import PinChallenge, SmsSend

TEN_MINUTES = dt.timedelta(minutes=10)
ONE_HOUR = dt.timedelta(hours=1)
ONE_DAY = dt.timedelta(days=1)
PERIODS = {"hour": ONE_HOUR, "day": ONE_DAY}
COUNTED = ("sending", "sent")  # a send whose outcome is unknown counts: safer for the SMS budget


@dataclass(frozen=True)
class PinPolicyValues:
    digits: int = 6
    ttl_seconds: int = 300
    max_attempts: int = 5
    resend_after_seconds: int = 30
    max_sends_per_card_10min: int = 3
    max_sends_per_card_day: int = 10
    max_sends_per_terminal_10min: int = 30

    @classmethod
    def from_program(cls, policy: dict[str, Any]) -> PinPolicyValues:
        known = {k: v for k, v in policy.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class SendBudgets:
    """SMS per venue, per program and for the whole hub, per sliding hour and day (0: no budget)."""

    venue_per_hour: int = 300
    venue_per_day: int = 2_000
    program_per_hour: int = 5_000
    program_per_day: int = 50_000
    hub_per_hour: int = 20_000
    hub_per_day: int = 200_000

    def limit(self, scope: str, period: str) -> int:
        value: int = getattr(self, f"{scope}_per_{period}")
        return value


@dataclass(frozen=True)
class PendingSend:
    send_id: uuid.UUID
    challenge_id: uuid.UUID
    code: str


def secret_aad(challenge_id: uuid.UUID) -> str:
    return f"pin.secret:{challenge_id}"


async def _windows(
    session: AsyncSession, counts: list[tuple[Any, uuid.UUID, dt.timedelta]], now: dt.datetime
) -> list[tuple[int, dt.datetime | None]]:
    """(sends, oldest send) for each (column, value, window), all counted in one query."""
    counted = SmsSend.status.in_(COUNTED)
    columns: list[Any] = []
    for column, value, window in counts:
        inside = and_(counted, column == value, SmsSend.created_at > now - window)
        columns += [func.count().filter(inside), func.min(SmsSend.created_at).filter(inside)]
    oldest = now - max(window for _, _, window in counts)
    subjects = {(column.key, value): column == value for column, value, _ in counts}
    anyone = or_(*subjects.values())
    row = (await session.execute(select(*columns).where(anyone, SmsSend.created_at > oldest))).one()
    return [(int(row[2 * i]), row[2 * i + 1]) for i in range(len(counts))]


def _refuse(
    count: int, oldest: dt.datetime | None, limit: int, window: dt.timedelta, who: str, now: dt.datetime
) -> None:
    if count < limit or oldest is None:
        return
    oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=dt.UTC)
    retry = int((oldest_at + window - now).total_seconds()) + 1
    raise RateLimitedError(
        f"Too many PIN messages for this {who}; try again in {retry} s.", retry_after=retry, limit=who
    )


@dataclass(frozen=True)
class SendPlace:
    """Where a PIN is sent from and for: what the send limits and budgets count."""

    member_id: uuid.UUID
    terminal_id: uuid.UUID
    venue_id: uuid.UUID
    program_id: uuid.UUID


async def check_send_limits(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    terminal_id: uuid.UUID,
    policy: PinPolicyValues,
    now: dt.datetime,
) -> None:
    """Raise 429 with Retry-After when the terminal or the card has used its SMS budget."""
    terminal, short, day = await _windows(
        session,
        [
            (SmsSend.terminal_id, terminal_id, TEN_MINUTES),
            (SmsSend.member_id, member_id, TEN_MINUTES),
            (SmsSend.member_id, member_id, ONE_DAY),
        ],
        now,
    )
    _refuse(*terminal, policy.max_sends_per_terminal_10min, TEN_MINUTES, "terminal", now)
    _refuse(*short, policy.max_sends_per_card_10min, TEN_MINUTES, "card", now)
    _refuse(*day, policy.max_sends_per_card_day, ONE_DAY, "card", now)


async def check_terminal_window(session: AsyncSession, *, terminal_id: uuid.UUID, now: dt.datetime) -> None:
    """Raise 429 when the terminal has used its SMS budget (no program changes it): asked before a
    code is recognised, so a known card and an unknown code get the same answer once it is spent."""
    (terminal,) = await _windows(session, [(SmsSend.terminal_id, terminal_id, TEN_MINUTES)], now)
    _refuse(*terminal, PinPolicyValues.max_sends_per_terminal_10min, TEN_MINUTES, "terminal", now)


def _budget_column(scope: str) -> Any:
    return {"venue": SmsSend.venue_id, "program": SmsSend.program_id}.get(scope)


def _sends_since(scope: str, subject: uuid.UUID | None, since: dt.datetime) -> Any:
    """The counted sends of a venue, a program or the hub since a moment (a query to refine)."""
    query = select(SmsSend.created_at).where(SmsSend.status.in_(COUNTED), SmsSend.created_at > since)
    column = _budget_column(scope)
    return query if column is None else query.where(column == subject)


async def _retry_after(
    session: AsyncSession, scope: str, subject: uuid.UUID | None, period: str, limit: int, now: dt.datetime
) -> int:
    """Seconds until the budget's oldest counted send that keeps it spent leaves the window."""
    window = PERIODS[period]
    query = _sends_since(scope, subject, now - window).order_by(SmsSend.created_at.desc())
    leaving = await session.scalar(query.offset(limit - 1).limit(1))
    if leaving is None:
        return 1
    leaving_at = leaving if leaving.tzinfo else leaving.replace(tzinfo=dt.UTC)
    return int((leaving_at + window - now).total_seconds()) + 1


async def check_budgets(
    session: AsyncSession,
    *,
    venue_id: uuid.UUID,
    program_id: uuid.UUID | None,
    budgets: SendBudgets,
    now: dt.datetime,
) -> None:
    """Raise SmsBudgetExceededError when the venue's, the program's (when known) or the hub's budget is
    spent; each count stops at its budget, so a spent budget costs no more to count than a full one."""
    subjects = {"venue": venue_id, "program": program_id, "hub": None}
    checks = [
        (scope, subject, period, budgets.limit(scope, period))
        for scope, subject in subjects.items()
        if scope == "hub" or subject is not None
        for period in PERIODS
    ]
    checks = [check for check in checks if check[3] > 0]
    if not checks:
        return
    counts = [
        select(func.count())
        .select_from(_sends_since(scope, subject, now - PERIODS[period]).limit(limit).subquery())
        .scalar_subquery()
        for scope, subject, period, limit in checks
    ]
    row = (await session.execute(select(literal(1), *counts))).one()
    for (scope, subject, period, limit), count in zip(checks, row[1:], strict=True):
        if count >= limit:
            retry = await _retry_after(session, scope, subject, period, limit, now)
            raise SmsBudgetExceededError(
                scope=scope, subject_id=subject, period=period, limit=limit, retry_after=retry
            )


async def _check_all(
    session: AsyncSession, place: SendPlace, policy: PinPolicyValues, budgets: SendBudgets, now: dt.datetime
) -> None:
    await check_send_limits(
        session, member_id=place.member_id, terminal_id=place.terminal_id, policy=policy, now=now
    )
    await check_budgets(
        session, venue_id=place.venue_id, program_id=place.program_id, budgets=budgets, now=now
    )


def _new_send(challenge: PinChallenge, place: SendPlace, now: dt.datetime) -> SmsSend:
    return SmsSend(
        challenge_id=challenge.id,
        member_id=challenge.member_id,
        terminal_id=challenge.terminal_id,
        venue_id=place.venue_id,
        program_id=place.program_id,
        status="sending",
        created_at=now,
    )


async def open_challenge(
    session: AsyncSession,
    keyring: Keyring,
    *,
    scan_id: uuid.UUID,
    place: SendPlace,
    policy: PinPolicyValues,
    budgets: SendBudgets,
    now: dt.datetime,
) -> PendingSend:
    """A new challenge and its first send, recorded before the SMS goes out."""
    await _check_all(session, place, policy, budgets, now)
    member_id, program_id, terminal_id = place.member_id, place.program_id, place.terminal_id
    challenge_id = new_id()
    secret = otp.new_secret()
    challenge = PinChallenge(
        id=challenge_id,
        scan_id=scan_id,
        member_id=member_id,
        program_id=program_id,
        terminal_id=terminal_id,
        secret_ciphertext=keyring.encrypt_str(secret, secret_aad(challenge_id)),
        counter=0,
        digits=policy.digits,
        attempts=0,
        max_attempts=policy.max_attempts,
        status="pending",
        expires_at=now + dt.timedelta(seconds=policy.ttl_seconds),
    )
    send = _new_send(challenge, place, now)
    session.add(challenge)
    await session.flush()
    session.add(send)
    await session.flush()
    return PendingSend(send_id=send.id, challenge_id=challenge.id, code=otp.code_at(secret, 0, policy.digits))


async def prepare_resend(
    session: AsyncSession,
    keyring: Keyring,
    challenge: PinChallenge,
    policy: PinPolicyValues,
    now: dt.datetime,
    *,
    venue_id: uuid.UUID,
    budgets: SendBudgets,
) -> PendingSend:
    """A new code for the same challenge: the previous one stops working, the clock restarts."""
    if challenge.status == "verified":
        raise PinAlreadyUsedError()
    if challenge.status == "locked":
        raise PinLockedError()
    if challenge.resend_available_at is not None and now < challenge.resend_available_at:
        wait = int((challenge.resend_available_at - now).total_seconds()) + 1
        raise RateLimitedError(f"A new PIN can be sent in {wait} s.", retry_after=wait, limit="resend")
    place = SendPlace(
        member_id=challenge.member_id,
        terminal_id=challenge.terminal_id,
        venue_id=venue_id,
        program_id=challenge.program_id,
    )
    await _check_all(session, place, policy, budgets, now)
    challenge.counter += 1
    challenge.attempts = 0
    challenge.expires_at = now + dt.timedelta(seconds=policy.ttl_seconds)
    secret = keyring.decrypt_str(challenge.secret_ciphertext, secret_aad(challenge.id))
    send = _new_send(challenge, place, now)
    session.add(send)
    await session.flush()
    return PendingSend(
        send_id=send.id,
        challenge_id=challenge.id,
        code=otp.code_at(secret, challenge.counter, challenge.digits),
    )


async def mark_sent(
    session: AsyncSession, pending: PendingSend, message_id: str, policy: PinPolicyValues, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The SMS centre took it: count the send, start the resend timer; (expires_at, resend_available_at)."""
    await session.execute(
        update(SmsSend)
        .where(SmsSend.id == pending.send_id)
        .values(status="sent", message_id=message_id[:100])
    )
    resend_at = now + dt.timedelta(seconds=policy.resend_after_seconds)
    expires_at = await session.scalar(
        update(PinChallenge)
        .where(PinChallenge.id == pending.challenge_id)
        .values(sent_at=now, resend_available_at=resend_at)
        .returning(PinChallenge.expires_at)
    )
    assert expires_at is not None  # noqa: S101  # the challenge was written before the send
    return expires_at, resend_at


async def mark_failed(session: AsyncSession, pending: PendingSend) -> None:
    """The gateway refused: the send does not count, and a resend is allowed at once."""
    send = await session.get_one(SmsSend, pending.send_id)
    send.status = "failed"
    challenge = await session.get_one(PinChallenge, pending.challenge_id)
    challenge.resend_available_at = None


async def lock_challenge(session: AsyncSession, scan_id: uuid.UUID) -> PinChallenge | None:
    """The scan's challenge, row-locked so concurrent attempts are counted one at a time."""
    result: PinChallenge | None = await session.scalar(
        select(PinChallenge).where(PinChallenge.scan_id == scan_id).with_for_update()
    )
    return result


def check_pin(keyring: Keyring, challenge: PinChallenge, pin: str, now: dt.datetime) -> None:
    """Count one attempt and compare; raises the typed error, or returns having marked it verified."""
    if challenge.status == "verified":
        raise PinAlreadyUsedError()
    if challenge.status == "locked":
        raise PinLockedError(attempts_left=0)
    if challenge.sent_at is None:
        raise PinExpiredError("The PIN was never delivered: send it again.")
    if now >= challenge.expires_at:
        raise PinExpiredError()
    challenge.attempts += 1
    secret = keyring.decrypt_str(challenge.secret_ciphertext, secret_aad(challenge.id))
    if otp.verify(secret, challenge.counter, challenge.digits, pin):
        challenge.status, challenge.verified_at = "verified", now
        return
    left = challenge.max_attempts - challenge.attempts
    if left <= 0:
        challenge.status = "locked"
        raise PinLockedError(attempts_left=0)
    raise PinInvalidError(f"Wrong PIN: {left} attempt{'s' if left != 1 else ''} left.", attempts_left=left)
