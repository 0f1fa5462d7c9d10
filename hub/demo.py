"""A small demo coalition so the README tour works on a fresh `make run`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.auth import create_key
from hub.bootstrap import resolve_keyring
from hub.config import Settings
from hub.db import Database
from partners import members, services
from partners.models import Program, Terminal, Venue
from partners.schemas import (
    MemberCreate,
    OfferCreate,
    PartnerCreate,
    PhoneRule,
    PrefixRule,
    ProgramCreate,
    PromoteWhen,
    TierIn,
    VenueCreate,
)

PROGRAM = "PRIME Concierge"
PARTNERS = {
    "Ginza Project": [("Ginza Patriarshiye", "Presnensky"), ("Ginza Khamovniki", "Khamovniki")],
    "White Rabbit Family": [("White Rabbit", "Arbat"), ("Zamoskvorechye Bistro", "Zamoskvorechye")],
}
MEMBERS = [
    ("7788000000001", "+7 916 100-00-01", "Anna Petrova", "gold"),
    ("7788000000002", "+7 916 100-00-02", "Boris Ivanov", "silver"),
    ("7788000000003", "+7 916 100-00-03", "Vera Sokolova", "silver"),
    ("7788000000004", "+7 916 100-00-04", "Gleb Orlov", "gold"),
    ("7788000000005", "+7 916 100-00-05", "Daria Volkova", "silver"),
]


async def _demo_program(session: AsyncSession) -> Program | None:
    result: Program | None = await session.scalar(select(Program).where(Program.name == PROGRAM))
    return result


async def _create(session: AsyncSession, settings: Settings) -> None:
    from hub.scope import ADMIN

    program = await services.create_program(
        session,
        ProgramCreate(
            name=PROGRAM,
            kind="coalition",
            currency="RUB",
            card_rules=[PrefixRule(value="7788"), PhoneRule()],
            tiers=[
                TierIn(code="silver", name="Silver", discount_percent=10),
                TierIn(
                    code="gold",
                    name="Gold",
                    discount_percent=15,
                    promote_when=PromoteWhen(metric="spent", over=100_000_00, period_days=365),
                ),
            ],
        ),
    )
    first_venue = None
    for partner_name, venues in PARTNERS.items():
        partner = await services.create_partner(session, PartnerCreate(name=partner_name))
        for venue_name, district in venues:
            venue = await services.create_venue(
                session,
                VenueCreate(
                    partner_id=partner.id,
                    name=venue_name,
                    city="Moscow",
                    district=district,
                    timezone="Europe/Moscow",
                ),
            )
            first_venue = first_venue or venue
    await services.create_offer(
        session, OfferCreate(program_id=program.id, tier_code="silver", discount_percent=10)
    )
    await services.create_offer(
        session, OfferCreate(program_id=program.id, tier_code="gold", discount_percent=15)
    )
    assert first_venue is not None  # noqa: S101  # PARTNERS is not empty
    await services.create_offer(
        session,
        OfferCreate(
            program_id=program.id,
            venue_id=first_venue.id,
            discount_percent=20,
            excluded_categories=["alcohol"],
            perks=["priority seating"],
        ),
    )
    db_program = await services.load_program(session, ADMIN, program.id)
    keyring = resolve_keyring(settings)
    for card, phone, name, tier in MEMBERS:
        await members.create_member(
            session,
            keyring,
            db_program,
            MemberCreate(
                card_number=card,
                phone=phone,
                name=name,
                tier_code=tier,
            ),
        )
    venue_row = await session.get(Venue, first_venue.id)
    assert venue_row is not None  # noqa: S101  # just created
    await services.create_terminal(session, venue_row, "Till 1", max_terminals=1)


async def load_demo(settings: Settings) -> dict[str, str]:
    """Create the demo coalition once; every run prints fresh keys for it."""
    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            if await _demo_program(session) is None:
                await _create(session, settings)
            program = await _demo_program(session)
            assert program is not None  # noqa: S101  # created above
            terminal = await session.scalar(select(Terminal).order_by(Terminal.created_at).limit(1))
            assert terminal is not None  # noqa: S101  # created with the demo
            _, admin = await create_key(session, role="admin", name="demo admin")
            _, concierge = await create_key(
                session, role="concierge", name="demo concierge", program_ids=[program.id]
            )
            _, term = await create_key(
                session,
                role="terminal",
                name="demo till",
                venue_id=terminal.venue_id,
                terminal_id=terminal.id,
            )
            _, venue = await create_key(session, role="venue", name="demo venue", venue_id=terminal.venue_id)
            return {
                "program_id": str(program.id),
                "venue_id": str(terminal.venue_id),
                "admin key": admin,
                "concierge key": concierge,
                "terminal key": term,
                "venue key": venue,
                "demo card": MEMBERS[0][0],
            }
    finally:
        await database.dispose()
