"""Registry services: programs, partners, venues, terminals and offers. The caller commits."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
import zoneinfo
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from msgspec import UNSET
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from hub.clock import utcnow
from hub.errors import InvalidInputError
from hub.schema import Page, decode_cursor, page_of
from hub.scope import Scope
from partners import visibility
from partners.errors import (
    InvalidCardRuleError,
    InvalidTierError,
    NameTakenError,
    OfferNotFoundError,
    PartnerNotFoundError,
    ProgramNotFoundError,
    QuotaExceededError,
    TerminalNotFoundError,
    TierInUseError,
    VenueNotFoundError,
)
from partners.models import Member, Offer, Partner, Program, Terminal, Tier, Venue
from partners.rules import BP
from partners.schemas import (
    CardRule,
    Funding,
    FundingIn,
    OfferCreate,
    OfferRead,
    OfferUpdate,
    PartnerCreate,
    PartnerRead,
    PartnerUpdate,
    PatternRule,
    PinPolicy,
    PrefixRule,
    ProgramCreate,
    ProgramFees,
    ProgramRead,
    ProgramUpdate,
    PromoteWhen,
    SignedQrRule,
    TerminalRead,
    TierIn,
    TierRead,
    VenueCreate,
    VenueRead,
    VenueUpdate,
)
from partners.settlement import FeeTerms, fee_entry, fee_schedule


def to_bp(percent: float) -> int:
    """Percent (12.5) → basis points (1250), the integer the discount math runs on."""
    return round(percent * 100)


def from_bp(bp: int | None) -> float | None:
    return None if bp is None else bp / 100


# ---- programs ----


def _check_tiers(tiers: list[TierIn]) -> None:
    codes = [t.code for t in tiers]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise InvalidTierError(
            f"Tier codes must be unique; repeated: {', '.join(duplicates)}.", field="tiers"
        )
    if tiers[0].promote_when is not None:
        raise InvalidTierError(
            "The first tier is where members start: it has no promotion condition.",
            field="tiers[0].promote_when",
        )


def _check_signed_qr_key(value: str, index: int) -> None:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
        Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise InvalidCardRuleError(
            "public_key must be the base64 of a raw 32-byte Ed25519 public key.",
            field=f"card_rules[{index}].public_key",
        ) from None


def normalize_card_rules(rules: list[CardRule]) -> list[CardRule]:
    """Validate rules (patterns compile, keys parse, no duplicates) and upper-case prefixes."""
    seen: set[tuple[str, str]] = set()
    result: list[CardRule] = []
    for index, rule in enumerate(rules):
        if isinstance(rule, PrefixRule):
            rule = PrefixRule(value=rule.value.upper())
            key = ("prefix", rule.value)
        elif isinstance(rule, PatternRule):
            try:
                re.compile(rule.value)
            except re.error as exc:
                raise InvalidCardRuleError(
                    f"The pattern does not compile: {exc}.", field=f"card_rules[{index}].value"
                ) from None
            key = ("pattern", rule.value)
        elif isinstance(rule, SignedQrRule):
            _check_signed_qr_key(rule.public_key, index)
            key = ("signed_qr", rule.public_key)
        else:
            key = ("phone", "")
        if key in seen:
            raise InvalidCardRuleError("The same card rule is listed twice.", field=f"card_rules[{index}]")
        seen.add(key)
        result.append(rule)
    return result


def _tier_row(position: int, tier: TierIn) -> Tier:
    return Tier(
        position=position,
        code=tier.code,
        name=tier.name,
        discount_bp=to_bp(tier.discount_percent),
        bonus_bp=None if tier.bonus_percent is None else to_bp(tier.bonus_percent),
        max_bonus_payment_bp=None
        if tier.max_bonus_payment_percent is None
        else to_bp(tier.max_bonus_payment_percent),
        welcome_bonus_minor=tier.welcome_bonus_minor,
        promote_when=msgspec.to_builtins(tier.promote_when) if tier.promote_when else None,
    )


def _tier_read(tier: Tier) -> TierRead:
    return TierRead(
        code=tier.code,
        name=tier.name,
        discount_percent=tier.discount_bp / 100,
        bonus_percent=from_bp(tier.bonus_bp),
        max_bonus_payment_percent=from_bp(tier.max_bonus_payment_bp),
        welcome_bonus_minor=tier.welcome_bonus_minor,
        promote_when=msgspec.convert(tier.promote_when, PromoteWhen) if tier.promote_when else None,
    )


_RULES_TYPE: Any = list[CardRule]


def program_read(program: Program) -> ProgramRead:
    return ProgramRead(
        id=program.id,
        name=program.name,
        kind=program.kind,  # type: ignore[arg-type]  # constrained by a CHECK
        owner_partner_id=program.owner_partner_id,
        currency=program.currency,
        card_rules=msgspec.convert(program.card_rules, _RULES_TYPE),
        pin=msgspec.convert(program.pin_policy, PinPolicy),
        sms_template=program.sms_template,
        tiers=[_tier_read(t) for t in program.tiers],
        fees=_fees_read(program.fees),
        venue_personal_data_max=program.venue_personal_data_max,  # type: ignore[arg-type]  # a CHECK
        created_at=program.created_at,
        updated_at=program.updated_at,
    )


def _fees_read(stored: dict[str, Any]) -> ProgramFees:
    """The fees in force now: the last entry of the program's fee schedule."""
    schedule = fee_schedule(stored)
    if not schedule:
        return ProgramFees()
    current = schedule[-1]
    return ProgramFees(
        per_visit_minor=current.per_visit_minor or None,
        percent_of_check=from_bp(current.percent_of_check_bp or None),
    )


