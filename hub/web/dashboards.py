"""The venue dashboard (venue, partner, admin): its numbers by day, program and tier, its connectors."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from connectors import services as connector_service
from hub.clock import Clock
from hub.db import Database
from hub.stats import service as stats_service
from hub.web.pages import AnyRequest, frame, signed_in
from hub.web.render import bar_chart, day_chart, html, money, percent, when
from partners import services as registry


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@get("/venue", include_in_schema=False)
async def venue_dashboard(request: AnyRequest, state: State) -> Response[str]:
    user = await signed_in(request, "venue", "partner", "admin")
    database: Database = state.database
    clock: Clock = state.clock
    query = request.query_params
    async with database.reader() as session:
        venues = (await registry.list_venues(session, user.scope, limit=200, cursor=None)).items
        chosen = _id(query.get("venue_id")) or user.scope.venue_id or (venues[0].id if venues else None)
        stats = connectors = None
        if chosen is not None:
            stats = await stats_service.venue_stats(
                session,
                user.scope,
                chosen,
                now=clock.now(),
                date_from=_date(query.get("from")),
                date_to=_date(query.get("to")),
            )
            page = await connector_service.list_connectors(
                session, user.scope, limit=100, cursor=None, owner_venue_id=chosen
            )
            connectors = page.items
    context = frame(request, user, "venue.title")
    lang, t = context["lang"], context["t"]
    charts: dict[str, str] = {}
    if stats is not None and stats.by_day:
        days = [d.date.isoformat() for d in stats.by_day]
        charts["by_day"] = day_chart(
            days,
            [d.visits for d in stats.by_day],
            [d.check_sum_minor / 100 for d in stats.by_day],
            (t("venue.visits"), t("venue.check_sum")),
        )
    if stats is not None and stats.by_program:
        charts["by_program"] = bar_chart(
            [p.program_name for p in stats.by_program],
            [p.visits for p in stats.by_program],
            t("venue.visits"),
        )
    extra: dict[str, Any] = {
        "venues": venues,
        "chosen": chosen,
        "stats": stats,
        "connectors": connectors or [],
        "charts": charts,
        "money": lambda minor: money(minor, stats.currency if stats else None, lang),
        "when": lambda at: when(at, lang),
        "percent": percent,
        "replay_from": (clock.now() - dt.timedelta(days=30)).isoformat(),
        "scripts": ["hub.js", "operator.js"] if connectors else [],
    }
    return html("venue.mako", **(context | extra))


HANDLERS: list[Any] = [venue_dashboard]
