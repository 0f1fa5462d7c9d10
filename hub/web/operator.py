"""The scan page (terminal) and the operator board (admin): connectors, dead deliveries, member import."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from connectors import services as connector_service
from hub.clock import Clock
from hub.config import Settings
from hub.db import Database
from hub.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from hub.web.imports import ImportJob, ImportJobs
from hub.web.pages import JSON_EXCEPTION_HANDLERS, AnyRequest, check_form_csrf, frame, signed_in
from hub.web.render import CURRENCY_SIGNS, html, money, percent, when
from partners import services as registry

REPLAY_WINDOW = dt.timedelta(days=30)
MAX_IMPORT_BYTES = (
    64 * 1_048_576
)  # the page's form is parsed whole: HUB_IMPORT_MAX_BODY_BYTES applies below it


@get("/scan", include_in_schema=False)
async def scan_page(request: AnyRequest, state: State) -> Response[str]:
    user = await signed_in(request, "terminal")
    clock: Clock = state.clock
    context = frame(
        request,
        user,
        "scan.title",
        scripts=["hub.js", "scan.js"],
        page_config={"server_now": clock.now().isoformat(), "currency_sign": CURRENCY_SIGNS["RUB"]},
    )
    return html("scan.mako", **context)


@get("/operator", include_in_schema=False)
async def operator_board(request: AnyRequest, state: State) -> Response[str]:
    user = await signed_in(request, "admin")
    database: Database = state.database
    clock: Clock = state.clock
    async with database.reader() as session:
        connectors = await connector_service.list_connectors(session, user.scope, limit=200, cursor=None)
        dead = await connector_service.list_deliveries(
            session, user.scope, limit=200, cursor=None, connector_id=None, status="dead"
        )
        programs = await registry.list_programs(session, user.scope, limit=200, cursor=None)
    names = {c.id: c.name for c in connectors.items}
    lang = frame(request, user)["lang"]
    context = frame(
        request,
        user,
        "ops.title",
        scripts=["hub.js", "operator.js"],
        connectors=connectors.items,
        dead=dead.items,
        names=names,
        programs=programs.items,
        replay_from=(clock.now() - REPLAY_WINDOW).isoformat(),
        when=lambda at: when(at, lang),
        percent=percent,
        money=lambda minor, currency: money(minor, currency, lang),
    )
    return html("operator.mako", **context)


ImportForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def _jobs(state: State) -> ImportJobs:
    jobs: ImportJobs = state.web_imports
    return jobs


def _job_view(job: ImportJob) -> dict[str, Any]:
    return {
        "id": str(job.id),
        "total": job.total,
        "done": job.done,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "rejections": job.rejections,
        "finished": job.finished,
        "error": job.error,
    }


@post(
    "/operator/import",
    include_in_schema=False,
    status_code=202,
    request_max_body_size=MAX_IMPORT_BYTES,
    exception_handlers=JSON_EXCEPTION_HANDLERS,
)
async def start_import(request: Request[Any, Any, Any], state: State, data: ImportForm) -> dict[str, Any]:
    user = await signed_in(request, "admin")
    settings: Settings = state.settings
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.import_max_body_bytes:
        limit = settings.import_max_body_bytes
        raise PayloadTooLargeError(f"The file is over {limit} bytes.", limit_bytes=limit)
    check_form_csrf(request, user, {k: v for k, v in data.items() if isinstance(v, str)})
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInputError("Choose a CSV file to import.", field="file")
    try:
        program_id = uuid.UUID(str(data.get("program_id", "")))
        text = (await upload.read()).decode("utf-8")
    except ValueError:
        raise InvalidInputError("Choose a program and a UTF-8 CSV file.", field="file") from None
    job = _jobs(state).start(user.scope, str(user.session_id), program_id, text)
    return _job_view(job)


@get("/operator/import/{job_id:uuid}", include_in_schema=False, exception_handlers=JSON_EXCEPTION_HANDLERS)
async def import_progress(request: AnyRequest, state: State, job_id: FromPath[uuid.UUID]) -> dict[str, Any]:
    user = await signed_in(request, "admin")
    job = _jobs(state).get(job_id, str(user.session_id))
    if job is None:
        raise NotFoundError("No such import in this hub process.")
    return _job_view(job)


HANDLERS = [scan_page, operator_board, start_import, import_progress]
