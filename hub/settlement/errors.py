"""Settlement errors."""

from __future__ import annotations

from hub.errors import ConflictError


class PeriodNotEndedError(ConflictError):
    code = "period_not_ended"
    default_message = "This month has not ended in every venue's time zone yet: it cannot be closed."
