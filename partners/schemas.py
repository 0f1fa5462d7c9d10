"""The registry's wire format: what clients send (…Create, …Update) and get back (…Read)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from hub.schema import Currency, InputStruct, MinorUnits, Name, OutputStruct, Percent

TierCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", examples=["gold"])]
Category = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Perk = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Timezone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["Europe/Moscow"])]
ProgramKind = Literal["coalition", "venue"]


# ---- programs ----


class PrefixRule(InputStruct, tag_field="type", tag="prefix"):
    """A card number starting with value (digits or letters; the longest matching prefix wins)."""

    value: Annotated[str, msgspec.Meta(pattern=r"^[0-9A-Za-z]{1,32}$")]


class PatternRule(InputStruct, tag_field="type", tag="pattern"):
    """A card number matching the whole regular expression value."""

    value: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SignedQrRule(InputStruct, tag_field="type", tag="signed_qr"):
    """A QR payload signed with the program's Ed25519 key (public_key: base64 of the raw 32 bytes)."""

    public_key: Annotated[str, msgspec.Meta(min_length=40, max_length=200)]


class PhoneRule(InputStruct, tag_field="type", tag="phone"):
    """A phone number, found among the program's members."""


CardRule = PrefixRule | PatternRule | SignedQrRule | PhoneRule


class PinPolicy(InputStruct):
    digits: Annotated[int, msgspec.Meta(ge=6, le=10)] = 6  # pyotp HOTP: 6 to 10
    ttl_seconds: Annotated[int, msgspec.Meta(ge=30, le=3600)] = 300
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 5
    resend_after_seconds: Annotated[int, msgspec.Meta(ge=0, le=600)] = 30
    max_sends_per_card_10min: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    max_sends_per_card_day: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10


class PromoteWhen(InputStruct):
    metric: Literal["spent", "visits"]
    over: Annotated[int, msgspec.Meta(ge=0, le=10**13)]
    period_days: Annotated[int, msgspec.Meta(ge=1, le=3660)] = 365


class TierIn(InputStruct):
    code: TierCode
    name: Name
    discount_percent: Percent = 0
    bonus_percent: Percent | None = None
    max_bonus_payment_percent: Percent | None = None
    welcome_bonus_minor: MinorUnits | None = None
    promote_when: PromoteWhen | None = None


class ProgramFees(InputStruct):
    """What the coalition charges a venue for the guests a program brings (none when both are absent)."""

    per_visit_minor: Annotated[int, msgspec.Meta(ge=0, le=10**9)] | None = None
    percent_of_check: Annotated[float, msgspec.Meta(ge=0, le=50)] | None = None


SmsTemplate = Annotated[str, msgspec.Meta(min_length=5, max_length=300)]
DEFAULT_SMS_TEMPLATE = "{pin} is your PIN for {program}. Do not share it."


PersonalDataLevel = Literal["none", "masked", "full"]


class ProgramCreate(InputStruct):
    name: Name
    kind: ProgramKind
    currency: Currency
    tiers: Annotated[list[TierIn], msgspec.Meta(min_length=1, max_length=100)]
    card_rules: Annotated[list[CardRule], msgspec.Meta(max_length=100)] = msgspec.field(default_factory=list)
    owner_partner_id: uuid.UUID | None = None
    pin: PinPolicy = msgspec.field(default_factory=PinPolicy)
    sms_template: SmsTemplate = DEFAULT_SMS_TEMPLATE
    fees: ProgramFees = msgspec.field(default_factory=ProgramFees)
    # the most a venue's own connector receives of this program's guests: none, masked or the full phone
    venue_personal_data_max: PersonalDataLevel = "masked"


class ProgramUpdate(InputStruct):
    name: Name | UnsetType = UNSET
    tiers: Annotated[list[TierIn], msgspec.Meta(min_length=1, max_length=100)] | UnsetType = UNSET
    card_rules: Annotated[list[CardRule], msgspec.Meta(max_length=100)] | UnsetType = UNSET
    pin: PinPolicy | UnsetType = UNSET
    sms_template: SmsTemplate | UnsetType = UNSET
    fees: ProgramFees | UnsetType = UNSET  # from now on: statements of earlier sales keep their fees
    venue_personal_data_max: PersonalDataLevel | UnsetType = UNSET


class TierRead(OutputStruct):
    code: str
    name: str
    discount_percent: float
    bonus_percent: float | None
    max_bonus_payment_percent: float | None
    welcome_bonus_minor: int | None
    promote_when: PromoteWhen | None


