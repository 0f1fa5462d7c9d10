"""The error answers of every operation, written into the OpenAPI document.

Litestar documents a generic 400 with its own body shape for any route taking input; the hub never
answers 400 (a bad body is 422 `validation_failed`) and every error it gives has one shape,
`{"error": {"code", "message", "details"}}` (hub.plugin.ErrorEnvelope). This replaces that 400 and adds,
where they can happen, the answers every client must handle: 401/403/429/503 on /v1, 404 for a path
id, 409 for an Idempotency-Key reused with another body, 413 and 422 for input. The guest-flow
operations (what a till integrates) also name their domain codes per status, taken from the error
classes themselves (DOMAIN_ERRORS). Responses a route documents itself are kept. The same function
serves /schema and `coalition-hub openapi export`.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Request
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    RedocRenderPlugin,
    SwaggerRenderPlugin,
)

from hub.errors import HubError, RateLimitedError
from hub.flow.errors import (
    BonusNotAvailableError,
    CardAmbiguousError,
    CardNotRecognizedError,
    CurrencyMismatchError,
    MemberBlockedError,
    ReceiptConflictError,
    RefundExceedsError,
    VisitClosedError,
)
from pin.errors import (
    PinAlreadyUsedError,
    PinExpiredError,
    PinInvalidError,
    PinLockedError,
    SmsUnavailableError,
)

METHODS = ("get", "put", "post", "delete", "patch")
# the domain answers of the guest flow, per operation (the generic ones are added to every operation)
DOMAIN_ERRORS: dict[tuple[str, str], tuple[type[HubError], ...]] = {
    ("post", "/v1/scans"): (
        MemberBlockedError,
        CardAmbiguousError,
        CardNotRecognizedError,
        RateLimitedError,
        SmsUnavailableError,
    ),
    ("post", "/v1/scans/{scan_id}/pin"): (
        PinAlreadyUsedError,
        PinExpiredError,
        PinInvalidError,
        PinLockedError,
    ),
    ("post", "/v1/scans/{scan_id}/pin/resend"): (
        PinAlreadyUsedError,
        PinLockedError,
        RateLimitedError,
        SmsUnavailableError,
    ),
    ("post", "/v1/visits/{visit_id}/receipt"): (
        ReceiptConflictError,
        VisitClosedError,
        CurrencyMismatchError,
        BonusNotAvailableError,
    ),
    ("post", "/v1/visits/{visit_id}/quote"): (CurrencyMismatchError,),
    ("post", "/v1/visits/{visit_id}/cancel"): (VisitClosedError,),
    ("post", "/v1/receipts/{receipt_id}/refund"): (RefundExceedsError,),
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "description": "snake_case, stable: branch on it"},
                "message": {"type": "string", "description": "for a person; may change"},
                "details": {"type": "object", "description": "what the code needs, e.g. field, retry_after"},
            },
        }
    },
}
RETRY_AFTER = {"schema": {"type": "integer"}, "description": "seconds to wait before trying again"}
ANSWERS: dict[str, tuple[str, str]] = {
    # status: (component name, description)
    "401": ("Unauthenticated", "`unauthenticated`: no API key, or one unknown or revoked"),
    "403": (
        "Forbidden",
        "`forbidden`: this key's role or scope may not do this (also another tenant's object)",
    ),
    "404": ("NotFound", "`not_found` or a domain code: no such object for this key"),
    "409": (
        "Conflict",
        "`idempotency_conflict`: this Idempotency-Key came with another body; or a domain code",
    ),
    "413": ("PayloadTooLarge", "`payload_too_large`: the body is over the limit"),
    "422": ("ValidationFailed", "`validation_failed` (details.field names the input) or a domain code"),
    "429": ("RateLimited", "`rate_limited`: wait Retry-After seconds"),
    "503": ("Unavailable", "`database_unavailable` or a gateway's code: try again after Retry-After"),
}


def _responses() -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    made: dict[str, Any] = {}
    for status, (name, description) in ANSWERS.items():
        answer: dict[str, Any] = {"description": description, "content": content}
        if status in ("429", "503"):
            answer["headers"] = {"Retry-After": RETRY_AFTER}
        made[name] = answer
    return made


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    statuses: list[str] = []
    if path.startswith("/v1/"):
        statuses += ["401", "403", "429", "503"]
    if "{" in path:
        statuses.append("404")
    if method == "post" and path.startswith("/v1/"):
        statuses.append("409")
    if "requestBody" in operation:
        statuses += ["413", "422"]
    elif operation.get("parameters"):
        statuses.append("422")
    return statuses


def _domain_answers(errors: tuple[type[HubError], ...]) -> dict[str, Any]:
    """Per status, an answer naming its domain codes (with the generic one's meaning after them)."""
    codes: dict[str, list[str]] = {}
    for error in errors:
        codes.setdefault(str(error.status_code), []).append(f"`{error.code}`")
    answers: dict[str, Any] = {}
    for status, named in codes.items():
        generic = ANSWERS.get(status)
        description = ", ".join(named) + (f"; or {generic[1]}" if generic else "")
        answer: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        if status in ("429", "503"):
            answer["headers"] = {"Retry-After": RETRY_AFTER}
        answers[status] = answer
    return answers


def with_error_answers(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with the hub's error answers on every operation."""
    done = copy.deepcopy(document)
    components = done.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components.setdefault("responses", {}).update(_responses())
    for path, item in done.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("400", None)  # Litestar's generic one: the hub answers 422 instead
            for status, answer in _domain_answers(DOMAIN_ERRORS.get((method, path), ())).items():
                responses.setdefault(status, answer)
            for status in _statuses(path, method, operation):
                responses.setdefault(status, {"$ref": f"#/components/responses/{ANSWERS[status][0]}"})
    return done


class _Documented(OpenAPIRenderPlugin):
    """A render plugin that serves the document with its error answers (worked out once)."""

    _done: tuple[int, dict[str, Any]] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._done is None or self._done[0] != id(openapi_schema):
            self._done = (id(openapi_schema), with_error_answers(openapi_schema))
        return super().render(request, self._done[1])  # type: ignore[safe-super]  # the concrete plugin's


class JsonDocument(_Documented, JsonRenderPlugin):
    pass


class RedocDocument(_Documented, RedocRenderPlugin):
    pass


class SwaggerDocument(_Documented, SwaggerRenderPlugin):
    pass


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """/schema (ReDoc), /schema/swagger and /schema/openapi.json."""
    return [RedocDocument(path="/"), SwaggerDocument(path="/swagger"), JsonDocument()]
