"""Statistics over HTTP: venue and program numbers, the summary report, RFM segments."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import QueryParameter

from hub import exports
from hub.api.params import DEFAULT_PAGE, ClockDep, CursorParam, LimitParam, PathId, Principal, Session
from hub.auth import allow
from hub.stats import schemas as s
from hub.stats import segments as rfm_segments
from hub.stats import service, summary
from hub.stats.rfm import SEGMENTS

FromParam = Annotated[
    dt.date | None,
    QueryParameter(name="from", description="first local date (inclusive); default 30 days back"),
]
ToParam = Annotated[
    dt.date | None, QueryParameter(name="to", description="last local date (inclusive); default today")
]
VENUE_READERS = allow("admin", "concierge", "partner", "venue")
PROGRAM_READERS = allow("admin", "concierge")


class VenueStatsController(Controller):
    path = "/v1/venues"
    tags = ["statistics"]

    @get(
        "/{venue_id:uuid}/stats",
        guards=[VENUE_READERS],
        summary="A venue's visits, guests and check sums; CSV/XLSX export by_day",
        response_class=exports.table(exports.columns_of(s.DayFigures), rows="by_day", name="venue-stats"),
    )
    async def venue_stats(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        venue_id: PathId,
        date_from: FromParam = None,
        date_to: ToParam = None,
        program_id: Annotated[uuid.UUID | None, QueryParameter()] = None,
        export_format: exports.FormatParam = None,
    ) -> s.VenueStats:
        return await service.venue_stats(
            db_session,
            principal,
            venue_id,
            now=clock.now(),
            date_from=date_from,
            date_to=date_to,
            program_id=program_id,
        )


class ProgramStatsController(Controller):
    path = "/v1/programs"
    tags = ["statistics"]

    @get(
        "/{program_id:uuid}/stats",
        guards=[PROGRAM_READERS],
        summary="A program's numbers across venues; CSV/XLSX export top_venues",
        response_class=exports.table(exports.columns_of(s.VenueRow), rows="top_venues", name="program-stats"),
    )
    async def program_stats(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        date_from: FromParam = None,
        date_to: ToParam = None,
        export_format: exports.FormatParam = None,
    ) -> s.ProgramStats:
        return await service.program_stats(
            db_session, principal, program_id, now=clock.now(), date_from=date_from, date_to=date_to
        )

    @get(
        "/{program_id:uuid}/summary",
        guards=[PROGRAM_READERS],
        summary="Summary report: cards issued and registered, purchases, average check, items per check; "
        "CSV/XLSX export rows",
        response_class=exports.table(exports.columns_of(s.SummaryRow), rows="rows", name="summary"),
    )
    async def program_summary(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        date_from: FromParam = None,
        date_to: ToParam = None,
        group_by: Annotated[s.GroupBy, QueryParameter(description="period, venue or tier")] = "month",
        export_format: exports.FormatParam = None,
    ) -> s.SummaryReport:
        return await summary.summary(
            db_session,
            principal,
            program_id,
            now=clock.now(),
            group_by=group_by,
            date_from=date_from,
            date_to=date_to,
        )

    @get(
        "/{program_id:uuid}/segments",
        guards=[PROGRAM_READERS],
        summary="RFM segments of the program's members; CSV/XLSX export the page of members.items",
        response_class=exports.table(
            exports.columns_of(s.MemberScore), rows="members.items", name="segments"
        ),
    )
    async def segments(
        self,
        db_session: Session,
        principal: Principal,
        program_id: PathId,
        limit: LimitParam = DEFAULT_PAGE,
        cursor: CursorParam = None,
        segment: Annotated[str | None, QueryParameter(enum=list(SEGMENTS))] = None,
        export_format: exports.FormatParam = None,
    ) -> s.Segments:
        return await rfm_segments.segments(
            db_session, principal, program_id, limit=limit, cursor=cursor, segment=segment
        )

    @post(
        "/{program_id:uuid}/segments/refresh",
        guards=[PROGRAM_READERS],
        summary="Recompute the RFM segments now",
        status_code=200,
    )
    async def refresh_segments(
        self,
        db_session: Session,
        principal: Principal,
        clock: ClockDep,
        program_id: PathId,
        window_days: Annotated[int, QueryParameter(ge=30, le=3660)] = rfm_segments.DEFAULT_WINDOW_DAYS,
    ) -> s.Segments:
        await rfm_segments.refresh(
            db_session, principal, program_id, now=clock.now(), window_days=window_days
        )
        return await rfm_segments.segments(db_session, principal, program_id, limit=DEFAULT_PAGE)


CONTROLLERS = [VenueStatsController, ProgramStatsController]
