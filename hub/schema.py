"""Building blocks of the wire format: input and output Structs, pages, money and bounded types."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Generic, TypeVar

import msgspec

from hub.errors import InvalidInputError

T = TypeVar("T")


class InputStruct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A request body: unknown fields are an error, not silently dropped."""


class OutputStruct(msgspec.Struct, kw_only=True):
    """A response body."""


class Page(OutputStruct, Generic[T]):
    items: list[T]
    next_cursor: str | None


MAX_MINOR = 10**13  # a hundred billion roubles in kopecks: more than any check
MinorUnits = Annotated[
    int, msgspec.Meta(ge=0, le=MAX_MINOR, description="an amount in minor units (kopecks)")
]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", description="ISO 4217 code", examples=["RUB"])]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S")]
ShortText = Annotated[str, msgspec.Meta(max_length=2000)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=500)]
DEFAULT_LIMIT = 50


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError):
        raise InvalidInputError("The cursor is not one this API gave out.", field="cursor") from None


def page_of(items: list[T], ids: list[uuid.UUID], limit: int) -> Page[T]:
    """Build a page from up to limit+1 fetched rows: the extra row only says there is a next page."""
    has_more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor(ids[limit - 1]) if has_more else None)