def _fee_terms(kind: str, fees: ProgramFees, effective_at: dt.datetime | None) -> FeeTerms:
    if kind == "venue" and (fees.per_visit_minor or fees.percent_of_check):
        raise InvalidInputError(
            "Fees are what a coalition charges venues; a venue program has none.", field="fees"
        )
    return FeeTerms(
        effective_at=effective_at,
        per_visit_minor=fees.per_visit_minor or 0,
        percent_of_check_bp=to_bp(fees.percent_of_check or 0),
    )


def _check_sms_template(template: str) -> None:
    if "{pin}" not in template:
        raise InvalidInputError("The SMS text must contain {pin} where the code goes.", field="sms_template")
    try:
        template.format(pin="123456", program="X")
    except (KeyError, IndexError, ValueError):
        raise InvalidInputError(
            "The SMS text may only use the placeholders {pin} and {program}.", field="sms_template"
        ) from None


async def _ensure_unique_name(
    session: AsyncSession, column: Any, name: str, exclude_id: uuid.UUID | None = None, *where: Any
) -> None:
    query = select(func.count()).where(func.lower(column) == name.lower(), *where)
    if exclude_id is not None:
        query = query.where(column.table.c.id != exclude_id)
    if await session.scalar(query):
        raise NameTakenError(f"The name {name!r} is already in use; choose another.", field="name")


async def create_program(session: AsyncSession, data: ProgramCreate) -> ProgramRead:
    _check_tiers(data.tiers)
    _check_sms_template(data.sms_template)
    rules = normalize_card_rules(data.card_rules)
    if data.kind == "venue" and data.owner_partner_id is None:
        raise InvalidInputError(
            "A venue program needs owner_partner_id: the partner whose program it is.",
            field="owner_partner_id",
        )
    if data.owner_partner_id is not None and await session.get(Partner, data.owner_partner_id) is None:
        raise InvalidInputError("owner_partner_id names no partner.", field="owner_partner_id")
    await _ensure_unique_name(session, Program.name, data.name)
    program = Program(
        name=data.name,
        kind=data.kind,
        owner_partner_id=data.owner_partner_id,
        currency=data.currency,
        card_rules=msgspec.to_builtins(rules),
        pin_policy=msgspec.to_builtins(data.pin),
        sms_template=data.sms_template,
        fees={"schedule": [fee_entry(_fee_terms(data.kind, data.fees, None))]},
        signing_public_keys=[],
        venue_personal_data_max=data.venue_personal_data_max,
        tiers=[_tier_row(i, t) for i, t in enumerate(data.tiers)],
    )
    session.add(program)
    await session.flush()
    return program_read(program)


