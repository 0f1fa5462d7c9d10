"""The registry over HTTP: programs, partners, venues, terminals, offers, members and their import."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit, exports
from hub.api.params import (
    DEFAULT_PAGE,
    NO_STORE,
    ClockDep,
    CursorParam,
    IdFilter,
    KeyringDep,
    LimitParam,
    PathId,
    Principal,
    Session,
    body_within,
)
from hub.auth import allow, create_key, revoke_keys_of_terminal
from hub.clock import Clock
from hub.concierge import history
from hub.concierge.schemas import MemberProfile
from hub.config import IMPORT_BODY_CAP, Settings
from hub.errors import ForbiddenError, InvalidInputError
from hub.schema import Page
from hub.scope import Scope
from partners import members as member_service
from partners import services
from partners.schemas import (
    ImportReport,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    OfferCreate,
    OfferRead,
    OfferUpdate,
    PartnerCreate,
    PartnerRead,
    PartnerUpdate,
    ProgramCreate,
    ProgramRead,
    ProgramUpdate,
    TerminalCreate,
    TerminalCreated,
    TerminalRead,
    VenueCreate,
    VenueRead,
    VenueUpdate,
)

READERS = allow("admin", "concierge", "partner", "venue")
ADMIN = allow("admin")


async def _audit(
    session: AsyncSession,
    principal: Scope,
    clock: Clock,
    action: str,
    target_type: str,
    target_id: uuid.UUID,
    data: msgspec.Struct,
) -> None:
    """A registry change in the audit log: what, by whom, which fields (never their values)."""
    details = {"fields": audit.fields_given(data)}
    await audit.record(session, principal, action, target_type, target_id, at=clock.now(), details=details)


CONCIERGE_PROGRAM_FIELDS = {"venue_personal_data_max"}  # what the program's owner decides, not the admin


class ProgramController(Controller):
    path = "/v1/programs"
    tags = ["registry"]

    @post("/", guards=[ADMIN], summary="Create a program with its card rules, PIN policy and tiers")
    async def create(
        self, db_session: Session, principal: Principal, clock: ClockDep, data: JSONBody[ProgramCreate]
    ) -> ProgramRead:
        program = await services.create_program(db_session, data)
        await _audit(db_session, principal, clock, "program.create", "program", program.id, data)
        return program

    @get("/", guards=[READERS], summary="List the programs this key may see")
    async def list_programs(
        self,
        db_session: Session,
        principal: Principal,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
    ) -> Page[ProgramRead]:
        return await services.list_programs(db_session, principal, limit=limit, cursor=cursor)

    @get("/{program_id:uuid}", guards=[READERS], summary="A program")
    async def get_program(self, db_session: Session, principal: Principal, program_id: PathId) -> ProgramRead:
        return await services.get_program(db_session, principal, program_id)

    @patch(
        "/{program_id:uuid}",
        guards=[allow("admin", "concierge")],
        summary="Change a program (tiers are replaced as a list); its concierge sets venue_personal_data_max",
    )
    async def update(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        data: JSONBody[ProgramUpdate],
    ) -> ProgramRead:
        given = {f for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET}
        if principal.role == "concierge" and given - CONCIERGE_PROGRAM_FIELDS:
            raise ForbiddenError(
                "A concierge key changes only venue_personal_data_max of its programs; the rest is admin's."
            )
        program = await services.update_program(db_session, principal, program_id, data, clock.now())
        await _audit(db_session, principal, clock, "program.update", "program", program_id, data)
        return program

    @post(
        "/{program_id:uuid}/members", guards=[allow("admin", "concierge", "partner")], summary="Add a member"
    )
    async def create_member(
        self,
        db_session: Session,
        keyring: KeyringDep,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        data: JSONBody[MemberCreate],
    ) -> MemberRead:
        program = await member_service.load_writable_program(db_session, principal, program_id)
        member = await member_service.create_member(db_session, keyring, program, data)
        await _audit(db_session, principal, clock, "member.create", "member", member.id, data)
        return member

    @get(
        "/{program_id:uuid}/members",
        guards=[READERS],
        summary="List or find members (by card or phone); also CSV/XLSX (phones masked)",
        response_class=exports.table(exports.columns_of(MemberRead), name="members"),
    )
    async def list_members(
        self,
        db_session: Session,
        keyring: KeyringDep,
        principal: Principal,
        program_id: PathId,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        card_number: Annotated[str | None, QueryParameter(max_length=64)] = None,
        phone: Annotated[str | None, QueryParameter(max_length=32)] = None,
        export_format: exports.FormatParam = None,
    ) -> Page[MemberRead]:
        return await member_service.list_members(
            db_session,
            keyring,
            principal,
            program_id,
            limit=limit,
            cursor=cursor,
            card_number=card_number,
            phone=phone,
        )

    @post(
        "/{program_id:uuid}/members/import",
        guards=[allow("admin", "concierge", "partner")],
        summary="Import members from CSV (card_number,phone,name,tier_code): upsert by card number",
        status_code=200,
        request_max_body_size=IMPORT_BODY_CAP,  # the configured limit is applied while reading
    )
    async def import_members(
        self,
        request: Request[Any, Any, Any],
        db_session: Session,
        keyring: KeyringDep,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
    ) -> ImportReport:
        program = await member_service.load_writable_program(db_session, principal, program_id)
        settings: Settings = request.app.state.settings
        body = await body_within(request, settings.import_max_body_bytes)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError("The CSV must be UTF-8 text.", field="body") from None
        report = await member_service.import_members(db_session, keyring, program, text)
        details = {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        }
        await audit.record(
            db_session, principal, "member.import", "program", program_id, at=clock.now(), details=details
        )
        return report


class MemberController(Controller):
    path = "/v1/members"
    tags = ["registry"]

    @get(
        "/{member_id:uuid}",
        guards=[READERS],
        summary="A member (phone masked) with tier, visit totals and favourite venues",
    )
    async def get_member(self, db_session: Session, principal: Principal, member_id: PathId) -> MemberProfile:
        return await history.member_profile(db_session, principal, member_id)

    @patch("/{member_id:uuid}", guards=[allow("admin", "concierge", "partner")], summary="Change a member")
    async def update(
        self,
        db_session: Session,
        keyring: KeyringDep,
        principal: Principal,
        clock: ClockDep,
        member_id: PathId,
        data: JSONBody[MemberUpdate],
    ) -> MemberRead:
        member = await member_service.update_member(db_session, keyring, principal, member_id, data)
        await _audit(db_session, principal, clock, "member.update", "member", member_id, data)
        return member


class PartnerController(Controller):
    path = "/v1/partners"
    tags = ["registry"]

    @post("/", guards=[ADMIN], summary="Create a partner (a restaurant group)")
    async def create(
        self, db_session: Session, principal: Principal, clock: ClockDep, data: JSONBody[PartnerCreate]
    ) -> PartnerRead:
        partner = await services.create_partner(db_session, data)
        await _audit(db_session, principal, clock, "partner.create", "partner", partner.id, data)
        return partner

    @get("/", guards=[READERS], summary="List partners")
    async def list_partners(
        self,
        db_session: Session,
        principal: Principal,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
    ) -> Page[PartnerRead]:
        return await services.list_partners(db_session, principal, limit=limit, cursor=cursor)

    @get("/{partner_id:uuid}", guards=[READERS], summary="A partner")
    async def get_partner(self, db_session: Session, principal: Principal, partner_id: PathId) -> PartnerRead:
        return await services.get_partner(db_session, principal, partner_id)

    @patch("/{partner_id:uuid}", guards=[ADMIN], summary="Rename a partner")
    async def update(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        partner_id: PathId,
        data: JSONBody[PartnerUpdate],
    ) -> PartnerRead:
        partner = await services.update_partner(db_session, principal, partner_id, data)
        await _audit(db_session, principal, clock, "partner.update", "partner", partner_id, data)
        return partner


class VenueController(Controller):
    path = "/v1/venues"
    tags = ["registry"]

    @post("/", guards=[ADMIN], summary="Create a venue")
    async def create(
        self, db_session: Session, principal: Principal, clock: ClockDep, data: JSONBody[VenueCreate]
    ) -> VenueRead:
        venue = await services.create_venue(db_session, data)
        await _audit(db_session, principal, clock, "venue.create", "venue", venue.id, data)
        return venue

    @get("/", guards=[READERS], summary="List venues")
    async def list_venues(
        self,
        db_session: Session,
        principal: Principal,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        partner_id: IdFilter = None,
        city: Annotated[str | None, QueryParameter(max_length=120)] = None,
    ) -> Page[VenueRead]:
        return await services.list_venues(
            db_session, principal, limit=limit, cursor=cursor, partner_id=partner_id, city=city
        )

    @get("/{venue_id:uuid}", guards=[READERS], summary="A venue")
    async def get_venue(self, db_session: Session, principal: Principal, venue_id: PathId) -> VenueRead:
        return await services.get_venue(db_session, principal, venue_id)

    @patch("/{venue_id:uuid}", guards=[ADMIN], summary="Change a venue")
    async def update(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        venue_id: PathId,
        data: JSONBody[VenueUpdate],
    ) -> VenueRead:
        venue = await services.update_venue(db_session, principal, venue_id, data)
        await _audit(db_session, principal, clock, "venue.update", "venue", venue_id, data)
        return venue

    @post(
        "/{venue_id:uuid}/terminals",
        guards=[allow("admin", "partner", "venue")],
        summary="Create a terminal and its API key (shown once)",
        cache_control=NO_STORE,
    )
    async def create_terminal(
        self,
        request: Request[Any, Any, Any],
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        venue_id: PathId,
        data: JSONBody[TerminalCreate],
    ) -> TerminalCreated:
        venue = await services.load_venue(db_session, principal, venue_id)
        settings: Settings = request.app.state.settings
        terminal = await services.create_terminal(
            db_session, venue, data.name, max_terminals=settings.max_terminals_per_venue
        )
        key, api_key = await create_key(
            db_session,
            role="terminal",
            name=f"terminal {data.name}",
            venue_id=venue.id,
            terminal_id=terminal.id,
        )
        details = {"venue_id": str(venue.id), "key_id": str(key.id)}
        await audit.record(
            db_session, principal, "terminal.create", "terminal", terminal.id, at=clock.now(), details=details
        )
        await audit.record(
            db_session,
            principal,
            "key.create",
            "api_key",
            key.id,
            at=clock.now(),
            details={"role": "terminal"},
        )
        return TerminalCreated(id=terminal.id, venue_id=venue.id, name=terminal.name, api_key=api_key)

    @get(
        "/{venue_id:uuid}/terminals",
        guards=[allow("admin", "partner", "venue")],
        summary="A venue's terminals",
    )
    async def list_terminals(
        self,
        db_session: Session,
        principal: Principal,
        venue_id: PathId,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
    ) -> Page[TerminalRead]:
        return await services.list_terminals(db_session, principal, venue_id, limit=limit, cursor=cursor)


class TerminalController(Controller):
    path = "/v1/terminals"
    tags = ["registry"]

    @delete(
        "/{terminal_id:uuid}",
        guards=[allow("admin", "partner", "venue")],
        summary="Disable a terminal; its keys stop working at once",
    )
    async def disable(
        self, db_session: Session, principal: Principal, clock: ClockDep, terminal_id: PathId
    ) -> None:
        terminal = await services.load_terminal(db_session, principal, terminal_id)
        if terminal.disabled_at is None:
            terminal.disabled_at = clock.now()
        await revoke_keys_of_terminal(db_session, terminal.id, clock)
        await audit.record(db_session, principal, "terminal.disable", "terminal", terminal.id, at=clock.now())


class OfferController(Controller):
    path = "/v1/offers"
    tags = ["registry"]

    @post("/", guards=[ADMIN], summary="Create an offer: what a program's members get at a partner or venue")
    async def create(
        self, db_session: Session, principal: Principal, clock: ClockDep, data: JSONBody[OfferCreate]
    ) -> OfferRead:
        offer = await services.create_offer(db_session, data)
        await _audit(db_session, principal, clock, "offer.create", "offer", offer.id, data)
        return offer

    @get("/", guards=[READERS], summary="List offers")
    async def list_offers(
        self,
        db_session: Session,
        principal: Principal,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        program_id: IdFilter = None,
        venue_id: IdFilter = None,
    ) -> Page[OfferRead]:
        return await services.list_offers(
            db_session, principal, limit=limit, cursor=cursor, program_id=program_id, venue_id=venue_id
        )

    @get("/{offer_id:uuid}", guards=[READERS], summary="An offer")
    async def get_offer(self, db_session: Session, principal: Principal, offer_id: PathId) -> OfferRead:
        return await services.get_offer(db_session, principal, offer_id)

    @patch("/{offer_id:uuid}", guards=[ADMIN], summary="Change an offer")
    async def update(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        offer_id: PathId,
        data: JSONBody[OfferUpdate],
    ) -> OfferRead:
        offer = await services.update_offer(db_session, principal, offer_id, data)
        await _audit(db_session, principal, clock, "offer.update", "offer", offer_id, data)
        return offer


CONTROLLERS = [
    ProgramController,
    MemberController,
    PartnerController,
    VenueController,
    TerminalController,
    OfferController,
]
