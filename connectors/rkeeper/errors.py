"""What a FarCards request can be refused for.

FarCardsRequestError      the body is not a request the hub can read: too large, not UTF-8, not
                          well-formed XML, a DOCTYPE or an entity, a required attribute missing, a
                          number where the protocol wants a number spelled otherwise. Its message is
                          short, in plain words, safe to send back to the till and to log (it never
                          quotes the body).
"""

from __future__ import annotations


class FarCardsRequestError(ValueError):
    """The one error parsing raises; `reason` is what the answer's error text says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
