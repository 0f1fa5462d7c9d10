"""The guest flow: scan → PIN → discount → receipt → refund, each step one short transaction.

SMS sending happens between transactions, never inside one: a slow SMS centre must not hold a
database lock. Every state change writes its outbox event in the same transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.errors import DeliveryError
from connectors.loyalty import DelegatedLoyaltySource
from connectors.outbox import EventContext, enqueue
from hub import audit, metrics
from hub.clock import Clock
from hub.concierge import announce_visited, fulfil_referral
from hub.crypto import Keyring
from hub.db import Database
from hub.errors import ForbiddenError, InvalidInputError, NotFoundError
from hub.flow import schemas as s
from hub.flow import throttle
from hub.flow.catalog import Catalog
from hub.flow.errors import (
    BonusNotAvailableError,
    CardAmbiguousError,
    CardNotRecognizedError,
    ClosedAtOutOfRangeError,
    CurrencyMismatchError,
    MemberBlockedError,
    ReceiptConflictError,
    RefundExceedsError,
    VisitClosedError,
)
from hub.flow.items import item_count
from hub.flow.models import BonusEntry, Receipt, Refund, Scan, Visit
from hub.flow.outcomes import pin_outcome, scan_outcome
from hub.flow.recognizer import Recognizer
from hub.ratelimit import add_hits
from hub.scope import Scope
from hub.settlement import months
from hub.stats import rollups
from partners import rules
from partners.members import decrypt_phone
from partners.models import Member, Offer, Program, Terminal, Tier, Venue
from partners.settlement import Check, Refunded, refund_of
from pin import otp
from pin import service as pins
from pin.errors import SmsBudgetExceededError, SmsUnavailableError
from pin.models import PinChallenge
from pin.sms import SmsGateway, SmsSendError
from routing.recognition import Candidate, VenueContext, normalize_code, resolve, usable_here

log = logging.getLogger("hub.flow")
DELEGATED_LOYALTY_SECONDS = 3.0  # the waiter is waiting: the hub's own figures after that
CLOCK_SKEW = dt.timedelta(minutes=5)  # a till's clock may be this far off the hub's, either way


class ScanNotFoundError(NotFoundError):
    default_message = "No such scan at this terminal: scan the card again."


class VisitNotFoundError(NotFoundError):
    default_message = "No such visit at this venue."


class ReceiptNotFoundError(NotFoundError):
    default_message = "No such receipt among those this key may refund."


def mask_name(name: str | None) -> str | None:
    """'Anna Petrova' → 'Anna P.'"""
    if not name:
        return None
    parts = name.split()
    return parts[0] if len(parts) == 1 else f"{parts[0]} {parts[-1][0]}."


def request_hash(data: msgspec.Struct) -> str:
    return hashlib.sha256(msgspec.json.encode(data)).hexdigest()


@dataclass(frozen=True)
class FlowLimits:
    """The flow's budgets against abuse (from Settings, wired in hub.app)."""

    unrecognized_scans_per_10min: int = 20
    sms_budgets: pins.SendBudgets = field(default_factory=pins.SendBudgets)


@dataclass(frozen=True)
class Located:
    """A terminal key's place: its venue and partner."""

    terminal_id: uuid.UUID
    venue: Venue


