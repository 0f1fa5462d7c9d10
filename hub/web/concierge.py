"""The concierge's page (concierge, admin): find a guest, book them into a venue, follow the referrals,
see where the program's guests go, and a guest's history. Plain forms, no script: it loads fast."""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Response, get, post
from litestar.datastructures import State
from litestar.response import Redirect
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import Clock
from hub.concierge import history
from hub.concierge import services as referrals
from hub.concierge.schemas import MemberProfile, MemberVisit, ReferralCreate, ReferralRead
from hub.db import Database
from hub.errors import HubError, InvalidInputError, NotFoundError
from hub.scope import Scope
from hub.stats import service as stats_service
from hub.stats.schemas import ProgramStats
from hub.web.i18n import Lang, translate
from hub.web.pages import AnyRequest, Form, check_form_csrf, frame, signed_in
from hub.web.render import bar_chart, html, money
from hub.web.sessions import WebUser
from partners import members as member_service
from partners import services as registry
from partners.schemas import MemberRead, ProgramRead, VenueRead

STATUSES = ("booked", "visited", "expired", "cancelled")
PAGE = 50
HISTORY = 20
DEFAULT_LEAD = dt.timedelta(hours=2)  # the booking form suggests a table two hours from now
# the API's messages are written for developers; the page says what the concierge does next
ERROR_KEYS = {
    "member_unknown": "con.err.member",
    "venue_unknown": "con.err.venue",
    "program_unknown": "con.err.program",
    "forbidden": "con.err.program",
}
FIELD_KEYS = {
    "member_id": "con.err.member",
    "venue_id": "con.err.venue",
    "expected_at": "con.err.expected_at",
    "party_size": "con.err.party_size",
    "note": "con.err.note",
}


@dataclass
class Ask:
    """What the page was asked for (the query string, or the booking form that failed)."""

    program_id: uuid.UUID | None = None
    find: str = ""
    member_id: uuid.UUID | None = None
    status: str | None = None
    cursor: str | None = None
    booked: uuid.UUID | None = None

    @classmethod
    def of(cls, values: Any) -> Ask:
        status = values.get("status")
        return cls(
            program_id=_id(values.get("program_id")),
            find=(values.get("find") or "").strip()[:64],
            member_id=_id(values.get("member_id")),
            status=status if status in STATUSES else None,
            cursor=values.get("cursor") or None,
            booked=_id(values.get("booked")),
        )


@dataclass
class View:
    """Everything the template shows."""

    programs: list[ProgramRead]
    venues: list[VenueRead]
    program: ProgramRead | None = None
    found: list[MemberRead] = field(default_factory=list)
    member: MemberProfile | None = None
    visits: list[MemberVisit] = field(default_factory=list)
    referrals: list[ReferralRead] = field(default_factory=list)
    next_cursor: str | None = None
    stats: ProgramStats | None = None
    notice: str | None = None