async def load_program(session: AsyncSession, scope: Scope, program_id: uuid.UUID) -> Program:
    program = await session.scalar(
        select(Program)
        .where(Program.id == program_id, visibility.programs(scope))
        .options(selectinload(Program.tiers))
    )
    if program is None:
        raise ProgramNotFoundError()
    return program


async def get_program(session: AsyncSession, scope: Scope, program_id: uuid.UUID) -> ProgramRead:
    return program_read(await load_program(session, scope, program_id))


async def list_programs(
    session: AsyncSession, scope: Scope, *, limit: int, cursor: str | None, kind: str | None = None
) -> Page[ProgramRead]:
    query = select(Program).where(visibility.programs(scope)).options(selectinload(Program.tiers))
    if kind is not None:
        query = query.where(Program.kind == kind)
    rows = await _page(session, query, Program.id, limit, cursor)
    return page_of([program_read(p) for p in rows], [p.id for p in rows], limit)


async def _tiers_in_use(session: AsyncSession, program_id: uuid.UUID, codes: set[str]) -> set[str]:
    if not codes:
        return set()
    used = await session.scalars(
        select(Member.tier_code)
        .where(Member.program_id == program_id, Member.tier_code.in_(codes))
        .distinct()
    )
    offered = await session.scalars(
        select(Offer.tier_code).where(Offer.program_id == program_id, Offer.tier_code.in_(codes)).distinct()
    )
    return {c for c in [*used, *offered] if c is not None}


async def update_program(
    session: AsyncSession,
    scope: Scope,
    program_id: uuid.UUID,
    data: ProgramUpdate,
    now: dt.datetime | None = None,
) -> ProgramRead:
    """Change a program; new fees apply to sales from `now` on (earlier statements keep theirs)."""
    program = await load_program(session, scope, program_id)
    if data.name is not UNSET and data.name != program.name:
        await _ensure_unique_name(session, Program.name, data.name, program.id)
        program.name = data.name
    if data.card_rules is not UNSET:
        program.card_rules = msgspec.to_builtins(normalize_card_rules(data.card_rules))
    if data.pin is not UNSET:
        program.pin_policy = msgspec.to_builtins(data.pin)
    if data.sms_template is not UNSET:
        _check_sms_template(data.sms_template)
        program.sms_template = data.sms_template
    if data.venue_personal_data_max is not UNSET:
        program.venue_personal_data_max = data.venue_personal_data_max
    if data.tiers is not UNSET:
        await _replace_tiers(session, program, data.tiers)
    if data.fees is not UNSET and data.fees != _fees_read(program.fees):
        terms = _fee_terms(program.kind, data.fees, now or utcnow())
        program.fees = {"schedule": [*program.fees.get("schedule", []), fee_entry(terms)]}
    await session.flush()
    await session.refresh(program, ["updated_at"])
    return program_read(program)


async def _replace_tiers(session: AsyncSession, program: Program, tiers: list[TierIn]) -> None:
    _check_tiers(tiers)
    removed = {t.code for t in program.tiers} - {t.code for t in tiers}
    in_use = await _tiers_in_use(session, program.id, removed)
    if in_use:
        raise TierInUseError(
            f"Tiers still in use by members or offers: {', '.join(sorted(in_use))}.", tiers=sorted(in_use)
        )
    by_code = {t.code: t for t in program.tiers}
    kept: list[Tier] = []
    for position, tier in enumerate(tiers):
        fresh = _tier_row(position, tier)
        row = by_code.get(tier.code)
        if row is None:
            kept.append(fresh)
            continue
        for attr in (
            "position",
            "name",
            "discount_bp",
            "bonus_bp",
            "max_bonus_payment_bp",
            "welcome_bonus_minor",
            "promote_when",
        ):
            setattr(row, attr, getattr(fresh, attr))
        kept.append(row)
    program.tiers = kept
    program.updated_at = utcnow()  # a tier change is a change of the program


