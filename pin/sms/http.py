"""HTTP gateway: POST {"to", "text"} as JSON to a vendor's SMS endpoint."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp
from yarl import URL

from pin.sms.base import SmsSendError

DEFAULT_TIMEOUT_SECONDS = 10.0


class HttpSmsGateway:
    """SmsGateway over an HTTP(S) endpoint; credentials in the URL's userinfo go as HTTP basic auth."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("an HTTP SMS gateway URL looks like https://user:password@host/path")
        self._headers = (
            {"Authorization": aiohttp.encode_basic_auth(parsed.user, parsed.password or "")}
            if parsed.user is not None
            else {}
        )
        self._url = parsed.with_user(None)  # the credentials travel only in the Authorization header
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"HttpSmsGateway({self._url})"

    async def send(self, to: str, text: str) -> str:
        try:
            async with self._client().post(
                self._url, json={"to": to, "text": text}, headers=self._headers, timeout=self._timeout
            ) as response:
                if not 200 <= response.status < 300:
                    raise SmsSendError(f"the SMS gateway {self._url} answered HTTP {response.status}")
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SmsSendError(f"the SMS gateway {self._url} is unreachable: {type(exc).__name__}") from None
        return _message_id(body)

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session


def _message_id(body: bytes) -> str:
    """The vendor's id from {"id": …} or {"message_id": …}; a generated one when it gives none."""
    try:
        answer: Any = json.loads(body) if body else None
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        for key in ("id", "message_id"):
            value = answer.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
    return f"http-{uuid.uuid4().hex}"
