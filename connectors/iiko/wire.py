"""iikoCloud API JSON as msgspec Structs, spelled exactly as iiko spells it (camelCase on the wire).

Sources read (stored copies, via the search tools):
- iikoCloud's own OpenAPI document ("iikoCloud API", contracts version 9.7.5.2), as mirrored in
  github.com/UserVanya/Iikocloud-py-sdk `openapi/upstream/iikocloud.openapi.json`: paths
  `/api/1/access_token` (deprecated, `GetAccessTokenRequest {apiLogin}` → `{correlationId, token}`,
  "the standard token lifetime is 1 hour"), `/api/v2/access_token` (`{apiKey, appId, clientSecret}`
  → `{correlationId, token}`, a JWT valid 1 hour, `exp` claim, "there is no refresh token flow"),
  the `Timeout` header on every path ("Timeout in seconds", integer, default 15), answers
  200/400/401/408/500 with `ErrorResponse {correlationId, errorDescription, error}`, and the schemas
  `iikoNet.Service.Contracts.Api.iikoTransport.Customer.*` (CreateOrUpdateCustomerRequest,
  GetCustomerInfoRequest with its `type` discriminator phone|cardTrack|cardNumber|email|id,
  GetCustomerInfoResponse, GuestCategoryShortInfo, GuestBalanceInfo, GuestCardInfo,
  ChangeCategoryForCustomerRequest, GetCategoriesRequest/Response, ChangeUserBalanceRequest).
- The same document's webhook and order contracts (`iikoTransport.PublicApi.Contracts.WebHooks.*`,
  `.Integration.WebHooksFilters.*`, `.TableOrders.Request/Response.*`, `.Deliveries.Response.Order.*`
  and its `x-webhooks` section): iiko POSTs a JSON array of events to `webHooksUri` and wants a 200;
  each event is `{eventType, eventTime (UTC), organizationId, correlationId, eventInfo}`, where
  `TableOrderUpdate`/`TableOrderError` carry a TableOrderInfo and `DeliveryOrderUpdate`/
  `DeliveryOrderError` an OrderInfo `{id, posId, externalNumber, organizationId, timestamp (int64,
  the last change on iikoTransport), creationStatus Success|InProgress|Error, errorInfo, order}`.
  Order items are discriminated by `type` (Product | Compound | Service), customers by `type`
  (regular | one-time). Money is `number/double` in roubles, order times are terminal-local.
  `order/by_id` and `order/by_table` answer `{correlationId, orders: [TableOrderInfo]}` (iiko 7.4.6+);
  by_table's dateFrom/dateTo bound the order's creation time in the terminal's time zone.
- The same repository's generated docs (`docs/CustomersApi.md`, `docs/CustomerCategoriesApi.md`,
  `docs/ReportApi.md`, `docs/ReportGetTransactionsReportByPeriodRequest.md`,
  `docs/ErrorsErrorResponse.md`) for the paths and the transactions report request.
- Public clients that mirror the shapes, read to confirm only: kebrick/pyiikocloudapi (`apiLogin`
  body, `errorDescription` on failures), and several callers of `customer_category/add`
  (`{customerId, categoryId, organizationId}`) and `customer/info` (`{type: "phone", phone,
  organizationId}`).

Every request field is optional on the wire unless iiko marks it required; None is omitted, so an
upsert never blanks a field we did not mean to touch (iiko ignores absent fields and, unless
`nullifyEmptyFields`, empty ones).

Reading what iiko sends: unknown fields are ignored everywhere (iiko adds fields between versions),
enum-like strings (statuses, kinds) stay plain strings so a new value does not make an order
unreadable, but the fields the hub acts on are typed strictly: money and quantities are `Exact`
(a JSON number read from its decimal text, never through a float: 2115.1 stays 2115.1), the
timestamp an integer, items and customers one of the documented kinds. Decode with `decode()`, which
knows `Exact`; anything else becomes an IikoPayloadError.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from connectors.iiko.errors import IikoPayloadError

# Paths, relative to the connector's url (e.g. https://api-ru.iiko.services).
ACCESS_TOKEN_V1 = "/api/1/access_token"  # noqa: S105  # a URL path, not a secret
ACCESS_TOKEN_V2 = "/api/v2/access_token"  # noqa: S105  # a URL path, not a secret
CUSTOMER_CREATE_OR_UPDATE = "/api/1/loyalty/iiko/customer/create_or_update"
CUSTOMER_INFO = "/api/1/loyalty/iiko/customer/info"
CUSTOMER_CATEGORIES = "/api/1/loyalty/iiko/customer_category"
CUSTOMER_CATEGORY_ADD = "/api/1/loyalty/iiko/customer_category/add"
WALLET_TOPUP = "/api/1/loyalty/iiko/customer/wallet/topup"
TRANSACTIONS_BY_DATE = "/api/1/loyalty/iiko/customer/transactions/by_date"
WEBHOOKS_UPDATE_SETTINGS = "/api/1/webhooks/update_settings"
WEBHOOKS_SETTINGS = "/api/1/webhooks/settings"
ORDER_BY_ID = "/api/1/order/by_id"
ORDER_BY_TABLE = "/api/1/order/by_table"

DATE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.000"  # iiko's "yyyy-MM-dd HH:mm:ss.fff"

# GuestBalanceInfo.type: 0 deposit or corporate nutrition, 1 bonus, 2 products, 3 discount, 4 certificate
WALLET_TYPE_BONUS = 1


class Request(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A request body."""