class ProgramRead(OutputStruct):
    id: uuid.UUID
    name: str
    kind: ProgramKind
    owner_partner_id: uuid.UUID | None
    currency: str
    card_rules: list[CardRule]
    pin: PinPolicy
    sms_template: str
    tiers: list[TierRead]
    fees: ProgramFees
    venue_personal_data_max: PersonalDataLevel
    created_at: dt.datetime
    updated_at: dt.datetime


# ---- partners, venues, terminals ----


class PartnerCreate(InputStruct):
    name: Name


class PartnerUpdate(InputStruct):
    name: Name | UnsetType = UNSET


class PartnerRead(OutputStruct):
    id: uuid.UUID
    name: str
    created_at: dt.datetime


Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Place = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"\S")]


class VenueCreate(InputStruct):
    partner_id: uuid.UUID
    name: Name
    city: Place
    district: Place
    timezone: Timezone
    latitude: Latitude | None = None
    longitude: Longitude | None = None


class VenueUpdate(InputStruct):
    name: Name | UnsetType = UNSET
    city: Place | UnsetType = UNSET
    district: Place | UnsetType = UNSET
    timezone: Timezone | UnsetType = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    longitude: Longitude | UnsetType | None = UNSET


class VenueRead(OutputStruct):
    id: uuid.UUID
    partner_id: uuid.UUID
    name: str
    city: str
    district: str
    timezone: str
    latitude: float | None
    longitude: float | None
    created_at: dt.datetime


class TerminalCreate(InputStruct):
    name: Name


class TerminalRead(OutputStruct):
    id: uuid.UUID
    venue_id: uuid.UUID
    name: str
    is_disabled: bool
    created_at: dt.datetime


class TerminalCreated(OutputStruct):
    id: uuid.UUID
    venue_id: uuid.UUID
    name: str
    api_key: str


# ---- offers ----


class FundingIn(InputStruct):
    """Who funds an offer's discount, in percent summing to 100; give one and the other is the rest."""

    coalition_percent: Percent | None = None
    venue_percent: Percent | None = None


class Funding(OutputStruct):
    """Who funds an offer's discount: settlement splits each discount granted under it so."""

    coalition_percent: float
    venue_percent: float


class OfferCreate(InputStruct):
    program_id: uuid.UUID
    discount_percent: Percent
    partner_id: uuid.UUID | None = None
    venue_id: uuid.UUID | None = None
    tier_code: TierCode | None = None
    max_discount_minor: MinorUnits | None = None
    excluded_categories: Annotated[list[Category], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )
    perks: Annotated[list[Perk], msgspec.Meta(max_length=20)] = msgspec.field(default_factory=list)
    funding: FundingIn | None = None
    coalition_funded_percent: Percent | None = None  # before `funding`; still accepted, must agree with it


class OfferUpdate(InputStruct):
    discount_percent: Percent | UnsetType = UNSET
    max_discount_minor: MinorUnits | UnsetType | None = UNSET
    excluded_categories: Annotated[list[Category], msgspec.Meta(max_length=50)] | UnsetType = UNSET
    perks: Annotated[list[Perk], msgspec.Meta(max_length=20)] | UnsetType = UNSET
    funding: FundingIn | UnsetType = UNSET
    coalition_funded_percent: Percent | UnsetType = UNSET  # before `funding`; still accepted
    is_active: bool | UnsetType = UNSET


class OfferRead(OutputStruct):
    id: uuid.UUID
    program_id: uuid.UUID
    partner_id: uuid.UUID | None
    venue_id: uuid.UUID | None
    tier_code: str | None
    discount_percent: float
    max_discount_minor: int | None
    excluded_categories: list[str]
    perks: list[str]
    funding: Funding
    coalition_funded_percent: float  # = funding.coalition_percent, kept for older clients
    is_active: bool
    created_at: dt.datetime


# ---- members ----

CardNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")]
PhoneIn = Annotated[str, msgspec.Meta(min_length=3, max_length=32, examples=["+7 916 123-45-67"])]
MemberStatus = Literal["active", "blocked"]


class MemberCreate(InputStruct):
    card_number: CardNumber
    phone: PhoneIn
    name: Name | None = None
    tier_code: TierCode | None = None


class MemberUpdate(InputStruct):
    phone: PhoneIn | UnsetType = UNSET
    name: Name | UnsetType | None = UNSET
    tier_code: TierCode | UnsetType = UNSET
    status: MemberStatus | UnsetType = UNSET


class MemberRead(OutputStruct):
    id: uuid.UUID
    program_id: uuid.UUID
    card_number: str
    phone_masked: str
    name: str | None
    tier_code: str | None
    status: MemberStatus
    created_at: dt.datetime
    updated_at: dt.datetime


class ImportRejection(OutputStruct):
    line: int
    code: str
    message: str


class ImportReport(OutputStruct):
    created: int
    updated: int
    unchanged: int
    rejected: list[ImportRejection]
