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
"""

from __future__ import annotations

import msgspec

# Paths, relative to the connector's url (e.g. https://api-ru.iiko.services).
ACCESS_TOKEN_V1 = "/api/1/access_token"  # noqa: S105  # a URL path, not a secret
ACCESS_TOKEN_V2 = "/api/v2/access_token"  # noqa: S105  # a URL path, not a secret
CUSTOMER_CREATE_OR_UPDATE = "/api/1/loyalty/iiko/customer/create_or_update"
CUSTOMER_INFO = "/api/1/loyalty/iiko/customer/info"
CUSTOMER_CATEGORIES = "/api/1/loyalty/iiko/customer_category"
CUSTOMER_CATEGORY_ADD = "/api/1/loyalty/iiko/customer_category/add"
WALLET_TOPUP = "/api/1/loyalty/iiko/customer/wallet/topup"
TRANSACTIONS_BY_DATE = "/api/1/loyalty/iiko/customer/transactions/by_date"

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