async def _page(
    session: AsyncSession, query: Any, id_column: Any, limit: int, cursor: str | None
) -> list[Any]:
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(id_column > after)
    return list(await session.scalars(query.order_by(id_column).limit(limit + 1)))


# ---- partners ----


def partner_read(partner: Partner) -> PartnerRead:
    return PartnerRead(id=partner.id, name=partner.name, created_at=partner.created_at)


async def create_partner(session: AsyncSession, data: PartnerCreate) -> PartnerRead:
    await _ensure_unique_name(session, Partner.name, data.name)
    partner = Partner(name=data.name)
    session.add(partner)
    await session.flush()
    return partner_read(partner)


async def _load_partner(session: AsyncSession, scope: Scope, partner_id: uuid.UUID) -> Partner:
    partner = await session.scalar(
        select(Partner).where(Partner.id == partner_id, visibility.partners(scope))
    )
    if partner is None:
        raise PartnerNotFoundError()
    return partner


async def get_partner(session: AsyncSession, scope: Scope, partner_id: uuid.UUID) -> PartnerRead:
    return partner_read(await _load_partner(session, scope, partner_id))


async def list_partners(
    session: AsyncSession, scope: Scope, *, limit: int, cursor: str | None
) -> Page[PartnerRead]:
    rows = await _page(session, select(Partner).where(visibility.partners(scope)), Partner.id, limit, cursor)
    return page_of([partner_read(p) for p in rows], [p.id for p in rows], limit)


async def update_partner(
    session: AsyncSession, scope: Scope, partner_id: uuid.UUID, data: PartnerUpdate
) -> PartnerRead:
    partner = await _load_partner(session, scope, partner_id)
    if data.name is not UNSET and data.name != partner.name:
        await _ensure_unique_name(session, Partner.name, data.name, partner.id)
        partner.name = data.name
    await session.flush()
    return partner_read(partner)


# ---- venues ----


def _check_timezone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"{name!r} is not an IANA time zone; use a name such as Europe/Moscow.", field="timezone"
        ) from None


def venue_read(venue: Venue) -> VenueRead:
    return VenueRead(
        id=venue.id,
        partner_id=venue.partner_id,
        name=venue.name,
        city=venue.city,
        district=venue.district,
        timezone=venue.timezone,
        latitude=venue.latitude,
        longitude=venue.longitude,
        created_at=venue.created_at,
    )


async def create_venue(session: AsyncSession, data: VenueCreate) -> VenueRead:
    _check_timezone(data.timezone)
    if await session.get(Partner, data.partner_id) is None:
        raise InvalidInputError("partner_id names no partner.", field="partner_id")
    await _ensure_unique_name(session, Venue.name, data.name, None, Venue.partner_id == data.partner_id)
    venue = Venue(
        partner_id=data.partner_id,
        name=data.name,
        city=data.city,
        district=data.district,
        timezone=data.timezone,
        latitude=data.latitude,
        longitude=data.longitude,
    )
    session.add(venue)
    await session.flush()
    return venue_read(venue)


async def load_venue(session: AsyncSession, scope: Scope, venue_id: uuid.UUID) -> Venue:
    venue = await session.scalar(select(Venue).where(Venue.id == venue_id, visibility.venues(scope)))
    if venue is None:
        raise VenueNotFoundError()
    return venue


async def get_venue(session: AsyncSession, scope: Scope, venue_id: uuid.UUID) -> VenueRead:
    return venue_read(await load_venue(session, scope, venue_id))


async def list_venues(
    session: AsyncSession,
    scope: Scope,
    *,
    limit: int,
    cursor: str | None,
    partner_id: uuid.UUID | None = None,
    city: str | None = None,
) -> Page[VenueRead]:
    query = select(Venue).where(visibility.venues(scope))
    if partner_id is not None:
        query = query.where(Venue.partner_id == partner_id)
    if city is not None:
        query = query.where(Venue.city == city)
    rows = await _page(session, query, Venue.id, limit, cursor)
    return page_of([venue_read(v) for v in rows], [v.id for v in rows], limit)