class Response(msgspec.Struct, kw_only=True, rename="camel"):
    """An answer body; fields iiko adds later are ignored."""


# --- authorization ---------------------------------------------------------------------------


class AccessTokenRequest(Request):
    api_login: str


class AccessTokenV2Request(Request):
    api_key: str
    app_id: str
    client_secret: str


class AccessTokenResponse(Response):
    token: str
    correlation_id: str | None = None


class ErrorResponse(Response):
    correlation_id: str | None = None
    error_description: str | None = None
    error: str | None = None


# --- customers -------------------------------------------------------------------------------


class CreateOrUpdateCustomerRequest(Request):
    organization_id: str
    id: str | None = None
    phone: str | None = None
    card_track: str | None = None
    card_number: str | None = None
    name: str | None = None
    comment: str | None = None
    user_data: str | None = None


class CreateOrUpdateCustomerResponse(Response):
    id: str


class CustomerInfoByPhone(Request, tag_field="type", tag="phone"):
    phone: str
    organization_id: str


class CustomerInfoByCardTrack(Request, tag_field="type", tag="cardTrack"):
    card_track: str
    organization_id: str


class CustomerInfoByCardNumber(Request, tag_field="type", tag="cardNumber"):
    card_number: str
    organization_id: str


class CustomerInfoById(Request, tag_field="type", tag="id"):
    id: str
    organization_id: str


CustomerInfoRequest = (
    CustomerInfoByPhone | CustomerInfoByCardTrack | CustomerInfoByCardNumber | CustomerInfoById
)


class GuestCardInfo(Response):
    id: str | None = None
    track: str | None = None
    number: str | None = None


class GuestCategoryShortInfo(Response):
    id: str
    name: str | None = None
    is_active: bool = True
    is_default_for_new_guests: bool = False


class GuestBalanceInfo(Response):
    id: str
    balance: float = 0.0
    name: str | None = None
    type: int | None = None


class CustomerInfoResponse(Response):
    id: str
    name: str | None = None
    surname: str | None = None
    phone: str | None = None
    comment: str | None = None
    user_data: str | None = None
    is_deleted: bool | None = None
    cards: list[GuestCardInfo] = msgspec.field(default_factory=list)
    categories: list[GuestCategoryShortInfo] = msgspec.field(default_factory=list)
    wallet_balances: list[GuestBalanceInfo] = msgspec.field(default_factory=list)


# --- categories ------------------------------------------------------------------------------


class GetCategoriesRequest(Request):
    organization_id: str


class GetCategoriesResponse(Response):
    guest_categories: list[GuestCategoryShortInfo] = msgspec.field(default_factory=list)


class ChangeCategoryForCustomerRequest(Request):
    customer_id: str
    category_id: str
    organization_id: str


class EmptyResponse(Response):
    """ChangeCategoryForCustomerResponse, ChangeUserBalance answers: no fields of interest."""


# --- wallets and the transactions report -----------------------------------------------------


class ChangeUserBalanceRequest(Request):
    customer_id: str
    wallet_id: str
    sum: float  # positive, in the currency's major units
    organization_id: str
    comment: str | None = None


class TransactionsByPeriodRequest(Request):
    customer_id: str
    date_from: str  # UTC, DATE_TIME_FORMAT, included
    date_to: str
    page_number: int  # zero based
    page_size: int
    organization_id: str


class TransactionInfo(Response):
    id: str | None = None
    comment: str | None = None
    sum: float | None = None
    wallet_id: str | None = None


class TransactionsByPeriodResponse(Response):
    transactions: list[TransactionInfo] = msgspec.field(default_factory=list)


# --- numbers read exactly --------------------------------------------------------------------

