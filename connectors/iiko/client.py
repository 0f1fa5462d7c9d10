"""IikoClient: the iikoCloud calls we make, over the process's one aiohttp session.

Every request carries iiko's `Timeout` header (seconds the cloud may wait for the restaurant) and
is cut off locally a little later, so a stalled answer becomes our timeout, not a hang. How an
answer becomes a connectors.errors error:

    200                          decoded into the wire Struct
    401                          one forced token refresh and one retry; a second 401 → PermanentError
    408 (terminal did not answer), 5xx, timeouts, dropped connections
                                 TransientError; for a write, OutcomeUnknownError (it may have been
                                 applied: the dispatcher reconciles by reading back before retrying)
    429                          RateLimitError with Retry-After
    410                          GoneError
    3xx                          PermanentError: redirects are never followed
    other 4xx                    IikoRefusedError (a PermanentError) carrying iiko's errorDescription

Answers are decoded with wire.decode, so money in them is read exactly (wire.Exact).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import msgspec

from connectors.base import Attempt, ConnectorConfig, TokenSource
from connectors.errors import (
    GoneError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitError,
    TransientError,
)
from connectors.iiko import wire
from connectors.iiko.errors import IikoRefusedError
from connectors.transport import CONNECT_FAILURES, unreachable
from hub.clock import Clock

DEFAULT_TIMEOUT_SECONDS = 15  # iiko's documented default for the Timeout header
DEFAULT_GRACE_SECONDS = 5.0  # how much longer than Timeout we wait for the cloud's own 408
MAX_ERROR_TEXT = 300

T = TypeVar("T", bound=msgspec.Struct)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: msgspec.Struct,
    *,
    headers: dict[str, str],
    timeout_seconds: int,
    grace_seconds: float,
    is_write: bool,
) -> Answer:
    """POST one JSON body; a lost answer becomes TransientError (OutcomeUnknownError for a write)."""
    sent_headers = {"Content-Type": "application/json", "Timeout": str(timeout_seconds), **headers}
    limit = aiohttp.ClientTimeout(total=timeout_seconds + grace_seconds)
    try:
        async with http.post(
            url, data=msgspec.json.encode(body), headers=sent_headers, timeout=limit, allow_redirects=False
        ) as response:
            return Answer(response.status, await response.read(), response.headers.get("Retry-After"))
    except CONNECT_FAILURES as exc:  # never reached iiko: nothing was applied
        raise unreachable("iiko", exc) from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        error = OutcomeUnknownError if is_write else TransientError
        raise error(f"no answer from iiko: {type(exc).__name__}") from exc


def error_response(answer: Answer) -> wire.ErrorResponse | None:
    """iiko's ErrorResponse in an answer, or None when the body is something else."""
    try:
        return msgspec.json.decode(answer.body, type=wire.ErrorResponse)
    except msgspec.DecodeError:
        return None


def error_text(answer: Answer) -> str:
    """iiko's errorDescription (or the start of the body), bounded for the delivery log."""
    error = error_response(answer)
    if error is None:
        text = answer.body[:MAX_ERROR_TEXT].decode("utf-8", "replace")
    else:
        text = error.error_description or error.error or ""
    return text[:MAX_ERROR_TEXT]


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (at - now).total_seconds()) if at.tzinfo is not None else None


def raise_for_answer(answer: Answer, *, is_write: bool, now: dt.datetime) -> None:
    """Turn a non-200 answer into the connectors.errors error the outbox acts on."""
    status = answer.status
    if 200 <= status < 300:
        return
    detail = f"iiko answered {status}: {error_text(answer)}"
    if status == 429:
        raise RateLimitError(
            detail, status_code=status, retry_after=retry_after_seconds(answer.retry_after, now)
        )
    if status == 408 or status >= 500:
        raise (OutcomeUnknownError if is_write else TransientError)(detail, status_code=status)
    if status == 410:
        raise GoneError(detail, status_code=status)
    if 300 <= status < 400:
        raise PermanentError(
            f"iiko answered a redirect ({status}); redirects are not followed", status_code=status
        )
    error = error_response(answer)
    raise IikoRefusedError(
        detail,
        status_code=status,
        error_description=error_text(answer),
        correlation_id=error.correlation_id if error is not None else None,
    )


