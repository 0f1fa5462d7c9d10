"""The contract a CRM implements to receive the hub's events, as msgspec Structs → openapi/crm-events.json.

Every event is POSTed as JSON with `Authorization: Bearer <token>` (per the connector's auth) and the
Standard Webhooks headers `webhook-id` (the event id, stable across retries: deduplicate on it),
`webhook-timestamp` and `webhook-signature`. Answer 2xx once stored; 429 or 503 with Retry-After to
slow the hub down; 410 to make it stop for good. Events of one guest arrive in the order they happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import msgspec

from hub.schema import OutputStruct


class ProgramRef(OutputStruct):
    id: uuid.UUID
    name: str


class VenueRef(OutputStruct):
    id: uuid.UUID
    name: str
    partner_id: uuid.UUID


class MemberRef(OutputStruct):
    id: uuid.UUID
    tier_code: str | None = None
    # E.164 for connectors with personal_data "full", masked for "masked", absent for "none"
    phone: str | None = None


class Item(OutputStruct):
    name: str
    category: str | None
    sku: str | None
    quantity: float
    unit_price_minor: int
    amount_minor: int
    discount_minor: int


class VisitVerified(OutputStruct):
    visit_id: uuid.UUID
    member: MemberRef
    referral_id: uuid.UUID | None
    verified_at: dt.datetime


class VisitCancelled(OutputStruct):
    """An open visit (no receipt) was cancelled: count it no more. Sent to every connector that gets
    visit.verified; `referral_id` is the referral it had fulfilled, booked again."""

    visit_id: uuid.UUID
    member: MemberRef
    reason: str
    referral_id: uuid.UUID | None
    cancelled_at: dt.datetime


class ReceiptClosed(OutputStruct):
    visit_id: uuid.UUID
    member: MemberRef
    receipt_id: uuid.UUID
    check_id: str
    items: list[Item]
    subtotal_minor: int
    discount_minor: int
    total_minor: int
    currency: str
    closed_at: dt.datetime
    guests: int | None
    bonus_spent_minor: int
    bonus_accrued_minor: int


class ReceiptRefunded(OutputStruct):
    member: MemberRef
    receipt_id: uuid.UUID
    refund_id: uuid.UUID
    amount_minor: int
    discount_reversed_minor: int
    reason: str
    currency: str
    bonus_reversed_minor: int = 0
    bonus_returned_minor: int = 0


class ReferralVisited(OutputStruct):
    referral_id: uuid.UUID
    visit_id: uuid.UUID


class _Envelope(OutputStruct):
    id: uuid.UUID
    occurred_at: dt.datetime
    program: ProgramRef
    venue: VenueRef


class VisitVerifiedEvent(_Envelope):
    type: Literal["visit.verified"]
    data: VisitVerified


class VisitCancelledEvent(_Envelope):
    type: Literal["visit.cancelled"]
    data: VisitCancelled


class ReceiptClosedEvent(_Envelope):
    type: Literal["receipt.closed"]
    data: ReceiptClosed


class ReceiptRefundedEvent(_Envelope):
    type: Literal["receipt.refunded"]
    data: ReceiptRefunded


class ReferralVisitedEvent(_Envelope):
    type: Literal["referral.visited"]
    data: ReferralVisited


EVENTS: dict[str, type[_Envelope]] = {
    "visit.verified": VisitVerifiedEvent,
    "visit.cancelled": VisitCancelledEvent,
    "receipt.closed": ReceiptClosedEvent,
    "receipt.refunded": ReceiptRefundedEvent,
    "referral.visited": ReferralVisitedEvent,
}

_HEADERS = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
        "description": "The event id: the same on every retry and replay. Deduplicate on it.",
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Unix seconds when this attempt was signed; reject if more than 5 minutes off.",
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "Space-separated `v1,<base64 HMAC-SHA256>` signatures (two during a secret rotation), "
        "per the Standard Webhooks specification; verify with its reference library.",
    },
    {
        "name": "Authorization",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "`Bearer <token>` from the connector's OAuth2 grant or static token.",
    },
    {"name": "X-Request-Id", "in": "header", "required": False, "schema": {"type": "string"}},
]
_RESPONSES = {
    "2XX": {"description": "Stored. Any 2xx counts as delivered."},
    "410": {"description": "Gone: the hub disables this connector and stops sending."},
    "429": {"description": "Slow down: the hub waits Retry-After (seconds or an HTTP date); not a failure."},
    "503": {"description": "Temporarily unavailable: retried with exponential backoff for about three days."},
}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the webhooks a CRM receives."""
    schemas, components = msgspec.json.schema_components(
        list(EVENTS.values()), ref_template="#/components/schemas/{name}"
    )
    webhooks = {
        event_type: {
            "post": {
                "summary": f"The hub reports {event_type}",
                "parameters": _HEADERS,
                "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
                "responses": _RESPONSES,
            }
        }
        for event_type, schema in zip(EVENTS, schemas, strict=True)
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Coalition Hub → CRM events",
            "version": "1.0.0",
            "description": (__doc__ or "").strip(),
        },
        "webhooks": webhooks,
        "components": {"schemas": components},
    }