MAX_EXACT_DIGITS = 40  # a double prints in at most 17 significant digits; more is not iiko's
MAX_EXACT = Decimal(10) ** 12  # roubles or pieces: far beyond any check, and keeps rounding exact
MAX_EXACT_DECIMALS = 20  # places after the point; a double of a real price or amount needs a handful

T = TypeVar("T")


class Exact(Decimal):
    """A JSON number as the decimal its text spells (never through a float); only a JSON number is taken."""


def _exact(value: object) -> Exact:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("expected a JSON number")  # msgspec reports it with the field's path
    number = Exact(value)
    shape = number.as_tuple()
    if (
        abs(number) >= MAX_EXACT
        or len(shape.digits) > MAX_EXACT_DIGITS
        or int(shape.exponent) < -MAX_EXACT_DECIMALS
    ):
        raise ValueError("number out of range")
    return number


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Exact:
        return _exact(value)
    raise NotImplementedError(f"{kind!r} is not a wire type")


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decode(body: bytes, kind: type[T]) -> T:
    """Decode iiko's JSON into a wire type (Exact fields included); raises msgspec.DecodeError."""
    decoder = _decoders.get(kind)
    if decoder is None:
        # float_hook: a JSON number with a fraction reaches _dec_hook as the Decimal of its text
        decoder = _decoders[kind] = msgspec.json.Decoder(kind, dec_hook=_dec_hook, float_hook=Decimal)
    decoded: T = decoder.decode(body)
    return decoded


# --- webhook settings ------------------------------------------------------------------------

# OrderStatus (table orders) and DeliveryStatus (delivery orders): the value the hub subscribes to
ORDER_STATUS_CLOSED = "Closed"
ORDER_STATUS_DELETED = "Deleted"


class TableOrderWebHookFilter(Request):
    order_statuses: list[str] | None = None  # New | Bill | Closed | Deleted
    item_statuses: list[str] | None = None  # Added | PrintedNotCooking | CookingStarted | …
    errors: bool | None = None


class DeliveryOrderWebHooksFilter(Request):
    order_statuses: list[str] | None = None  # Unconfirmed | WaitCooking | … | Closed | Cancelled
    item_statuses: list[str] | None = None
    errors: bool | None = None
    returned_external_data_keys: list[str] | None = None


class ReserveWebHookFilter(Request):
    updates: bool | None = None
    errors: bool | None = None


class WebHookShortFilter(Request):
    updates: bool | None = None


class WebHooksFilter(Request):
    delivery_order_filter: DeliveryOrderWebHooksFilter | None = None
    table_order_filter: TableOrderWebHookFilter | None = None
    reserve_filter: ReserveWebHookFilter | None = None
    stop_list_update_filter: WebHookShortFilter | None = None
    personal_shift_filter: WebHookShortFilter | None = None
    nomenclature_update_filter: WebHookShortFilter | None = None
    business_hours_and_mapping_update_filter: WebHookShortFilter | None = None


class UpdateWebHookSettingsRequest(Request):
    """Replaces the webhook settings of the organization for the authorized API login."""

    organization_id: str
    web_hooks_uri: str
    auth_token: str | None = None  # "Authorization token to pass to the webhook handler"
    web_hooks_filter: WebHooksFilter | None = None


class CorrelationIdResponse(Response):
    correlation_id: str | None = None


class GetWebHookSettingsRequest(Request):
    organization_id: str


class GetWebHookSettingsResponse(Response):
    correlation_id: str | None = None
    api_login_name: str | None = None
    web_hooks_uri: str | None = None
    auth_token: str | None = None
    web_hooks_filter: WebHooksFilter | None = None


# --- orders: the parts both kinds share ------------------------------------------------------


class Named(Response):
    """Product, DiscountType, ProductSize, RemovalType, Conception: {id, name}."""

    id: str
    name: str | None = None


class Employee(Response):
    id: str
    name: str | None = None
    phone: str | None = None


class RegularCustomer(Response, tag_field="type", tag="regular"):
    id: str
    name: str | None = None
    surname: str | None = None
    comment: str | None = None
    gender: str | None = None
    in_blacklist: bool | None = None
    blacklist_reason: str | None = None
    birthdate: str | None = None


class AnonymousCustomer(Response, tag_field="type", tag="one-time"):
    name: str | None = None


Customer = RegularCustomer | AnonymousCustomer


class GuestsInfo(Response):
    count: int
    split_between_persons: bool | None = None


class DeletionMethod(Response):
    id: str | None = None
    comment: str | None = None
    removal_type: Named | None = None


class ItemDeletedInfo(Response):
    deletion_method: DeletionMethod | None = None