class IikoClient:
    """The iikoCloud calls one connector makes; it records each call on the attempt."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        tokens: TokenSource,
        connector: ConnectorConfig,
        clock: Clock,
        *,
        attempt: Attempt | None = None,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._connector = connector
        self._clock = clock
        self._attempt = attempt if attempt is not None else Attempt()
        self._timeout_seconds = timeout_seconds
        self._grace_seconds = grace_seconds

    async def create_or_update(self, body: wire.CreateOrUpdateCustomerRequest) -> str:
        """Upsert a guest by id, phone or card; returns iiko's customer id."""
        answer = await self._call(
            wire.CUSTOMER_CREATE_OR_UPDATE, body, wire.CreateOrUpdateCustomerResponse, is_write=True
        )
        return answer.id

    async def customer_info(self, body: wire.CustomerInfoRequest) -> wire.CustomerInfoResponse:
        return await self._call(wire.CUSTOMER_INFO, body, wire.CustomerInfoResponse, is_write=False)

    async def find_customer(self, body: wire.CustomerInfoRequest) -> wire.CustomerInfoResponse | None:
        """customer/info, with None where iiko answers 400 (how it says there is no such guest)."""
        try:
            return await self.customer_info(body)
        except PermanentError as exc:
            if exc.status_code == 400:
                return None
            raise

    async def categories(self, organization_id: str) -> list[wire.GuestCategoryShortInfo]:
        body = wire.GetCategoriesRequest(organization_id=organization_id)
        answer = await self._call(wire.CUSTOMER_CATEGORIES, body, wire.GetCategoriesResponse, is_write=False)
        return answer.guest_categories

    async def add_category(self, body: wire.ChangeCategoryForCustomerRequest) -> None:
        await self._call(wire.CUSTOMER_CATEGORY_ADD, body, wire.EmptyResponse, is_write=True)

    async def wallet_topup(self, body: wire.ChangeUserBalanceRequest) -> None:
        """Moves points: no idempotency key at iiko, so a lost answer is OutcomeUnknownError."""
        await self._call(wire.WALLET_TOPUP, body, wire.EmptyResponse, is_write=True)

    async def transactions(self, body: wire.TransactionsByPeriodRequest) -> wire.TransactionsByPeriodResponse:
        return await self._call(
            wire.TRANSACTIONS_BY_DATE, body, wire.TransactionsByPeriodResponse, is_write=False
        )

    async def update_webhook_settings(self, body: wire.UpdateWebHookSettingsRequest) -> str | None:
        """Replace the organization's webhook settings for this API login; returns iiko's correlationId."""
        # a write: a lost answer is OutcomeUnknownError, and webhook_settings() tells what iiko holds
        answer = await self._call(
            wire.WEBHOOKS_UPDATE_SETTINGS, body, wire.CorrelationIdResponse, is_write=True
        )
        return answer.correlation_id

    async def webhook_settings(self, organization_id: str) -> wire.GetWebHookSettingsResponse:
        body = wire.GetWebHookSettingsRequest(organization_id=organization_id)
        return await self._call(wire.WEBHOOKS_SETTINGS, body, wire.GetWebHookSettingsResponse, is_write=False)

    async def orders_by_id(self, body: wire.GetTableOrdersByIdRequest) -> list[wire.TableOrderInfo]:
        """Table orders by iiko order ids or POS order ids; ids iiko does not know are simply absent."""
        answer = await self._call(wire.ORDER_BY_ID, body, wire.TableOrdersResponse, is_write=False)
        return answer.orders

    async def orders_by_table(self, body: wire.GetTableOrdersByTableRequest) -> list[wire.TableOrderInfo]:
        """Table orders of the given tables, by status and creation time (terminal-local)."""
        answer = await self._call(wire.ORDER_BY_TABLE, body, wire.TableOrdersResponse, is_write=False)
        return answer.orders

    async def _call(self, path: str, body: msgspec.Struct, answer_type: type[T], *, is_write: bool) -> T:
        answer = await self._send(path, body, is_write=is_write, force_refresh=False)
        if answer.status == 401:  # the token expired or was revoked early: one refresh, one retry
            answer = await self._send(path, body, is_write=is_write, force_refresh=True)
            if answer.status == 401:
                raise PermanentError("iiko refused a freshly issued token (401)", status_code=401)
        raise_for_answer(answer, is_write=is_write, now=self._clock.now())
        try:
            return wire.decode(answer.body or b"{}", answer_type)
        except msgspec.DecodeError as exc:
            raise PermanentError(
                f"iiko's answer to {path} does not match its documented shape: {exc}"
            ) from exc

    async def _send(self, path: str, body: msgspec.Struct, *, is_write: bool, force_refresh: bool) -> Answer:
        token = await self._tokens.token(self._connector, force_refresh=force_refresh)
        url = self._connector.url.rstrip("/") + path
        self._attempt.calls.append(f"POST {path}")
        answer = await post(
            self._http,
            url,
            body,
            headers={"Authorization": f"Bearer {token}"},
            timeout_seconds=self._timeout_seconds,
            grace_seconds=self._grace_seconds,
            is_write=is_write,
        )
        self._attempt.status_code = answer.status
        self._attempt.calls[-1] += f" → {answer.status}"
        return answer
