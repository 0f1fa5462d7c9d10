"""Connectors and deliveries on the wire."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from hub.schema import InputStruct, Name, OutputStruct

Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2000, pattern=r"^https?://")]
Secret = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=400)]
EventType = Literal[
    "visit.verified", "visit.cancelled", "receipt.closed", "receipt.refunded", "referral.visited"
]
PersonalData = Literal["none", "masked", "full"]
AuthMethod = Literal["client_secret_basic", "client_secret_post"]
Param = Annotated[str, msgspec.Meta(max_length=400)]
ALL_EVENTS: list[EventType] = [
    "visit.verified",
    "visit.cancelled",
    "receipt.closed",
    "receipt.refunded",
    "referral.visited",
]


class NoAuth(InputStruct, tag_field="type", tag="none"):
    """No token: the receiver relies on the Standard Webhooks signature alone."""


class BearerAuth(InputStruct, tag_field="type", tag="bearer"):
    token: Secret


class ClientCredentialsAuth(InputStruct, tag_field="type", tag="oauth2_client_credentials"):
    token_url: Url
    client_id: Short
    client_secret: Secret
    scope: Short | None = None
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"  # noqa: S105  # a method name, not a secret


class RefreshTokenAuth(InputStruct, tag_field="type", tag="oauth2_refresh_token"):
    token_url: Url
    client_id: Short
    client_secret: Secret
    refresh_token: Secret
    token_endpoint_auth_method: AuthMethod = "client_secret_post"  # noqa: S105  # a method name, not a secret
    extra_params: dict[str, Param] = msgspec.field(default_factory=dict)


class IikoApiLoginAuth(InputStruct, tag_field="type", tag="iiko_api_login"):
    api_login: Secret
    organization_id: uuid.UUID


class IikoApiKeyAuth(InputStruct, tag_field="type", tag="iiko_api_key"):
    """iikoCloud's /api/v2/access_token (a one-hour JWT)."""

    api_key: Secret
    organization_id: uuid.UUID
    app_id: Short | None = None
    client_secret: Secret | None = None


Auth = NoAuth | BearerAuth | ClientCredentialsAuth | RefreshTokenAuth | IikoApiLoginAuth | IikoApiKeyAuth
AUTH_FOR_KIND: dict[str, tuple[str, ...]] = {
    "rest": ("none", "bearer", "oauth2_client_credentials", "oauth2_refresh_token"),
    "iiko": ("iiko_api_login", "iiko_api_key"),
    "amocrm": ("oauth2_refresh_token",),
}


class Owner(InputStruct):
    program_id: uuid.UUID | None = None
    venue_id: uuid.UUID | None = None


class ConnectorSettings(InputStruct):
    timeout_seconds: Annotated[float, msgspec.Meta(ge=1, le=120)] = 30
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8
    rate_per_second: Annotated[float, msgspec.Meta(gt=0, le=1000)] | None = None
    # iiko: mark coalition guests with this customer category (else with a comment line)
    category_id: uuid.UUID | None = None
    # iiko: top up this wallet with accrual_percent of each coalition receipt (off unless both are set)
    accrual_wallet_id: uuid.UUID | None = None
    accrual_percent: Annotated[float, msgspec.Meta(gt=0, le=100)] | None = None
    # iiko: this connector answers the loyalty (tier, balance) of this venue program's cards
    loyalty_program_id: uuid.UUID | None = None


class ConnectorCreate(InputStruct):
    name: Name
    kind: Literal["rest", "iiko", "amocrm"]
    owner: Owner
    url: Url
    auth: Auth
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=10)] = msgspec.field(
        default_factory=lambda: list(ALL_EVENTS)
    )
    personal_data: PersonalData = "none"
    settings: ConnectorSettings = msgspec.field(default_factory=ConnectorSettings)


class ConnectorUpdate(InputStruct):
    name: Name | UnsetType = UNSET
    url: Url | UnsetType = UNSET
    auth: Auth | UnsetType = UNSET
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=10)] | UnsetType = UNSET
    personal_data: PersonalData | UnsetType = UNSET
    settings: ConnectorSettings | UnsetType = UNSET
    status: Literal["active", "paused"] | UnsetType = UNSET


class OwnerRead(OutputStruct):
    program_id: uuid.UUID | None
    venue_id: uuid.UUID | None


class Health(OutputStruct):
    pending: int
    retrying: int
    dead: int
    delivered: int
    oldest_open_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_failure_at: dt.datetime | None
    failing_since: dt.datetime | None
    token_expires_at: dt.datetime | None
    latency_p50_ms: int | None
    latency_p99_ms: int | None
    error_rate: float | None  # over the last 100 attempts


class ConnectorRead(OutputStruct):
    id: uuid.UUID
    name: str
    kind: str
    owner: OwnerRead
    url: str
    auth: dict[str, object]  # public fields only: secrets are write-only
    events: list[str]
    personal_data: str
    settings: dict[str, object]
    status: str
    status_reason: str | None
    paused_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    health: Health | None = None


class ConnectorCreated(ConnectorRead, kw_only=True):
    signing_secret: str


class SigningSecretRotated(OutputStruct):
    signing_secret: str
    previous_valid_until: dt.datetime


class DeliveryRead(OutputStruct):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    connector_id: uuid.UUID
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


class AttemptRead(OutputStruct):
    number: int
    worker: str
    started_at: dt.datetime
    latency_ms: int
    outcome: str
    status_code: int | None
    error: str | None


class DeliveryDetail(DeliveryRead, kw_only=True):
    attempt_log: list[AttemptRead]


class ReplayRequest(InputStruct):
    from_: dt.datetime = msgspec.field(name="from")
    status: Literal["dead", "all"] = "dead"


class ReplayAccepted(OutputStruct):
    count: int


class RetryAccepted(OutputStruct):
    id: uuid.UUID
    status: str