async def update_venue(
    session: AsyncSession, scope: Scope, venue_id: uuid.UUID, data: VenueUpdate
) -> VenueRead:
    venue = await load_venue(session, scope, venue_id)
    if data.name is not UNSET and data.name != venue.name:
        await _ensure_unique_name(
            session, Venue.name, data.name, venue.id, Venue.partner_id == venue.partner_id
        )
        venue.name = data.name
    if data.timezone is not UNSET:
        _check_timezone(data.timezone)
        venue.timezone = data.timezone
    for attr in ("city", "district", "latitude", "longitude"):
        value = getattr(data, attr)
        if value is not UNSET:
            setattr(venue, attr, value)
    await session.flush()
    return venue_read(venue)


# ---- terminals ----


def terminal_read(terminal: Terminal) -> TerminalRead:
    return TerminalRead(
        id=terminal.id,
        venue_id=terminal.venue_id,
        name=terminal.name,
        is_disabled=terminal.disabled_at is not None,
        created_at=terminal.created_at,
    )


async def _check_terminal_quota(session: AsyncSession, venue: Venue, max_terminals: int) -> None:
    """A venue has at most max_terminals working terminals (each one more SMS budget and key to abuse)."""
    await session.execute(select(Venue.id).where(Venue.id == venue.id).with_for_update())
    working = await session.scalar(
        select(func.count()).where(Terminal.venue_id == venue.id, Terminal.disabled_at.is_(None))
    )
    if (working or 0) >= max_terminals:
        raise QuotaExceededError(
            f"This venue already has {max_terminals} working terminals: disable one first.",
            quota="terminals_per_venue",
            limit=max_terminals,
        )


async def create_terminal(session: AsyncSession, venue: Venue, name: str, *, max_terminals: int) -> Terminal:
    await _check_terminal_quota(session, venue, max_terminals)
    await _ensure_unique_name(session, Terminal.name, name, None, Terminal.venue_id == venue.id)
    terminal = Terminal(venue_id=venue.id, name=name)
    session.add(terminal)
    await session.flush()
    return terminal


async def load_terminal(session: AsyncSession, scope: Scope, terminal_id: uuid.UUID) -> Terminal:
    terminal = await session.scalar(
        select(Terminal).where(Terminal.id == terminal_id, visibility.terminals(scope))
    )
    if terminal is None:
        raise TerminalNotFoundError()
    return terminal