class FlowService:
    def __init__(
        self,
        database: Database,
        keyring: Keyring,
        clock: Clock,
        gateway: SmsGateway,
        loyalty: DelegatedLoyaltySource | None = None,
        limits: FlowLimits | None = None,
    ) -> None:
        self.loyalty = loyalty
        self.limits = limits or FlowLimits()
        self.database = database
        self.keyring = keyring
        self.clock = clock
        self.gateway = gateway
        self.recognizer = Recognizer()
        self.catalog = Catalog(database)

    # ---- scan ----

    async def scan(self, who: Scope, data: s.ScanCreate) -> s.ScanAnswer:
        """Recognise a code (counted by outcome on /metrics)."""
        try:
            answer = await self._scan(who, data)
        except SmsBudgetExceededError as exc:
            metrics.SCANS.labels(outcome=scan_outcome(exc)).inc()
            await self._note_budget(who, exc)
            raise
        except Exception as exc:
            metrics.SCANS.labels(outcome=scan_outcome(exc)).inc()
            raise
        metrics.SCANS.labels(outcome=answer.status).inc()
        return answer

    async def _scan(self, who: Scope, data: s.ScanCreate) -> s.ScanAnswer:
        code = normalize_code(data.code)
        if not code:
            raise InvalidInputError("The code is empty after removing spaces.", field="code")
        async with self.database.transaction() as session:
            place = await self._locate(session, who)
            await self._check_budgets(session, place)
            candidate, member, program = await self._recognize_or_count(session, place, code)
            phone = decrypt_phone(self.keyring, member)
            if program.kind == "venue":
                answer = await self._open_venue_visit(session, place, program, member, candidate, data)
            else:
                answer, pending, policy = await self._open_challenge(
                    session, place, program, member, candidate, data
                )
        if program.kind == "venue":
            return await self._delegated(answer, program, place, phone, member.card_number)
        text = program.sms_template.format(pin=pending.code, program=program.name)
        expires_at, resend_at = await self._deliver(pending, phone, text, policy, answer.scan_id)
        answer.pin = s.PinInfo(
            destination_masked=member.phone_masked, expires_at=expires_at, resend_available_at=resend_at
        )
        return answer

    async def _check_budgets(self, session: AsyncSession, place: Located) -> None:
        """Before the code is recognised, so a spent budget answers a known card and an unknown code alike."""
        now = self.clock.now()
        await pins.check_terminal_window(session, terminal_id=place.terminal_id, now=now)
        await pins.check_budgets(
            session, venue_id=place.venue.id, program_id=None, budgets=self.limits.sms_budgets, now=now
        )
        await throttle.check_misses(session, place.terminal_id, self.limits.unrecognized_scans_per_10min, now)

    async def _recognize_or_count(
        self, session: AsyncSession, place: Located, code: str
    ) -> tuple[Candidate, Member, Program]:
        """The card's program and member; a scan that ends here (unknown, ambiguous, blocked) is counted
        against the terminal's budget of scans that send nothing, and that count commits."""
        try:
            candidate, member = await self._recognize(session, place, code)
            program = await self.catalog.program(session, candidate.program_id)
            if member.status == "blocked":
                raise MemberBlockedError()
        except (CardNotRecognizedError, CardAmbiguousError, MemberBlockedError):
            now = self.clock.now()
            try:
                await throttle.count_miss(
                    session, place.terminal_id, self.limits.unrecognized_scans_per_10min, now
                )
            finally:
                await session.commit()  # the miss counts even though the answer is an error
            raise
        return candidate, member, program

    async def _open_challenge(
        self,
        session: AsyncSession,
        place: Located,
        program: Program,
        member: Member,
        candidate: Candidate,
        data: s.ScanCreate,
    ) -> tuple[s.ScanAnswer, pins.PendingSend, pins.PinPolicyValues]:
        """A coalition card: the scan and its PIN challenge, recorded before the SMS goes out."""
        scan = self._new_scan(place, program, member, candidate, data, "pin_required")
        session.add(scan)
        await session.flush()
        policy = pins.PinPolicyValues.from_program(program.pin_policy)
        await self._lock_for_sending(session, place.terminal_id, member.id)
        pending = await pins.open_challenge(
            session,
            self.keyring,
            scan_id=scan.id,
            place=pins.SendPlace(
                member_id=member.id,
                terminal_id=place.terminal_id,
                venue_id=place.venue.id,
                program_id=program.id,
            ),
            policy=policy,
            budgets=self.limits.sms_budgets,
            now=self.clock.now(),
        )
        # nothing that names the guest before the PIN: the PIN's answer carries the member
        answer = s.ScanAnswer(
            scan_id=scan.id,
            status="pin_required",
            program=s.ProgramBrief(id=program.id, name=program.name, kind=program.kind),
        )
        return answer, pending, policy

    async def _delegated(
        self, answer: s.ScanAnswer, program: Program, place: Located, phone: str, card_number: str
    ) -> s.ScanAnswer:
        """A venue program whose loyalty lives in the venue's own system: show what that system says."""
        if self.loyalty is None or answer.loyalty is None:
            return answer
        try:
            async with asyncio.timeout(DELEGATED_LOYALTY_SECONDS):
                found = await self.loyalty.lookup(
                    program_id=program.id, venue_id=place.venue.id, phone=phone, card_number=card_number
                )
        except (DeliveryError, TimeoutError) as exc:
            log.warning("the venue's loyalty system did not answer: %s", type(exc).__name__)
            answer.loyalty.note = (
                "The venue's own loyalty system did not answer: the hub's figures are shown."
            )
            return answer
        if found is not None:  # the venue's system speaks for the guest: no hub tier beside its own
            answer.loyalty.source = found.source
            answer.loyalty.tier_code = found.tier_code
            answer.loyalty.tier_name = found.tier_name
            answer.loyalty.bonus_balance_minor = found.bonus_balance_minor
            if answer.member is not None:
                answer.member.tier_code = found.tier_code
        return answer

    async def _locate(self, session: AsyncSession, who: Scope) -> Located:
        if who.terminal_id is None or who.venue_id is None:
            raise ForbiddenError("Only a terminal key scans cards.")
        terminal = await self.catalog.terminal(session, who.terminal_id)
        if terminal is None or terminal.disabled_at is not None:
            raise ForbiddenError("This terminal is disabled.")
        venue = await self.catalog.venue(session, terminal.venue_id)
        return Located(terminal_id=terminal.id, venue=venue)

    async def _venue_context(self, session: AsyncSession, venue: Venue) -> VenueContext:
        offered = await self.catalog.programs_offered_at(session, venue)
        return VenueContext(venue_id=venue.id, partner_id=venue.partner_id, offered_program_ids=offered)

    async def _recognize(self, session: AsyncSession, place: Located, code: str) -> tuple[Candidate, Member]:
        index = await self.recognizer.index(session)
        found = index.recognize(code, int(self.clock.now().timestamp()))
        context = await self._venue_context(session, place.venue)
        candidates = usable_here(found.candidates, context)
        by_phone: dict[uuid.UUID, Member] = {}
        if found.phone_e164 and index.phone_programs:
            phone_programs = [p.program_id for p in index.phone_programs]
            for member in await session.scalars(
                select(Member).where(
                    Member.program_id.in_(phone_programs),
                    Member.phone_index.in_(self.keyring.blind_indexes(found.phone_e164)),
                )
            ):
                by_phone[member.program_id] = member
            programs = {p.program_id: p for p in index.phone_programs}
            phone_candidates = [
                Candidate(
                    program_id=pid,
                    kind=programs[pid].kind,
                    owner_partner_id=programs[pid].owner_partner_id,
                    card_number=None,
                    matched_by="phone",
                )
                for pid in by_phone
            ]
            candidates = [*candidates, *usable_here(phone_candidates, context)]
        members = await self._members_of(session, candidates, by_phone)
        candidates = [c for c in candidates if c.program_id in members]
        chosen = resolve(candidates, context)
        if not chosen:
            raise CardNotRecognizedError()
        if len(chosen) > 1:
            names = dict(
                (
                    await session.execute(
                        select(Program.id, Program.name).where(Program.id.in_([c.program_id for c in chosen]))
                    )
                ).all()
            )
            raise CardAmbiguousError(
                candidates=[
                    {"program_id": str(c.program_id), "name": names.get(c.program_id)} for c in chosen
                ]
            )
        return chosen[0], members[chosen[0].program_id]

    async def _members_of(
        self, session: AsyncSession, candidates: list[Candidate], by_phone: dict[uuid.UUID, Member]
    ) -> dict[uuid.UUID, Member]:
        """The member each candidate program knows this card as (programs without one drop out)."""
        found = dict(by_phone)
        pairs = [(c.program_id, c.card_number) for c in candidates if c.card_number is not None]
        if pairs:
            rows = await session.scalars(
                select(Member).where(
                    or_(*(and_(Member.program_id == p, Member.card_number == n) for p, n in pairs))
                )
            )
            for member in rows:
                found.setdefault(member.program_id, member)
        return found

    def _new_scan(
        self,
        place: Located,
        program: Program,
        member: Member,
        candidate: Candidate,
        data: s.ScanCreate,
        status: str,
    ) -> Scan:
        return Scan(
            terminal_id=place.terminal_id,
            venue_id=place.venue.id,
            program_id=program.id,
            member_id=member.id,
            matched_by=candidate.matched_by,
            symbology=data.symbology,
            status=status,
            created_at=self.clock.now(),
        )

    async def _lock_for_sending(
        self, session: AsyncSession, terminal_id: uuid.UUID, member_id: uuid.UUID
    ) -> None:
        """Serialise sends per terminal and per card (same order everywhere: no deadlocks).

        On SQLite the transaction's BEGIN IMMEDIATE already holds the database's only write lock."""
        if self.database.is_sqlite:
            return
        await session.execute(select(Terminal.id).where(Terminal.id == terminal_id).with_for_update())
        await session.execute(select(Member.id).where(Member.id == member_id).with_for_update())

    async def _deliver(
        self,
        pending: pins.PendingSend,
        phone: str,
        text: str,
        policy: pins.PinPolicyValues,
        scan_id: uuid.UUID,
    ) -> tuple[dt.datetime, dt.datetime]:
        """Send outside any transaction; (expires_at, resend_available_at) once the SMS centre took it."""
        gateway = metrics.gateway_label(self.gateway)
        try:
            message_id = await self.gateway.send(phone, text)
        except SmsSendError as exc:
            metrics.SMS.labels(gateway=gateway, result="failed").inc()
            log.warning("SMS gateway failed: %s", type(exc).__name__)
            async with self.database.transaction() as session:
                await pins.mark_failed(session, pending)
            raise SmsUnavailableError(scan_id=str(scan_id)) from None
        metrics.SMS.labels(gateway=gateway, result="sent").inc()
        async with self.database.transaction() as session:
            return await pins.mark_sent(session, pending, message_id, policy, self.clock.now())

    async def _open_venue_visit(
        self,
        session: AsyncSession,
        place: Located,
        program: Program,
        member: Member,
        candidate: Candidate,
        data: s.ScanCreate,
    ) -> s.ScanAnswer:
        """The venue's own card: no PIN, the visit opens at once with the tier's terms."""
        scan = self._new_scan(place, program, member, candidate, data, "venue_loyalty")
        session.add(scan)
        await session.flush()
        tier = await self._tier(session, program.id, member.tier_code)
        visit = Visit(
            scan_id=scan.id,
            program_id=program.id,
            member_id=member.id,
            venue_id=place.venue.id,
            partner_id=place.venue.partner_id,
            terminal_id=place.terminal_id,
            tier_code=member.tier_code,
            offer_id=None,
            discount_bp=tier.discount_bp if tier else 0,
            max_discount_minor=None,
            excluded_categories=[],
            perks=[],
            coalition_funded_bp=0,
            status="open",
            verified_at=self.clock.now(),
        )
        session.add(visit)
        await session.flush()
        await rollups.record_visit(session, visit, place.venue)
        return s.ScanAnswer(
            scan_id=scan.id,
            status="venue_loyalty",
            visit_id=visit.id,
            program=s.ProgramBrief(id=program.id, name=program.name, kind=program.kind),
            member=s.MemberBrief(tier_code=member.tier_code, name_masked=mask_name(member.name)),
            loyalty=_loyalty(tier, member),
        )

    async def _tier(self, session: AsyncSession, program_id: uuid.UUID, code: str | None) -> Tier | None:
        return await self.catalog.tier(session, program_id, code)

    # ---- PIN ----

    async def _scan_of(self, session: AsyncSession, who: Scope, scan_id: uuid.UUID) -> Scan:
        scan = await session.get(Scan, scan_id)
        if scan is None or scan.terminal_id != who.terminal_id:
            raise ScanNotFoundError()
        return scan

    async def _scan_to_verify(
        self, session: AsyncSession, who: Scope, scan_id: uuid.UUID
    ) -> tuple[Scan, PinChallenge, Member]:
        """The scan of this terminal, its challenge (row-locked: attempts are counted one at a time) and
        its member, in one query; the precise error when there is none."""
        row = (
            await session.execute(
                select(Scan, PinChallenge, Member)
                .join(PinChallenge, PinChallenge.scan_id == Scan.id)
                .join(Member, Member.id == Scan.member_id)
                .where(Scan.id == scan_id, Scan.terminal_id == who.terminal_id)
                .with_for_update(of=PinChallenge)
            )
        ).one_or_none()
        if row is None:
            await self._scan_of(session, who, scan_id)  # raises when the scan is not this terminal's
            raise ScanNotFoundError("This scan needs no PIN.")
        return row[0], row[1], row[2]

    async def verify(self, who: Scope, scan_id: uuid.UUID, data: s.PinSubmit) -> s.Verified:
        async with self.database.transaction() as session:
            await months.hold(session)  # the visit counts in this month: it cannot close meanwhile
            scan, challenge, member = await self._scan_to_verify(session, who, scan_id)
            if not otp.is_well_formed(data.pin, challenge.digits):
                raise InvalidInputError(
                    f"The PIN is {challenge.digits} digits 0-9, nothing else.",
                    field="pin",
                    digits=challenge.digits,
                )
            now = self.clock.now()
            was_locked = challenge.status == "locked"
            try:
                pins.check_pin(self.keyring, challenge, data.pin, now)
            except Exception as exc:
                await self._note_pin(session, who, challenge, pin_outcome(exc), now, was_locked=was_locked)
                await session.commit()  # the attempt counts even though the answer is an error
                raise
            scan.status = "verified"
            verified = await self._open_coalition_visit(session, scan, member, now)
            await self._note_pin(session, who, challenge, "verified", now, was_locked=was_locked)
            return verified

    async def _note_pin(
        self,
        session: AsyncSession,
        who: Scope,
        challenge: PinChallenge,
        outcome: str,
        now: dt.datetime,
        *,
        was_locked: bool,
    ) -> None:
        """Count the check on /metrics and audit it; the attempt that locks the code is a lock-out."""
        metrics.VERIFICATIONS.labels(outcome=outcome).inc()
        action = "pin.lock_out" if outcome == "locked" and not was_locked else f"pin.{outcome}"
        details = {
            "outcome": outcome,
            "attempts": challenge.attempts,
            "max_attempts": challenge.max_attempts,
            "program_id": str(challenge.program_id),
            "terminal_id": str(challenge.terminal_id),
        }
        await audit.record(session, who, action, "scan", challenge.scan_id, at=now, details=details)

    async def _open_coalition_visit(
        self, session: AsyncSession, scan: Scan, member: Member, now: dt.datetime
    ) -> s.Verified:
        venue = await self.catalog.venue(session, scan.venue_id)
        program = await self.catalog.program(session, scan.program_id)
        offers = await self.catalog.active_offers(session, program.id)
        offer = rules.choose_offer(
            (_terms(o) for o in offers),
            tier_code=member.tier_code,
            venue_id=venue.id,
            partner_id=venue.partner_id,
        )
        visit = Visit(
            scan_id=scan.id,
            program_id=program.id,
            member_id=member.id,
            venue_id=venue.id,
            partner_id=venue.partner_id,
            terminal_id=scan.terminal_id,
            tier_code=member.tier_code,
            offer_id=offer.offer_id if offer else None,
            discount_bp=offer.discount_bp if offer else 0,
            max_discount_minor=offer.max_discount_minor if offer else None,
            excluded_categories=sorted(offer.excluded_categories) if offer else [],
            perks=list(offer.perks) if offer else [],
            coalition_funded_bp=offer.coalition_funded_bp if offer else 0,
            status="open",
            verified_at=now,
        )
        session.add(visit)
        await session.flush()
        await rollups.record_visit(session, visit, venue)
        referral_id = await fulfil_referral(
            session, member_id=member.id, venue_id=venue.id, visit_id=visit.id, verified_at=now
        )
        await enqueue(
            session,
            event_type="visit.verified",
            context=_context(program, venue),
            occurred_at=now,
            data={
                "visit_id": str(visit.id),
                "member": {"id": str(member.id), "tier_code": member.tier_code},
                "referral_id": str(referral_id) if referral_id else None,
                "verified_at": _iso(now),
            },
            personal={"phone": decrypt_phone(self.keyring, member), "phone_masked": member.phone_masked},
            keyring=self.keyring,
            member_id=member.id,
        )
        if referral_id is not None:
            await announce_visited(session, referral_id, now)
        return s.Verified(
            status="verified",
            visit_id=visit.id,
            discount=s.Discount(
                offer_id=visit.offer_id,
                percent=visit.discount_bp / 100,
                max_discount_minor=visit.max_discount_minor,
                excluded_categories=list(visit.excluded_categories),
                perks=list(visit.perks),
            ),
            member=s.MemberBrief(tier_code=member.tier_code, name_masked=mask_name(member.name)),
        )

    async def _note_budget(self, who: Scope, exc: SmsBudgetExceededError) -> None:
        """Count the refusal on /metrics; audit the first refusal of each budget's hour or day."""
        metrics.SMS_BUDGET_REFUSALS.labels(budget=exc.budget).inc()
        now = self.clock.now()
        window = int(now.timestamp() // pins.PERIODS[exc.period].total_seconds())
        subject = f"sms-budget:{exc.budget}:{exc.subject_id or 'hub'}"
        details = {"budget": exc.budget, "limit": exc.limit, "retry_after": exc.retry_after}
        async with self.database.transaction() as session:
            if await add_hits(session, subject, window) == 1:
                await audit.record(
                    session, who, "sms.budget_spent", exc.scope, exc.subject_id, at=now, details=details
                )

    async def resend(self, who: Scope, scan_id: uuid.UUID) -> s.Resent:
        try:
            return await self._resend(who, scan_id)
        except SmsBudgetExceededError as exc:
            await self._note_budget(who, exc)
            raise

    async def _resend(self, who: Scope, scan_id: uuid.UUID) -> s.Resent:
        async with self.database.transaction() as session:
            scan = await self._scan_of(session, who, scan_id)
            program = await self.catalog.program(session, scan.program_id)
            policy = pins.PinPolicyValues.from_program(program.pin_policy)
            await self._lock_for_sending(session, scan.terminal_id, scan.member_id)
            challenge = await pins.lock_challenge(session, scan.id)
            if challenge is None:
                raise ScanNotFoundError("This scan needs no PIN.")
            pending = await pins.prepare_resend(
                session,
                self.keyring,
                challenge,
                policy,
                self.clock.now(),
                venue_id=scan.venue_id,
                budgets=self.limits.sms_budgets,
            )
            member = await session.get_one(Member, scan.member_id)
            phone = decrypt_phone(self.keyring, member)
            text = program.sms_template.format(pin=pending.code, program=program.name)
        expires_at, resend_at = await self._deliver(pending, phone, text, policy, scan.id)
        return s.Resent(resend_available_at=resend_at, expires_at=expires_at)

    # ---- receipt ----

    async def _visit_here(self, session: AsyncSession, who: Scope, visit_id: uuid.UUID, lock: bool) -> Visit:
        query = select(Visit).where(Visit.id == visit_id)
        visit = await session.scalar(query.with_for_update() if lock else query)
        if visit is None or visit.venue_id != who.venue_id:
            raise VisitNotFoundError()
        return visit

    async def quote(self, who: Scope, visit_id: uuid.UUID, data: s.QuoteCreate) -> s.QuoteAnswer:
        """What the receipt with this body would get, priced as the receipt prices it; changes nothing."""
        async with self.database.reader() as session:
            visit = await self._visit_here(session, who, visit_id, lock=False)
            if visit.status != "open":
                raise VisitClosedError()
            if data.closed_at is not None:
                _check_closed_at(visit, data.closed_at, self.clock.now())
            program = await self.catalog.program(session, visit.program_id)
            _check_currency(program, data.currency)
            member = await session.get_one(Member, visit.member_id)
            bill = await self._bill(session, program, visit, member, data.items, data.pay_with_bonus_minor)
            return s.QuoteAnswer(
                visit_id=visit.id,
                currency=data.currency,
                subtotal_minor=bill.priced.subtotal_minor,
                discount_minor=bill.priced.discount_minor,
                bonus_spent_minor=bill.bonus_spent_minor,
                bonus_accrued_minor=bill.bonus_accrued_minor,
                total_minor=bill.total_minor,
                bonus_payable_minor=bill.bonus_payable_minor,
                bonus_balance_minor=member.bonus_balance_minor if program.kind == "venue" else 0,
                lines=_lines_out(bill.priced),
            )

    async def close(
        self, who: Scope, visit_id: uuid.UUID, data: s.ReceiptCreate
    ) -> tuple[s.ReceiptAnswer, bool]:
        """Post the receipt; (answer, created). The same body again answers the first receipt."""
        if data.closed_at.tzinfo is None:
            raise InvalidInputError(
                "closed_at needs a time zone offset, e.g. 2026-11-20T21:15:00+03:00.", field="closed_at"
            )
        digest = request_hash(data)
        try:
            async with self.database.transaction() as session:
                # lock the visit first: a concurrent post of the same check then sees the receipt it wrote
                visit = await self._visit_here(session, who, visit_id, lock=True)
                if visit.status != "open":  # a retry of its receipt, or another check for a closed visit
                    existing = await self._existing_receipt(session, who, visit.id, data.check_id, digest)
                    if existing is not None:
                        return existing, False
                # an open visit: a check number already used at this venue fails the insert (unique)
                return await self._close(session, visit, data, digest), True
        except IntegrityError:
            # the check number is taken (a concurrent post of it won the race, or another visit has
            # it): answer as for a retry, or 409 for another body
            async with self.database.reader() as session:
                existing = await self._existing_receipt(session, who, visit_id, data.check_id, digest)
            if existing is None:
                raise VisitClosedError() from None
            return existing, False

    async def _existing_receipt(
        self, session: AsyncSession, who: Scope, visit_id: uuid.UUID, check_id: str, digest: str
    ) -> s.ReceiptAnswer | None:
        """The receipt this post repeats (same visit, same body), None if the check is unused here."""
        receipt = await session.scalar(
            select(Receipt).where(Receipt.venue_id == who.venue_id, Receipt.check_id == check_id)
        )
        if receipt is None:
            return None
        if receipt.visit_id != visit_id:
            raise ReceiptConflictError(
                "This check_id belongs to another visit at this venue: use the check's own number.",
                receipt_id=str(receipt.id),
                visit_id=str(receipt.visit_id),
            )
        if receipt.request_hash != digest:
            raise ReceiptConflictError(receipt_id=str(receipt.id))
        visit = await session.get_one(Visit, receipt.visit_id)
        return _receipt_answer(receipt, visit.tier_code)

    async def _close(
        self, session: AsyncSession, visit: Visit, data: s.ReceiptCreate, digest: str
    ) -> s.ReceiptAnswer:
        if visit.status != "open":
            raise VisitClosedError()
        await months.hold(session)  # before `now`: a month closing meanwhile waits for this receipt
        _check_closed_at(visit, data.closed_at, self.clock.now())
        program = await self.catalog.program(session, visit.program_id)
        _check_currency(program, data.currency)
        venue = await self.catalog.venue(session, visit.venue_id)
        member = await self._member_of_visit(session, program, visit)
        bill = await self._bill(session, program, visit, member, data.items, data.pay_with_bonus_minor)
        now = self.clock.now()
        receipt = Receipt(
            visit_id=visit.id,
            venue_id=visit.venue_id,
            program_id=program.id,
            member_id=visit.member_id,
            check_id=data.check_id,
            request_hash=digest,
            currency=data.currency,
            closed_at=data.closed_at,
            subtotal_minor=bill.priced.subtotal_minor,
            discount_minor=bill.priced.discount_minor,
            total_minor=bill.total_minor,
            item_count=item_count(p.line.quantity_milli for p in bill.priced.lines),
            lines=msgspec.to_builtins(_lines_out(bill.priced)),
            guests=data.guests,
            staff=data.staff,
            bonus_spent_minor=bill.bonus_spent_minor,
            bonus_accrued_minor=bill.bonus_accrued_minor,
            settlement_period=await months.receipt_month(session, venue.timezone, data.closed_at, now),
            refunded_minor=0,
            refunded_discount_minor=0,
            refunded_bonus_minor=0,
            created_at=now,
        )
        session.add(receipt)
        await session.flush()
        await self._book_bonus(session, member, receipt)
        tier_code = await self._promote(session, program, member, receipt, now) or visit.tier_code
        await rollups.record_receipt(session, visit, receipt, venue)
        visit.status, visit.closed_at = "closed", now
        await self._announce_receipt(session, program, venue, member, receipt, tier_code, now)
        return _receipt_answer(receipt, tier_code)

    async def _announce_receipt(
        self,
        session: AsyncSession,
        program: Program,
        venue: Venue,
        member: Member,
        receipt: Receipt,
        tier_code: str | None,
        now: dt.datetime,
    ) -> None:
        """The receipt.closed event, in the receipt's transaction."""
        await enqueue(
            session,
            event_type="receipt.closed",
            context=_context(program, venue),
            occurred_at=now,
            member_id=receipt.member_id,
            **self._member_part(member),
            data={
                "visit_id": str(receipt.visit_id),
                "member": {"id": str(receipt.member_id), "tier_code": tier_code},
                "receipt_id": str(receipt.id),
                "check_id": receipt.check_id,
                "items": [_event_item(line) for line in receipt.lines],
                "subtotal_minor": receipt.subtotal_minor,
                "discount_minor": receipt.discount_minor,
                "total_minor": receipt.total_minor,
                "currency": receipt.currency,
                "closed_at": _iso(receipt.closed_at),
                "guests": receipt.guests,
                "bonus_spent_minor": receipt.bonus_spent_minor,
                "bonus_accrued_minor": receipt.bonus_accrued_minor,
            },
        )

    async def _member_of_visit(self, session: AsyncSession, program: Program, visit: Visit) -> Member:
        """The visit's member; locked in a venue program, whose receipt moves the bonus balance."""
        if program.kind != "venue":
            return await session.get_one(Member, visit.member_id)
        member = await session.scalar(select(Member).where(Member.id == visit.member_id).with_for_update())
        assert member is not None  # noqa: S101  # the visit's member exists (FK)
        return member

    async def _bill(
        self,
        session: AsyncSession,
        program: Program,
        visit: Visit,
        member: Member,
        items: list[s.ItemIn],
        spend: int,
    ) -> rules.Bill:
        """The check as the quote and the receipt both price it; a bonus payment it cannot take is refused."""
        if program.kind != "venue" and spend:
            raise BonusNotAvailableError(
                "Coalition visits are not paid by bonus.", field="pay_with_bonus_minor"
            )
        bonus = None
        if program.kind == "venue":
            tier = await self._tier(session, program.id, visit.tier_code)
            bonus = rules.BonusTerms(
                balance_minor=member.bonus_balance_minor,
                bonus_bp=tier.bonus_bp if tier else None,
                max_bonus_payment_bp=tier.max_bonus_payment_bp if tier else None,
            )
        bill = rules.bill(_price(visit, items), bonus, spend)
        if bill.is_overdrawn:
            raise BonusNotAvailableError(
                field="pay_with_bonus_minor", bonus_payable_minor=bill.bonus_payable_minor
            )
        return bill

    async def _book_bonus(self, session: AsyncSession, member: Member, receipt: Receipt) -> None:
        """The ledger entries of a receipt: the bonus paid with it, then the bonus it earned."""
        if receipt.bonus_spent_minor:
            await self._bonus(session, member, receipt.id, "spend", -receipt.bonus_spent_minor)
        if receipt.bonus_accrued_minor:
            await self._bonus(session, member, receipt.id, "accrual", receipt.bonus_accrued_minor)

    async def _bonus(
        self, session: AsyncSession, member: Member, receipt_id: uuid.UUID | None, kind: str, amount: int
    ) -> None:
        session.add(
            BonusEntry(
                member_id=member.id,
                receipt_id=receipt_id,
                kind=kind,
                amount_minor=amount,
                created_at=self.clock.now(),
            )
        )
        await session.execute(
            update(Member)
            .where(Member.id == member.id)
            .values(bonus_balance_minor=Member.bonus_balance_minor + amount)
        )
        await session.refresh(member, ["bonus_balance_minor"])

    async def _promote(
        self,
        session: AsyncSession,
        program: Program,
        member: Member,
        receipt: Receipt,
        now: dt.datetime,
    ) -> str | None:
        """Move the member up when a tier's condition now holds; grant that tier's welcome bonus."""
        tiers = await self.catalog.tiers(session, program.id)
        tier_rules = [_tier_rule(t) for t in tiers]
        member_id = member.id
        periods = {t.period_days for t in tier_rules if t.metric is not None}
        if not periods:
            return None
        spent: dict[int, int] = {}
        visits: dict[int, int] = {}
        for days in periods:
            row = (
                await session.execute(
                    select(
                        func.count(Receipt.id),
                        func.coalesce(func.sum(Receipt.total_minor - Receipt.refunded_minor), 0),
                    ).where(Receipt.member_id == member_id, Receipt.closed_at > now - dt.timedelta(days=days))
                )
            ).one()
            visits[days], spent[days] = int(row[0]), int(row[1])
        new_code = rules.promoted_tier(tier_rules, member.tier_code, spent_minor=spent, visits=visits)
        if new_code is None:
            return None
        member.tier_code = new_code
        welcome = next((t.welcome_bonus_minor for t in tier_rules if t.code == new_code), None)
        if welcome and program.kind == "venue":
            await self._bonus(session, member, receipt.id, "welcome", welcome)
        return new_code

    def _member_part(self, member: Member) -> dict[str, Any]:
        """The encrypted personal part of an event about this member (connectors get it per their level)."""
        phone = decrypt_phone(self.keyring, member)
        return {"personal": {"phone": phone, "phone_masked": member.phone_masked}, "keyring": self.keyring}

    # ---- refund ----

    async def refund(self, who: Scope, receipt_id: uuid.UUID, data: s.RefundCreate) -> s.RefundAnswer:
        """Give back money, and in proportion the discount, the bonus earned and the bonus paid."""
        async with self.database.transaction() as session:
            await months.hold(session)  # the refund lands in this month: it cannot close meanwhile
            receipt = await session.scalar(select(Receipt).where(Receipt.id == receipt_id).with_for_update())
            if receipt is None or not await self._may_refund(session, who, receipt):
                raise ReceiptNotFoundError()
            parts = refund_of(
                _check_of(receipt),
                refunded_minor=receipt.refunded_minor,
                returned_minor=receipt.refunded_bonus_minor,
                amount_minor=data.amount_minor,
            )
            if parts is None:
                left = receipt.total_minor - receipt.refunded_minor
                raise RefundExceedsError(field="amount_minor", refundable_minor=left)
            member = await session.get_one(Member, receipt.member_id)
            await self._unbook_bonus(session, member, receipt, parts)
            receipt.refunded_minor += parts.amount_minor
            receipt.refunded_discount_minor += parts.discount_reversed_minor
            receipt.refunded_bonus_minor += parts.bonus_returned_minor
            now = self.clock.now()
            refund = Refund(
                receipt_id=receipt.id,
                amount_minor=parts.amount_minor,
                discount_reversed_minor=parts.discount_reversed_minor,
                bonus_reversed_minor=parts.bonus_reversed_minor,
                bonus_returned_minor=parts.bonus_returned_minor,
                reason=data.reason,
                created_at=now,
            )
            session.add(refund)
            await session.flush()
            await self._announce_refund(session, who, receipt, refund, member, now)
            return s.RefundAnswer(
                refund_id=refund.id,
                receipt_id=receipt.id,
                amount_minor=refund.amount_minor,
                discount_reversed_minor=refund.discount_reversed_minor,
                bonus_reversed_minor=refund.bonus_reversed_minor,
                bonus_returned_minor=refund.bonus_returned_minor,
                currency=receipt.currency,
                reason=data.reason,
                created_at=now,
            )

    async def _may_refund(self, session: AsyncSession, who: Scope, receipt: Receipt) -> bool:
        """The receipt's till or venue, its venue's partner, an admin."""
        if who.role == "admin":
            return True
        if who.role == "partner":
            venue = await self.catalog.venue(session, receipt.venue_id)
            return venue.partner_id == who.partner_id
        return who.role in ("terminal", "venue") and receipt.venue_id == who.venue_id

    async def _unbook_bonus(
        self, session: AsyncSession, member: Member, receipt: Receipt, parts: Refunded
    ) -> None:
        """The refund's ledger entries: the earned bonus taken back, the paid bonus given back."""
        if parts.bonus_reversed_minor:
            await self._bonus(session, member, receipt.id, "refund", -parts.bonus_reversed_minor)
        if parts.bonus_returned_minor:
            await self._bonus(session, member, receipt.id, "return", parts.bonus_returned_minor)

    async def _announce_refund(
        self,
        session: AsyncSession,
        who: Scope,
        receipt: Receipt,
        refund: Refund,
        member: Member,
        now: dt.datetime,
    ) -> None:
        """Rollups, the receipt.refunded event and the audit entry, in the refund's transaction."""
        program = await self.catalog.program(session, receipt.program_id)
        venue = await self.catalog.venue(session, receipt.venue_id)
        await rollups.record_refund(session, receipt, refund, venue)
        await enqueue(
            session,
            event_type="receipt.refunded",
            context=_context(program, venue),
            occurred_at=now,
            member_id=receipt.member_id,
            **self._member_part(member),
            data={
                "member": {"id": str(receipt.member_id)},
                "receipt_id": str(receipt.id),
                "refund_id": str(refund.id),
                "amount_minor": refund.amount_minor,
                "discount_reversed_minor": refund.discount_reversed_minor,
                "bonus_reversed_minor": refund.bonus_reversed_minor,
                "bonus_returned_minor": refund.bonus_returned_minor,
                "reason": refund.reason,
                "currency": receipt.currency,
            },
        )
        details = {
            "refund_id": str(refund.id),
            "amount_minor": refund.amount_minor,
            "bonus_returned_minor": refund.bonus_returned_minor,
            "currency": receipt.currency,
        }
        await audit.record(session, who, "receipt.refund", "receipt", receipt.id, at=now, details=details)


# ---- pure helpers ----


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _context(program: Program, venue: Venue) -> EventContext:
    return EventContext(
        program_id=program.id,
        program_name=program.name,
        venue_id=venue.id,
        venue_name=venue.name,
        partner_id=venue.partner_id,
    )


def _terms(offer: Offer) -> rules.OfferTerms:
    return rules.OfferTerms(
        offer_id=offer.id,
        partner_id=offer.partner_id,
        venue_id=offer.venue_id,
        tier_code=offer.tier_code,
        discount_bp=offer.discount_bp,
        max_discount_minor=offer.max_discount_minor,
        excluded_categories=frozenset(offer.excluded_categories),
        perks=tuple(offer.perks),
        coalition_funded_bp=offer.coalition_funded_bp,
    )


def _tier_rule(tier: Tier) -> rules.TierRule:
    when: dict[str, Any] = tier.promote_when or {}
    return rules.TierRule(
        code=tier.code,
        metric=when.get("metric"),
        over=int(when.get("over", 0)),
        period_days=int(when.get("period_days", 365)),
        welcome_bonus_minor=tier.welcome_bonus_minor,
    )


def _loyalty(tier: Tier | None, member: Member) -> s.Loyalty:
    return s.Loyalty(
        tier_code=member.tier_code,
        tier_name=tier.name if tier else None,
        discount_percent=(tier.discount_bp if tier else 0) / 100,
        bonus_percent=((tier.bonus_bp or 0) if tier else 0) / 100,
        bonus_balance_minor=member.bonus_balance_minor,
        max_bonus_payment_percent=((tier.max_bonus_payment_bp or 0) if tier else 0) / 100,
    )


def _check_closed_at(visit: Visit, closed_at: dt.datetime, now: dt.datetime) -> None:
    """A check closes after its visit was verified and not after now, give or take the clock skew."""
    earliest, latest = visit.verified_at - CLOCK_SKEW, now + CLOCK_SKEW
    if closed_at.tzinfo is None:
        raise InvalidInputError(
            "closed_at needs a time zone offset, e.g. 2026-11-20T21:15:00+03:00.", field="closed_at"
        )
    if not earliest <= closed_at <= latest:
        raise ClosedAtOutOfRangeError(field="closed_at", earliest=_iso(earliest), latest=_iso(latest))


def _check_currency(program: Program, currency: str) -> None:
    if currency != program.currency:
        raise CurrencyMismatchError(
            f"This program counts in {program.currency}, not {currency}.", field="currency"
        )


def _price(visit: Visit, items: list[s.ItemIn]) -> rules.Priced:
    lines = [
        rules.Line(
            name=i.name,
            category=i.category,
            quantity_milli=max(1, round(i.quantity * rules.MILLI)),
            unit_price_minor=i.unit_price_minor,
            sku=i.sku,
        )
        for i in items
    ]
    return rules.price(
        lines,
        discount_bp=visit.discount_bp,
        max_discount_minor=visit.max_discount_minor,
        excluded=frozenset(visit.excluded_categories),
    )


def _lines_out(priced: rules.Priced) -> list[s.LineOut]:
    return [
        s.LineOut(
            name=p.line.name,
            category=p.line.category,
            sku=p.line.sku,
            quantity=p.line.quantity_milli / rules.MILLI,
            unit_price_minor=p.line.unit_price_minor,
            amount_minor=p.amount_minor,
            discount_minor=p.discount_minor,
            is_excluded=p.is_excluded,
        )
        for p in priced.lines
    ]


def _event_item(line: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "category", "sku", "quantity", "unit_price_minor", "amount_minor", "discount_minor")
    return {k: line.get(k) for k in keys}


def _check_of(receipt: Receipt) -> Check:
    return Check(
        total_minor=receipt.total_minor,
        discount_minor=receipt.discount_minor,
        bonus_spent_minor=receipt.bonus_spent_minor,
        bonus_accrued_minor=receipt.bonus_accrued_minor,
    )


def _receipt_answer(receipt: Receipt, tier_code: str | None) -> s.ReceiptAnswer:
    return s.ReceiptAnswer(
        receipt_id=receipt.id,
        visit_id=receipt.visit_id,
        check_id=receipt.check_id,
        currency=receipt.currency,
        subtotal_minor=receipt.subtotal_minor,
        discount_minor=receipt.discount_minor,
        bonus_spent_minor=receipt.bonus_spent_minor,
        bonus_accrued_minor=receipt.bonus_accrued_minor,
        total_minor=receipt.total_minor,
        lines=msgspec.convert(receipt.lines, list[s.LineOut]),
        tier_code=tier_code,
    )
