"""Concierge routes: referrals (book, list, read, cancel) and a guest's visit history."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import JSONBody, QueryParameter

from hub import exports
from hub.api.params import (
    DEFAULT_PAGE,
    ClockDep,
    CursorParam,
    IdFilter,
    LimitParam,
    PathId,
    Principal,
    Session,
)
from hub.auth import allow
from hub.concierge import history, services
from hub.concierge.schemas import MemberVisit, ReferralCreate, ReferralRead
from hub.schema import Page

CONCIERGE = allow("admin", "concierge")
StatusFilter = Annotated[
    Literal["booked", "visited", "expired", "cancelled"] | None,
    QueryParameter(description="booked, visited, expired (booked, window closed) or cancelled"),
]
FromParam = Annotated[
    dt.datetime | None, QueryParameter(name="from", description="expected_at from (inclusive), with offset")
]
ToParam = Annotated[
    dt.datetime | None, QueryParameter(name="to", description="expected_at before (exclusive), with offset")
]


class ReferralController(Controller):
    path = "/v1/referrals"
    tags = ["concierge"]
    guards = [CONCIERGE]

    @post(
        "/", summary="Book a member into a venue at a time (fulfilled by a visit verified within its window)"
    )
    async def create(
        self, db_session: Session, principal: Principal, clock: ClockDep, data: JSONBody[ReferralCreate]
    ) -> ReferralRead:
        return await services.create_referral(db_session, principal, data, clock.now())

    @get(
        "/",
        summary="Referrals with their visit and check sum (a concierge: its programs'); also CSV/XLSX",
        response_class=exports.table(exports.columns_of(ReferralRead), name="referrals"),
    )
    async def list_referrals(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        status: StatusFilter = None,
        venue_id: IdFilter = None,
        program_id: IdFilter = None,
        expected_from: FromParam = None,
        expected_to: ToParam = None,
        export_format: exports.FormatParam = None,
    ) -> Page[ReferralRead]:
        return await services.list_referrals(
            db_session,
            principal,
            clock.now(),
            limit=limit,
            cursor=cursor,
            status=status,
            venue_id=venue_id,
            program_id=program_id,
            expected_from=expected_from,
            expected_to=expected_to,
        )

    @get("/{referral_id:uuid}", summary="A referral")
    async def get_referral(
        self, db_session: Session, principal: Principal, clock: ClockDep, referral_id: PathId
    ) -> ReferralRead:
        return await services.get_referral(db_session, principal, referral_id, clock.now())

    @post("/{referral_id:uuid}/cancel", status_code=200, summary="Cancel a booked referral")
    async def cancel(
        self, db_session: Session, principal: Principal, clock: ClockDep, referral_id: PathId
    ) -> ReferralRead:
        return await services.cancel_referral(db_session, principal, referral_id, clock.now())


class GuestHistoryController(Controller):
    path = "/v1/members"
    tags = ["concierge"]
    guards = [CONCIERGE]

    @get(
        "/{member_id:uuid}/visits",
        summary="A member's visits at every venue, newest first, with their checks; also CSV/XLSX",
        response_class=exports.table(exports.columns_of(MemberVisit), name="member-visits"),
    )
    async def list_visits(
        self,
        db_session: Session,
        principal: Principal,
        member_id: PathId,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        export_format: exports.FormatParam = None,
    ) -> Page[MemberVisit]:
        return await history.member_visits(db_session, principal, member_id, limit=limit, cursor=cursor)


CONTROLLERS = [ReferralController, GuestHistoryController]
