"""The pages under /app: sign-in and out, the language switch, and the shared page frame.

Each page checks the signed-in key's role itself (pages are outside the API's Bearer middleware); a
missing session goes to the sign-in page, a wrong role gets a page that says which key it needs.
"""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, FromPath
from litestar.response import Redirect

from hub import plugin
from hub.auth import is_known_here, key_prefix
from hub.authfail import Attempt, AuthFailures
from hub.clock import Clock
from hub.db import Database
from hub.errors import HubError, RateLimitedError, with_article
from hub.plugin import error_response
from hub.proxy import client_address
from hub.scope import Role, Scope
from hub.web import sessions
from hub.web.i18n import LANG_COOKIE, LANGS, Lang, catalogue, pick, translate
from hub.web.render import html
from hub.web.sessions import SESSION_COOKIE, WebUser

LOGIN_CSRF_COOKIE = "hub_login_csrf"
HOME: dict[str, str] = {
    "terminal": "/app/scan",
    "venue": "/app/venue",
    "partner": "/app/venue",
    "concierge": "/app/concierge",
    "admin": "/app/operator",
}
NAV: dict[str, list[tuple[str, str]]] = {
    "terminal": [("/app/scan", "nav.scan")],
    "venue": [("/app/venue", "nav.venue")],
    "partner": [("/app/venue", "nav.venue")],
    "concierge": [("/app/concierge", "nav.concierge")],
    "admin": [
        ("/app/operator", "nav.operator"),
        ("/app/venue", "nav.venue"),
        ("/app/concierge", "nav.concierge"),
    ],
}
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
AnyRequest = Request[Any, Any, Any]


class LoginRequiredError(Exception):
    """No live session: the page sends the browser to sign in."""


class WrongRoleError(Exception):
    def __init__(self, user: WebUser, roles: tuple[Role, ...]) -> None:
        super().__init__(f"{user.scope.role} is not one of {roles}")
        self.user = user
        self.roles = roles


