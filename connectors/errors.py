"""What a delivery attempt can end in, as the outbox sees it.

DeliveryError
├── TransientError        retried with backoff (timeouts, connection errors, 5xx, 408)
│   ├── RateLimitError    429: wait Retry-After, not counted as a failed attempt
│   └── OutcomeUnknownError  the request may have been applied: reconcile before retrying
├── PermanentError        4xx, refused auth after a refresh: dead at once
│   └── GoneError         410: the destination is gone, the connector is disabled
└── ReconsentError        the OAuth grant is lost (a refresh answer never came): a person re-authorises
"""

from __future__ import annotations


class DeliveryError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TransientError(DeliveryError):
    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class RateLimitError(TransientError):
    pass


class OutcomeUnknownError(TransientError):
    pass


class PermanentError(DeliveryError):
    pass


class GoneError(PermanentError):
    pass


class ReconsentError(DeliveryError):
    pass
