"""amoCRM API v4 over the process's aiohttp session: Bearer from the TokenSource, answers → our errors.

    401        one forced token refresh and one retry; a second 401 is PermanentError (no loop)
    429        RateLimitError, Retry-After if sent (amoCRM usually sends none: 1 s)
    408, 5xx   TransientError; a timeout or a dropped connection on a POST is OutcomeUnknownError
    410        GoneError; other 4xx and any 3xx (redirects are never followed) PermanentError

Every request first takes a slot from the connector's RateLimiter: amoCRM allows 7 requests/s per
account, and a burst over it earns 429s and then an IP block.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import uuid
from typing import Any, TypeVar

import aiohttp
import msgspec

from connectors.amocrm import wire
from connectors.base import Attempt, ConnectorConfig, TokenSource
from connectors.errors import (
    GoneError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitError,
    TransientError,
)
from connectors.transport import CONNECT_FAILURES, unreachable
from hub.clock import Clock

T = TypeVar("T")

REQUESTS_PER_SECOND = 7
# amoCRM counts on its clock, we on ours: a little slack so network jitter never makes 7 look like 8
RATE_PERIOD_SECONDS = 1.05
DEFAULT_RETRY_AFTER = 1.0
DEFAULT_TIMEOUT_SECONDS = 15.0
RECENT_NOTES = 100  # enough to hold a note written moments before a timeout


class RateLimiter:
    """At most `limit` requests in any `period` s: a bucket whose tokens each come back `period` after use.

    Waiters are served in arrival order (asyncio.Lock is FIFO). Time is the event loop's monotonic
    clock: this paces real sockets, so the hub's (possibly frozen) wall clock is the wrong one.
    """

    def __init__(self, limit: int = REQUESTS_PER_SECOND, period: float = RATE_PERIOD_SECONDS) -> None:
        self._limit = limit
        self._period = period
        self._spent: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            while True:
                now = loop.time()
                while self._spent and now - self._spent[0] >= self._period:
                    self._spent.popleft()
                if len(self._spent) < self._limit:
                    self._spent.append(now)
                    return
                await asyncio.sleep(self._period - (now - self._spent[0]))


class RateLimits:
    """One RateLimiter per connector, for this process (several processes each keep their own)."""

    def __init__(self, limit: int = REQUESTS_PER_SECOND, period: float = RATE_PERIOD_SECONDS) -> None:
        self._limit = limit
        self._period = period
        self._limiters: dict[uuid.UUID, RateLimiter] = {}

    def for_connector(self, connector_id: uuid.UUID) -> RateLimiter:
        limiter = self._limiters.get(connector_id)
        if limiter is None:
            limiter = self._limiters[connector_id] = RateLimiter(self._limit, self._period)
        return limiter


PROCESS_RATE_LIMITS = RateLimits()


class AmoCrmClient:
    """The four calls the destination needs, for one connector and one attempt."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        tokens: TokenSource,
        clock: Clock,
        connector: ConnectorConfig,
        limiter: RateLimiter,
        attempt: Attempt,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._clock = clock
        self._connector = connector
        self._limiter = limiter
        self._attempt = attempt
        self._base_url = connector.url.rstrip("/")
        self._timeout = float(connector.settings.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS))

    async def find_contacts(self, query: str) -> list[wire.Contact]:
        """GET /api/v4/contacts?query=…; 204 (nothing found) is an empty list."""
        body = await self._call("GET", "/api/v4/contacts", params={"query": query, "limit": "50"})
        return self._decode(body, wire.ContactsPage).embedded.contacts if body else []

    async def create_contact(self, contact: wire.NewContact) -> int:
        body = await self._call("POST", "/api/v4/contacts", json=[contact])
        created = self._decode(body, wire.CreatedContacts, written=True).embedded.contacts
        if not created:
            raise OutcomeUnknownError("amoCRM answered the contact creation without a contact id")
        return created[0].id

    async def add_note(self, contact_id: int, note: wire.NewNote) -> int | None:
        """POST /api/v4/contacts/{id}/notes; the note's id, or None if the 2xx answer did not say it."""
        body = await self._call("POST", f"/api/v4/contacts/{contact_id}/notes", json=[note])
        try:
            notes = msgspec.json.decode(body, type=wire.CreatedNotes).embedded.notes
        except msgspec.DecodeError:
            return None  # written all the same: a 2xx means amoCRM took it
        return notes[0].id if notes else None

    async def recent_notes(self, contact_id: int) -> list[wire.Note]:
        """The contact's newest text notes, newest first; 204 (none) is an empty list."""
        params = {"filter[note_type]": "common", "order[id]": "desc", "limit": str(RECENT_NOTES)}
        body = await self._call("GET", f"/api/v4/contacts/{contact_id}/notes", params=params)
        return self._decode(body, wire.NotesPage).embedded.notes if body else []

    async def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> bytes:
        """One request with the cached token, and one retry with a fresh token after a 401."""
        data = msgspec.json.encode(json) if json is not None else None
        token = await self._tokens.token(self._connector)
        status, headers, body = await self._send(method, path, token, params, data)
        if status == 401:
            token = await self._tokens.token(self._connector, force_refresh=True)
            status, headers, body = await self._send(method, path, token, params, data)
            if status == 401:
                raise PermanentError("amoCRM refused the access token even after a refresh", status_code=401)
        self._raise_for_status(status, headers, body, method, path)
        return body

    async def _send(
        self, method: str, path: str, token: str, params: dict[str, str] | None, data: bytes | None
    ) -> tuple[int, Any, bytes]:
        await self._limiter.acquire()
        # the path only: a query string would put the guest's phone into the delivery log
        self._attempt.calls.append(f"{method} {path}")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout(self._timeout):
                async with self._http.request(
                    method,
                    self._base_url + path,
                    params=params,
                    data=data,
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    body = await response.read()
        except CONNECT_FAILURES as exc:  # never connected: nothing was sent
            raise unreachable(f"amoCRM for {method} {path}", exc) from exc
        except TimeoutError as exc:
            raise self._lost(method, path, f"no answer within {self._timeout:g} s") from exc
        except aiohttp.ClientError as exc:
            raise self._lost(method, path, type(exc).__name__) from exc
        self._attempt.status_code = response.status
        return response.status, response.headers, body

    def _lost(self, method: str, path: str, why: str) -> TransientError:
        if method == "GET":
            return TransientError(f"amoCRM {method} {path}: {why}")
        return OutcomeUnknownError(f"amoCRM {method} {path}: {why}; it may have been applied")

    def _raise_for_status(self, status: int, headers: Any, body: bytes, method: str, path: str) -> None:
        if 200 <= status < 300:
            return
        what = f"amoCRM answered {status} to {method} {path}"
        if 300 <= status < 400:
            why = "a redirect, not followed: is the account URL right?"
            raise PermanentError(f"{what} ({why})", status_code=status)
        if status == 429:
            raise RateLimitError(what, status_code=status, retry_after=self._retry_after(headers))
        if status == 408 or status >= 500:
            retry_after = self._retry_after(headers) if "Retry-After" in headers else None
            raise TransientError(what, status_code=status, retry_after=retry_after)
        if status == 410:
            raise GoneError(what, status_code=status)
        raise PermanentError(f"{what}: {_problem_text(body)}", status_code=status)

    def _retry_after(self, headers: Any) -> float:
        """Retry-After in seconds or as an HTTP date; amoCRM usually sends none, then 1 s."""
        value = str(headers.get("Retry-After", "")).strip()
        if not value:
            return DEFAULT_RETRY_AFTER
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            at = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        return max(0.0, (at - self._clock.now()).total_seconds())

    def _decode(self, body: bytes, type_: type[T], *, written: bool = False) -> T:
        try:
            return msgspec.json.decode(body, type=type_)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            error = OutcomeUnknownError if written else TransientError
            raise error(f"amoCRM answered a body we cannot read as {type_.__name__}: {exc}") from exc


def _problem_text(body: bytes) -> str:
    """title: detail from application/problem+json, plus the first validation error's path and code."""
    try:
        problem = msgspec.json.decode(body, type=wire.Problem)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return "no problem+json body"
    text = ": ".join(p for p in (problem.title, problem.detail) if p) or "no detail"
    for item in (e for v in problem.validation_errors for e in v.errors):
        return f"{text} ({item.path}: {item.code})"
    return text