class OrderItemModifier(Response):
    product: Named
    amount: Exact
    price: Exact
    result_sum: Exact
    amount_independent_of_parent_amount: bool = False
    price_predefined: bool | None = None
    product_group: Named | None = None
    deleted: ItemDeletedInfo | None = None
    position_id: str | None = None
    tax_percent: Exact | None = None


class _OrderItem(Response):
    status: str  # Added | PrintedNotCooking | CookingStarted | CookingCompleted | Served
    amount: Exact
    deleted: ItemDeletedInfo | None = None  # "If filled up, item is deleted."
    comment: str | None = None
    when_printed: str | None = None
    size: Named | None = None


class ProductOrderItem(_OrderItem, kw_only=True, tag_field="type", tag="Product"):
    product: Named
    price: Exact  # per unit, before discounts
    cost: Exact  # the item's total before tax, discounts and surcharges
    result_sum: Exact | None = None  # the item's total after discounts and surcharges
    modifiers: list[OrderItemModifier] | None = None
    position_id: str | None = None
    price_predefined: bool | None = None
    tax_percent: Exact | None = None


class CompoundOrderItemComponent(Response):
    product: Named
    price: Exact
    cost: Exact
    result_sum: Exact | None = None
    modifiers: list[OrderItemModifier] | None = None
    position_id: str | None = None
    price_predefined: bool | None = None
    tax_percent: Exact | None = None


class CompoundOrderItem(_OrderItem, kw_only=True, tag_field="type", tag="Compound"):
    primary_component: CompoundOrderItemComponent
    secondary_component: CompoundOrderItemComponent | None = None
    common_modifiers: list[OrderItemModifier] | None = None
    template: Named | None = None


class ServiceOrderItem(_OrderItem, kw_only=True, tag_field="type", tag="Service"):
    service: Named
    cost: Exact


OrderItem = ProductOrderItem | CompoundOrderItem | ServiceOrderItem


class PaymentType(Response):
    id: str
    name: str | None = None
    kind: str | None = None  # Unknown | Cash | Card | Credit | Writeoff | Voucher | External | …


class PaymentItem(Response):
    payment_type: PaymentType
    sum: Exact
    is_preliminary: bool | None = None
    is_external: bool | None = None
    is_processed_externally: bool | None = None
    is_fiscalized_externally: bool | None = None
    is_prepay: bool | None = None


class PositionWithSum(Response):
    position_id: str
    sum: Exact


class DiscountItem(Response):
    discount_type: Named
    sum: Exact
    selective_positions: list[str] | None = None
    selective_positions_with_sum: list[PositionWithSum] | None = None


class OrderType(Response):
    id: str
    name: str | None = None
    order_service_type: str | None = None  # Common | DeliveryByCourier | DeliveryByClient


class ExternalData(Response):
    key: str
    value: str | None = None


class ErrorInfo(Response):
    code: str | None = None  # ErrorCode: Common, OrderNotFound, …
    message: str | None = None
    description: str | None = None
    additional_data: Any = None
    error_reason: str | None = None


class _Order(Response):
    """The fields TableOrder and the delivery Order share."""

    status: str  # table: New | Bill | Closed | Deleted; delivery: DeliveryStatus
    sum: Exact  # the order's amount after discounts and surcharges
    number: int
    items: list[OrderItem]
    customer: Customer | None = None
    phone: str | None = None
    when_created: str | None = None  # terminal-local
    when_bill_printed: str | None = None
    when_closed: str | None = None  # terminal-local
    guests_info: GuestsInfo | None = None
    payments: list[PaymentItem] | None = None
    discounts: list[DiscountItem] | None = None
    order_type: OrderType | None = None
    terminal_group_id: str | None = None
    source_key: str | None = None
    processed_payments_sum: Exact | None = None
    external_data: list[ExternalData] | None = None


class TableOrder(_Order):
    table_ids: list[str] = msgspec.field(default_factory=list)
    waiter: Employee | None = None
    tab_name: str | None = None


class DeliveryOrder(_Order):
    """iiko's Deliveries.Response.Order.Order."""

    operator: Employee | None = None
    comment: str | None = None


class _OrderInfo(Response):
    id: str
    organization_id: str
    timestamp: int  # the order's last change on iikoTransport
    creation_status: str  # Success | InProgress | Error
    pos_id: str | None = None
    external_number: str | None = None
    error_info: ErrorInfo | None = None


class TableOrderInfo(_OrderInfo):
    order: TableOrder | None = None  # filled when creationStatus is Success


