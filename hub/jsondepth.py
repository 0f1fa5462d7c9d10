"""Refuse JSON bodies nested deeper than HUB_MAX_JSON_DEPTH before any decoder walks them.

The body is watched as the app reads it: counting `[` and `{` is done per chunk in C
(bytes.count); only a body with more openers than the limit is scanned token by token, and that
scan stops at the first level past the limit. Non-JSON bodies (CSV imports) are not looked at.
"""

from __future__ import annotations

import re

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from hub.errors import InvalidInputError

# a whole string literal (so brackets inside strings do not count), or one bracket
TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
OPENERS = frozenset(b"[{")


class JsonTooDeepError(InvalidInputError):
    code = "json_too_deep"


def deeper_than(body: bytes, limit: int) -> bool:
    """True when the JSON text nests arrays/objects more than `limit` levels."""
    depth = 0
    for match in TOKEN.finditer(body):
        first = match.group()[0]
        if first in OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != ord('"'):
            depth -= 1
    return False


def _is_json(scope: Scope) -> bool:
    content_type = dict(scope["headers"]).get(b"content-type", b"application/json").lower()
    return b"json" in content_type


class JsonDepthMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") or not _is_json(scope):
            await next_app(scope, receive, send)
            return
        chunks: list[bytes] = []
        openers = 0
        limit = self.max_depth

        async def watched() -> ReceiveMessage:
            nonlocal openers
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                chunks.append(body)
                openers += body.count(b"[") + body.count(b"{")
                finished = not message.get("more_body", False)
                if finished and openers > limit and deeper_than(b"".join(chunks), limit):
                    raise JsonTooDeepError(
                        f"The JSON body nests deeper than {limit} levels.", field="body", max_depth=limit
                    )
            return message

        await next_app(scope, watched, send)