def _id(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


# ---- reading ----


async def _find(
    session: AsyncSession, state: State, scope: Scope, program_id: uuid.UUID, text: str
) -> list[MemberRead]:
    """By card number first, then as a phone number (a text that is no phone finds nobody)."""
    page = await member_service.list_members(
        session, state.keyring, scope, program_id, limit=10, cursor=None, card_number=text
    )
    if page.items:
        return page.items
    try:
        page = await member_service.list_members(
            session, state.keyring, scope, program_id, limit=10, cursor=None, phone=text
        )
    except InvalidInputError:
        return []
    return page.items


async def _guest(
    session: AsyncSession, scope: Scope, member_id: uuid.UUID
) -> tuple[MemberProfile | None, list[MemberVisit]]:
    try:
        profile = await history.member_profile(session, scope, member_id)
        visits = await history.member_visits(session, scope, member_id, limit=HISTORY, cursor=None)
    except NotFoundError:
        return None, []
    return profile, visits.items


async def _load(state: State, user: WebUser, ask: Ask, lang: Lang) -> View:
    database: Database = state.database
    clock: Clock = state.clock
    scope = user.scope
    async with database.reader() as session:
        programs = (
            await registry.list_programs(session, scope, limit=200, cursor=None, kind="coalition")
        ).items
        venues = (await registry.list_venues(session, scope, limit=200, cursor=None)).items
        view = View(programs=programs, venues=venues)
        view.program = next(
            (p for p in programs if p.id == ask.program_id), programs[0] if programs else None
        )
        if view.program is None:
            return view
        program_id = view.program.id
        if ask.find:
            view.found = await _find(session, state, scope, program_id, ask.find)
            if not view.found:
                view.notice = translate(lang, "con.no_member")
        member_id = ask.member_id or (view.found[0].id if len(view.found) == 1 else None)
        if member_id is not None:
            view.member, view.visits = await _guest(session, scope, member_id)
            if view.member is None:
                view.notice = translate(lang, "con.no_member")
        page = await referrals.list_referrals(
            session,
            scope,
            clock.now(),
            limit=PAGE,
            cursor=ask.cursor,
            status=ask.status,
            program_id=program_id,
        )
        view.referrals, view.next_cursor = page.items, page.next_cursor
        view.stats = await stats_service.program_stats(session, scope, program_id, now=clock.now())
    return view


# ---- booking ----


def _expected_at(value: str, timezone: str) -> dt.datetime:
    """The form's local date and time (datetime-local), read in the venue's own time zone."""
    try:
        local = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError("Pick the date and time.", field="expected_at") from None
    if local.tzinfo is not None:
        return local
    return local.replace(tzinfo=zoneinfo.ZoneInfo(timezone))


def _booking(form: dict[str, str], timezone: str) -> ReferralCreate:
    body: dict[str, Any] = {
        "program_id": form.get("program_id", ""),
        "member_id": form.get("member_id", ""),
        "venue_id": form.get("venue_id", ""),
        "expected_at": _expected_at(form.get("expected_at", ""), timezone).isoformat(),
    }
    if form.get("party_size", "").strip():
        body["party_size"] = form["party_size"].strip()
    if form.get("note", "").strip():
        body["note"] = form["note"].strip()
    try:
        return msgspec.convert(body, ReferralCreate, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInputError(str(exc), field=str(exc).rpartition("$.")[2].rstrip("`")) from None


async def _book(state: State, user: WebUser, form: dict[str, str]) -> ReferralRead:
    database: Database = state.database
    clock: Clock = state.clock
    venue_id = _id(form.get("venue_id"))
    async with database.transaction() as session:
        if venue_id is None:
            raise InvalidInputError("Choose a venue.", field="venue_id")
        venue = await registry.get_venue(session, user.scope, venue_id)
        data = _booking(form, venue.timezone)
        return await referrals.create_referral(session, user.scope, data, clock.now())


def explain(exc: HubError, lang: Lang) -> str:
    """What went wrong in the concierge's words, and what to do about it."""
    key = ERROR_KEYS.get(exc.code) or FIELD_KEYS.get(str(exc.details.get("field")))
    if key is None and isinstance(exc, NotFoundError):
        key = "con.err.venue"  # the one id the form sends that is looked up as such
    return translate(lang, key) if key else f"{exc.message} {translate(lang, 'con.err.other')}"


# ---- the page ----


def _local(at: dt.datetime | None, timezone: str | None) -> str:
    if at is None:
        return "—"
    if timezone is None:
        return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return at.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _charts(stats: ProgramStats | None, t: Any) -> dict[str, str]:
    charts: dict[str, str] = {}
    if stats is not None and stats.top_venues:
        names = [v.venue_name for v in stats.top_venues]
        charts["venues"] = bar_chart(names, [v.visits for v in stats.top_venues], t("con.visits"))
    if stats is not None and stats.by_district:
        names = [d.district for d in stats.by_district]
        charts["districts"] = bar_chart(names, [d.visits for d in stats.by_district], t("con.visits"))
    return charts


def _suggested_time(view: View, now: dt.datetime) -> str:
    timezone = view.venues[0].timezone if view.venues else "UTC"
    at = (now + DEFAULT_LEAD).astimezone(zoneinfo.ZoneInfo(timezone))
    return at.replace(minute=0 if at.minute < 30 else 30, second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M")


def _query(view: View, ask: Ask, **changes: str | None) -> str:
    """This page's query string with some values changed (None drops one)."""
    values: dict[str, str | None] = {
        "program_id": str(view.program.id) if view.program else None,
        "member_id": str(view.member.id) if view.member else None,
        "status": ask.status,
        **changes,
    }
    return urllib.parse.urlencode({k: v for k, v in values.items() if v})


def _render(
    request: AnyRequest,
    user: WebUser,
    state: State,
    ask: Ask,
    view: View,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response[str]:
    clock: Clock = state.clock
    context = frame(request, user, "con.title")
    lang, t = context["lang"], context["t"]
    zones = {v.id: v.timezone for v in view.venues}
    currency = view.program.currency if view.program else None
    extra: dict[str, Any] = {
        "ask": ask,
        "view": view,
        "error": error,
        "form": form or {"expected_at": _suggested_time(view, clock.now())},
        "statuses": STATUSES,
        "charts": _charts(view.stats, t),
        "money": lambda minor, cur=None: money(minor, cur or currency, lang),
        "local_time": lambda at, venue_id=None: _local(at, zones.get(venue_id) if venue_id else None),
        "query": lambda **changes: _query(view, ask, **changes),
    }
    return html("concierge.mako", status_code=status_code, **(context | extra))


@get("/concierge", include_in_schema=False)
async def concierge_page(request: AnyRequest, state: State) -> Response[str]:
    user = await signed_in(request, "concierge", "admin")
    ask = Ask.of(request.query_params)
    view = await _load(state, user, ask, frame(request, user)["lang"])
    return _render(request, user, state, ask, view)


@post("/concierge", include_in_schema=False, status_code=303)
async def book_guest(request: AnyRequest, state: State, data: Form) -> Response[Any]:
    """Book, then back to the page with the new referral marked (or the page again with what to fix)."""
    user = await signed_in(request, "concierge", "admin")
    check_form_csrf(request, user, data)
    lang = frame(request, user)["lang"]
    try:
        referral = await _book(state, user, data)
    except HubError as exc:
        ask = Ask.of(data)
        view = await _load(state, user, ask, lang)
        return _render(
            request, user, state, ask, view, error=explain(exc, lang), form=data, status_code=exc.status_code
        )
    target = urllib.parse.urlencode(
        {"program_id": referral.program_id, "member_id": referral.member_id, "booked": referral.id}
    )
    return Redirect(f"/app/concierge?{target}#referrals", status_code=303)


HANDLERS: list[Any] = [concierge_page, book_guest]