async def list_terminals(
    session: AsyncSession, scope: Scope, venue_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[TerminalRead]:
    await load_venue(session, scope, venue_id)
    query = select(Terminal).where(Terminal.venue_id == venue_id, visibility.terminals(scope))
    rows = await _page(session, query, Terminal.id, limit, cursor)
    return page_of([terminal_read(t) for t in rows], [t.id for t in rows], limit)


# ---- offers ----


def offer_read(offer: Offer) -> OfferRead:
    return OfferRead(
        id=offer.id,
        program_id=offer.program_id,
        partner_id=offer.partner_id,
        venue_id=offer.venue_id,
        tier_code=offer.tier_code,
        discount_percent=offer.discount_bp / 100,
        max_discount_minor=offer.max_discount_minor,
        excluded_categories=list(offer.excluded_categories),
        perks=list(offer.perks),
        funding=Funding(
            coalition_percent=offer.coalition_funded_bp / 100,
            venue_percent=(BP - offer.coalition_funded_bp) / 100,
        ),
        coalition_funded_percent=offer.coalition_funded_bp / 100,
        is_active=offer.is_active,
        created_at=offer.created_at,
    )


def coalition_funded_bp(funding: FundingIn | None, legacy_percent: float | None) -> int | None:
    """The coalition's share in basis points from `funding` (or the older coalition_funded_percent)."""
    legacy = None if legacy_percent is None else to_bp(legacy_percent)
    if funding is None:
        return legacy
    coalition = None if funding.coalition_percent is None else to_bp(funding.coalition_percent)
    venue = None if funding.venue_percent is None else to_bp(funding.venue_percent)
    if coalition is None and venue is None:
        raise InvalidInputError("funding needs coalition_percent or venue_percent.", field="funding")
    if coalition is not None and venue is not None and coalition + venue != BP:
        raise InvalidInputError(
            "funding.coalition_percent and funding.venue_percent must sum to 100.", field="funding"
        )
    result = coalition if coalition is not None else BP - (venue or 0)
    if legacy is not None and legacy != result:
        raise InvalidInputError(
            "coalition_funded_percent disagrees with funding; send funding alone.",
            field="coalition_funded_percent",
        )
    return result


async def create_offer(session: AsyncSession, data: OfferCreate) -> OfferRead:
    if data.partner_id is not None and data.venue_id is not None:
        raise InvalidInputError("An offer is for a partner or for one venue, not both.", field="venue_id")
    program = await session.scalar(
        select(Program).where(Program.id == data.program_id).options(selectinload(Program.tiers))
    )
    if program is None:
        raise InvalidInputError("program_id names no program.", field="program_id")
    if data.tier_code is not None and data.tier_code not in {t.code for t in program.tiers}:
        raise InvalidInputError(f"The program has no tier {data.tier_code!r}.", field="tier_code")
    if data.partner_id is not None and await session.get(Partner, data.partner_id) is None:
        raise InvalidInputError("partner_id names no partner.", field="partner_id")
    if data.venue_id is not None and await session.get(Venue, data.venue_id) is None:
        raise InvalidInputError("venue_id names no venue.", field="venue_id")
    offer = Offer(
        program_id=data.program_id,
        partner_id=data.partner_id,
        venue_id=data.venue_id,
        tier_code=data.tier_code,
        discount_bp=to_bp(data.discount_percent),
        max_discount_minor=data.max_discount_minor,
        excluded_categories=sorted(set(data.excluded_categories)),
        perks=list(dict.fromkeys(data.perks)),
        coalition_funded_bp=coalition_funded_bp(data.funding, data.coalition_funded_percent) or 0,
        is_active=True,
    )
    session.add(offer)
    await session.flush()
    return offer_read(offer)


async def _load_offer(session: AsyncSession, scope: Scope, offer_id: uuid.UUID) -> Offer:
    offer = await session.scalar(select(Offer).where(Offer.id == offer_id, visibility.offers(scope)))
    if offer is None:
        raise OfferNotFoundError()
    return offer


async def get_offer(session: AsyncSession, scope: Scope, offer_id: uuid.UUID) -> OfferRead:
    return offer_read(await _load_offer(session, scope, offer_id))


async def list_offers(
    session: AsyncSession,
    scope: Scope,
    *,
    limit: int,
    cursor: str | None,
    program_id: uuid.UUID | None = None,
    venue_id: uuid.UUID | None = None,
) -> Page[OfferRead]:
    conditions: list[ColumnElement[bool]] = [visibility.offers(scope)]
    if program_id is not None:
        conditions.append(Offer.program_id == program_id)
    if venue_id is not None:
        conditions.append(Offer.venue_id == venue_id)
    rows = await _page(session, select(Offer).where(*conditions), Offer.id, limit, cursor)
    return page_of([offer_read(o) for o in rows], [o.id for o in rows], limit)


async def update_offer(
    session: AsyncSession, scope: Scope, offer_id: uuid.UUID, data: OfferUpdate
) -> OfferRead:
    offer = await _load_offer(session, scope, offer_id)
    if data.discount_percent is not UNSET:
        offer.discount_bp = to_bp(data.discount_percent)
    funding = coalition_funded_bp(
        None if data.funding is UNSET else data.funding,
        None if data.coalition_funded_percent is UNSET else data.coalition_funded_percent,
    )
    if funding is not None:  # visits already verified keep the share they were opened with
        offer.coalition_funded_bp = funding
    if data.excluded_categories is not UNSET:
        offer.excluded_categories = sorted(set(data.excluded_categories))
    if data.perks is not UNSET:
        offer.perks = list(dict.fromkeys(data.perks))
    if data.max_discount_minor is not UNSET:
        offer.max_discount_minor = data.max_discount_minor
    if data.is_active is not UNSET:
        offer.is_active = data.is_active
    await session.flush()
    return offer_read(offer)
