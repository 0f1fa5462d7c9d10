"""One-time PIN codes (pure): a fresh HOTP secret per challenge, a new counter per resend."""

from __future__ import annotations

import pyotp

PIN_ALPHABET = "0123456789"


def new_secret() -> str:
    """A random base32 HOTP secret from the OS CSPRNG (160 bits)."""
    return pyotp.random_base32(32)


def code_at(secret: str, counter: int, digits: int) -> str:
    return pyotp.HOTP(secret, digits=digits).at(counter)


def is_well_formed(pin: str, digits: int) -> bool:
    """Exactly `digits` ASCII digits: no full-width digits, no separators, no spaces."""
    return len(pin) == digits and all(c in PIN_ALPHABET for c in pin)


def verify(secret: str, counter: int, digits: int, pin: str) -> bool:
    """Constant-time comparison (pyotp compares with hmac.compare_digest)."""
    return pyotp.HOTP(secret, digits=digits).verify(pin, counter)
