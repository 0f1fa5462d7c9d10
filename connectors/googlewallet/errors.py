"""What building a Google Wallet card or its Save link can be refused for.

GoogleWalletError (ValueError)    nothing was built: an id outside Google's characters, a logo that
                                  is not https, a key file that is not a service account's RSA key.
                                  `reason` is short and never quotes the key, so it is safe to log.
"""

from __future__ import annotations


class GoogleWalletError(ValueError):
    """The one error the Google Wallet layer raises."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
