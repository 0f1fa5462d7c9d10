"""What the iiko connector raises beyond the delivery errors of connectors.errors.

IikoPayloadError          what iiko sent us (a webhook array, an order in an answer) is not the
                          shape its OpenAPI document describes: not a JSON array of events, a
                          money field that is not a JSON number, an unknown item type, a time not
                          spelled yyyy-MM-dd HH:mm:ss.fff. `reason` is short and never quotes a
                          value, so it is safe to log and to answer with.
IikoRefusedError          iiko answered a call with a 4xx and its ErrorResponse (a PermanentError,
                          so the outbox treats it as before); `error_description` is iiko's own text.
"""

from __future__ import annotations

from connectors.errors import PermanentError


class IikoPayloadError(ValueError):
    """The one error reading iiko's inbound JSON raises."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IikoRefusedError(PermanentError):
    """A 4xx from iikoCloud with its errorDescription (empty when iiko gave none)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_description: str,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.error_description = error_description
        self.correlation_id = correlation_id
