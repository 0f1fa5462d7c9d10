"""What building, signing and serving an Apple Wallet pass, or waking a device, can end in.

PassError (ValueError)            nothing was built; `reason` is short, in plain words, and never
│                                 quotes a secret, so it is safe to log and to show an admin
├── PassContentError              the card breaks one of Apple's rules for pass.json (an
│                                 authentication token under 16 characters, a colour out of range,
│                                 a barcode message that ISO-8859-1 cannot carry, an image not PNG)
├── PassSigningError              the certificate, its key and the WWDR intermediate do not make a
│                                 signer for this pass (unreadable PEM, key of another certificate,
│                                 leaf not issued by the intermediate, another pass type identifier)
└── WebServiceRequestError        a device's call to the pass web service is not one Apple's
                                  reference describes (a body that is not {"pushToken"}, a tag we
                                  never gave out); the route answers 400

DeviceTokenGoneError (connectors.errors.PermanentError)
                                  APNs says the push token is dead (410 Unregistered, or 400
                                  BadDeviceToken): drop that device's registration, do not retry.
                                  Not a GoneError: one dead phone must not disable anything else.
"""

from __future__ import annotations

from connectors.errors import PermanentError


class PassError(ValueError):
    """The base of everything the pure pass layer refuses."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PassContentError(PassError):
    """The card's content cannot become a valid pass.json."""


class PassSigningError(PassError):
    """The signing material cannot sign this pass."""


class WebServiceRequestError(PassError):
    """A device's request to the pass web service is malformed."""


class DeviceTokenGoneError(PermanentError):
    """APNs refused the push token for good: unregister the device."""

    def __init__(self, message: str, *, status_code: int | None, reason: str, gone_at_ms: int | None) -> None:
        super().__init__(message, status_code=status_code)
        self.reason = reason
        self.gone_at_ms = gone_at_ms
