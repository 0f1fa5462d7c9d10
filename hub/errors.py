"""The HubError tree: every error a client can see, with its HTTP status and stable code.

HubError (500 internal)
├── InvalidInputError (422 validation_failed)   domain 422s subclass it
├── UnauthenticatedError (401 unauthenticated)
├── ForbiddenError (403 forbidden)
├── NotFoundError (404 not_found)
├── ConflictError (409 conflict)
│   └── IdempotencyConflictError (409 idempotency_conflict)
├── PayloadTooLargeError (413 payload_too_large)
├── RateLimitedError (429 rate_limited, Retry-After)
└── ServiceUnavailableError (503 service_unavailable)
"""

from __future__ import annotations

from typing import Any, ClassVar


def with_article(word: str) -> str:
    """'admin' → 'an admin', 'venue' → 'a venue': for messages that name a role or a kind."""
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


class HubError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    default_message: ClassVar[str] = (
        "Something went wrong on our side; try again, and tell us if it persists."
    )

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details: dict[str, Any] = details
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        return {}


class InvalidInputError(HubError):
    status_code = 422
    code = "validation_failed"
    default_message = "The request is not valid."


class UnauthenticatedError(HubError):
    status_code = 401
    code = "unauthenticated"
    default_message = "Send a valid API key as 'Authorization: Bearer <key>'."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="coalition-hub"'}


class ForbiddenError(HubError):
    status_code = 403
    code = "forbidden"
    default_message = "This API key may not do that."


class NotFoundError(HubError):
    status_code = 404
    code = "not_found"
    default_message = "Nothing here: check the id."


class ConflictError(HubError):
    status_code = 409
    code = "conflict"
    default_message = "This conflicts with what already exists."


class IdempotencyConflictError(ConflictError):
    code = "idempotency_conflict"
    default_message = "This Idempotency-Key was already used with another body; use a new key."


class PayloadTooLargeError(HubError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class RateLimitedError(HubError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests; wait and try again."

    def __init__(self, message: str | None = None, *, retry_after: int, **details: Any) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, retry_after=self.retry_after, **details)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailableError(HubError):
    status_code = 503
    code = "service_unavailable"
    default_message = "A service the hub needs is unavailable; try again shortly."
