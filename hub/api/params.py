"""Parameter markers shared by the controllers (injected dependencies, path ids, pagination) and a
bounded body reader."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from hub.clock import Clock
from hub.crypto import Keyring
from hub.errors import PayloadTooLargeError
from hub.schema import DEFAULT_LIMIT
from hub.scope import Scope

Session = NamedDependency[AsyncSession]
Principal = NamedDependency[Scope]
KeyringDep = NamedDependency[Keyring]
ClockDep = NamedDependency[Clock]
PathId = FromPath[uuid.UUID]

LimitParam = Annotated[int, QueryParameter(ge=1, le=500, description="page size (1-500)")]
CursorParam = Annotated[
    str | None, QueryParameter(max_length=64, description="next_cursor of the previous page")
]
IdFilter = Annotated[uuid.UUID | None, QueryParameter()]
DEFAULT_PAGE = DEFAULT_LIMIT
# answers that show a key or a secret once: no browser, proxy or shared cache may keep them
NO_STORE = CacheControlHeader(no_store=True)


async def body_within(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to pass `limit` bytes (by its
    Content-Length, or while it streams in), so memory never holds more than the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The body is over {limit} bytes.", limit_bytes=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The body is over {limit} bytes.", limit_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)