class OrderInfo(_OrderInfo):
    """A delivery order's eventInfo (iiko's Deliveries.Response.Order.OrderInfo)."""

    order: DeliveryOrder | None = None


CREATION_SUCCESS = "Success"


# --- order/by_id and order/by_table ----------------------------------------------------------


class GetTableOrdersByIdRequest(Request):
    """orderIds or posOrderIds, never both."""

    organization_ids: list[str]
    order_ids: list[str] | None = None
    pos_order_ids: list[str] | None = None
    source_keys: list[str] | None = None
    return_external_data_keys: list[str] | None = None


class GetTableOrdersByTableRequest(Request):
    organization_ids: list[str]
    table_ids: list[str]
    statuses: list[str] | None = None
    date_from: str | None = None  # the order's creation, terminal time zone, yyyy-MM-dd HH:mm:ss.fff
    date_to: str | None = None
    source_keys: list[str] | None = None


class TableOrdersResponse(Response):
    orders: list[TableOrderInfo] = msgspec.field(default_factory=list)
    correlation_id: str | None = None


# --- webhook events --------------------------------------------------------------------------

TABLE_ORDER_EVENTS = frozenset({"TableOrderUpdate", "TableOrderError"})
DELIVERY_ORDER_EVENTS = frozenset({"DeliveryOrderUpdate", "DeliveryOrderError"})


class _Envelope(Response):
    event_type: str
    event_time: str | None = None  # UTC, yyyy-MM-dd HH:mm:ss.fff
    organization_id: str | None = None
    correlation_id: str | None = None


class TableOrderEvent(_Envelope, kw_only=True):
    event_info: TableOrderInfo


class DeliveryOrderEvent(_Envelope, kw_only=True):
    event_info: OrderInfo


class _InfoKey(Response):
    id: str | None = None
    timestamp: int | None = None


class _Head(_Envelope):
    event_info: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class RawEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a webhook array as iiko wrote it, with what storing and deduplicating need."""

    event_type: str
    raw: bytes  # the event's own JSON, byte for byte
    event_time: str | None = None
    organization_id: str | None = None
    info_id: str | None = None  # eventInfo.id, when it is a string
    info_timestamp: int | None = None  # eventInfo.timestamp, when it is an integer


class OtherEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event type the hub does not read (PersonalShift, StopListUpdate, a type iiko adds later)."""

    event_type: str
    raw: bytes
    event_time: str | None = None
    organization_id: str | None = None


Event = TableOrderEvent | DeliveryOrderEvent | OtherEvent


def split_webhook(body: bytes) -> list[RawEvent]:
    """A webhook body → its events, each kept raw; only the array and each eventType are required."""
    try:
        elements = msgspec.json.decode(body, type=list[msgspec.Raw])
    except msgspec.DecodeError:
        raise IikoPayloadError("the webhook body is not a JSON array of events") from None
    return [_raw_event(bytes(element), index) for index, element in enumerate(elements)]


def _raw_event(raw: bytes, index: int) -> RawEvent:
    try:
        head = msgspec.json.decode(raw, type=_Head)
    except msgspec.DecodeError:
        raise IikoPayloadError(f"event {index} is not an object with a string eventType") from None
    key = _info_key(bytes(head.event_info))
    return RawEvent(
        event_type=head.event_type,
        raw=raw,
        event_time=head.event_time,
        organization_id=head.organization_id,
        info_id=key.id,
        info_timestamp=key.timestamp,
    )


def _info_key(info: bytes) -> _InfoKey:
    try:
        return msgspec.json.decode(info, type=_InfoKey) if info else _InfoKey()
    except msgspec.DecodeError:  # an unknown event's eventInfo may be anything: no key then
        return _InfoKey()


def decode_event(raw: bytes) -> Event:
    """One stored event → the typed event (strict) or, for a type the hub does not read, OtherEvent."""
    try:
        head = msgspec.json.decode(raw, type=_Envelope)
        if head.event_type in TABLE_ORDER_EVENTS:
            return decode(raw, TableOrderEvent)
        if head.event_type in DELIVERY_ORDER_EVENTS:
            return decode(raw, DeliveryOrderEvent)
    except msgspec.DecodeError as exc:
        raise IikoPayloadError(f"event does not match iiko's documented shape: {exc}") from None
    return OtherEvent(
        event_type=head.event_type,
        raw=raw,
        event_time=head.event_time,
        organization_id=head.organization_id,
    )


def decode_webhook(body: bytes) -> list[Event]:
    """A whole webhook body, every event decoded (one malformed event fails the body)."""
    return [decode_event(event.raw) for event in split_webhook(body)]