def lang_of(request: AnyRequest) -> Lang:
    return pick(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def is_https(request: AnyRequest) -> bool:
    return request.url.scheme == "https"


def session_cookie(request: AnyRequest, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def frame(
    request: AnyRequest, user: WebUser | None, title_key: str = "app.title", **context: Any
) -> dict[str, Any]:
    """What every template gets: the language, its messages, who is signed in, the CSRF token, the menu."""
    lang = lang_of(request)

    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    role = user.scope.role if user is not None else None
    return {
        "lang": lang,
        "other_lang": "en" if lang == "ru" else "ru",
        "t": t,
        "user": user,
        "role": role,
        "csrf": user.csrf_token if user is not None else "",
        "nav": NAV.get(role or "", []),
        "path": request.url.path,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "title": t(title_key),
        "scripts": [],
        "page_config": {},
        "messages": catalogue(lang, "err.") | catalogue(lang, "scan.") | catalogue(lang, "ops."),
        **context,
    }


async def signed_in(request: AnyRequest, *roles: Role) -> WebUser:
    user = await sessions.current_user(request)
    if user is None:
        raise LoginRequiredError()
    if roles and user.scope.role not in roles:
        raise WrongRoleError(user, roles)
    return user


def check_form_csrf(request: AnyRequest, user: WebUser, form: dict[str, str]) -> None:
    sessions.check_csrf(request, user, form.get("csrf_token") or request.headers.get(sessions.CSRF_HEADER))


def _safe_next(target: str | None, fallback: str) -> str:
    """Only a path of this site's /app, never another site (an open redirect)."""
    if not target:
        return fallback
    parsed = urllib.parse.urlsplit(target)
    if parsed.scheme or parsed.netloc or not parsed.path.startswith("/app") or "\\" in target:
        return fallback
    return target


# ---- exception handlers of the /app router ----


def on_login_required(request: AnyRequest, _exc: Exception) -> Response[Any]:
    target = urllib.parse.quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return Redirect(f"/app/login?next={target}")


def on_wrong_role(request: AnyRequest, exc: WrongRoleError) -> Response[Any]:
    lang = lang_of(request)
    role = exc.user.scope.role
    message = translate(lang, "role.body", role=role, a_role=with_article(role), roles=", ".join(exc.roles))
    return html(
        "refused.mako",
        status_code=403,
        **frame(request, exc.user, "role.title", message=message, home=HOME.get(exc.user.scope.role, "/app")),
    )


def on_hub_error(request: AnyRequest, exc: HubError) -> Response[Any]:
    return html(
        "refused.mako",
        status_code=exc.status_code,
        **frame(request, None, "error.title", message=exc.message, home="/app"),
    )


def on_http_error(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    return html(
        "refused.mako",
        status_code=exc.status_code,
        **frame(request, None, "error.title", message=str(exc.detail), home="/app"),
    )


def json_login_required(_request: AnyRequest, _exc: Exception) -> Response[Any]:
    return error_response(401, "unauthenticated", "Your session has ended; sign in again at /app/login.")


def json_wrong_role(_request: AnyRequest, exc: WrongRoleError) -> Response[Any]:
    return error_response(403, "forbidden", f"This needs one of: {', '.join(exc.roles)}.")


# for the pages' own JSON endpoints: errors as the API renders them
JSON_EXCEPTION_HANDLERS: dict[Any, Any] = {
    **plugin.EXCEPTION_HANDLERS,
    LoginRequiredError: json_login_required,
    WrongRoleError: json_wrong_role,
}

EXCEPTION_HANDLERS: dict[Any, Any] = {
    LoginRequiredError: on_login_required,
    WrongRoleError: on_wrong_role,
    HubError: on_hub_error,
    HTTPException: on_http_error,
}


# ---- sign-in, sign-out, language ----


@get("/", include_in_schema=False)
async def home(request: AnyRequest) -> Response[Any]:
    user = await signed_in(request)
    return Redirect(HOME[user.scope.role])


def _login_page(
    request: AnyRequest, error: str | None, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[str]:
    token = secrets.token_urlsafe(32)
    response = html(
        "login.mako",
        status_code=status_code,
        headers=headers,
        **frame(
            request,
            None,
            "login.title",
            login_csrf=token,
            error=error,
            next=_safe_next(request.query_params.get("next"), ""),
        ),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path="/app/login",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        max_age=3600,
    )
    return response


@get("/login", include_in_schema=False)
async def login_form(request: AnyRequest) -> Response[str]:
    return _login_page(request, None)


@post("/login", include_in_schema=False, status_code=303)
async def login(request: AnyRequest, state: State, data: Form) -> Response[Any]:
    lang = lang_of(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = data.get("csrf_token", "")
    if not expected or not secrets.compare_digest(expected, sent) or not sessions.is_same_origin(request):
        return _login_page(request, translate(lang, "login.expired"), status_code=403)
    api_key = data.get("api_key", "").strip()
    try:
        signed = await _sign_in(request, state, api_key)
    except RateLimitedError as exc:
        message = translate(lang, "login.throttled", seconds=exc.retry_after)
        return _login_page(request, message, status_code=429, headers=exc.headers())
    if signed is None:
        return _login_page(request, translate(lang, "login.wrong"), status_code=401)
    token, scope = signed
    target = _safe_next(data.get("next"), HOME[scope.role])
    response: Response[Any] = Redirect(target, status_code=303)
    response.set_cookie(session_cookie(request, token, int(sessions.SESSION_TTL.total_seconds())))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/app/login")
    return response


async def _sign_in(request: AnyRequest, state: State, api_key: str) -> tuple[str, Scope] | None:
    """A session for the key, or None; failures are throttled as the API's are (hub.authfail)."""
    database: Database = state.database
    clock: Clock = state.clock
    failures: AuthFailures = state.auth_failures
    attempt = Attempt(address=client_address(request.scope), prefix=key_prefix(api_key), via="login")
    if not is_known_here(database, api_key, state.bootstrap_admin_hash):
        failures.check(attempt, clock.now())
    signed = None
    if api_key and len(api_key) <= 200:
        async with database.transaction() as session:
            signed = await sessions.sign_in(session, api_key, state.bootstrap_admin_hash, clock.now())
    if signed is None and api_key:
        await failures.failed(database, attempt, clock.now())
    return signed


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: AnyRequest, state: State, data: Form) -> Response[Any]:
    user = await signed_in(request)
    check_form_csrf(request, user, data)
    database: Database = state.database
    async with database.transaction() as session:
        await sessions.sign_out(session, request.cookies.get(SESSION_COOKIE, ""))
    response: Response[Any] = Redirect("/app/login", status_code=303)
    response.set_cookie(session_cookie(request, "", 0))
    return response


@get("/lang/{lang:str}", include_in_schema=False)
async def switch_language(request: AnyRequest, lang: FromPath[str]) -> Response[Any]:
    chosen = lang if lang in LANGS else "ru"
    response: Response[Any] = Redirect(_safe_next(request.query_params.get("next"), "/app"))
    response.set_cookie(
        LANG_COOKIE, chosen, path="/", max_age=365 * 86400, samesite="strict", secure=is_https(request)
    )
    return response


HANDLERS = [home, login_form, login, logout, switch_language]
