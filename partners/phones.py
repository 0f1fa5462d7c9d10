"""Phone numbers: parse whatever a person typed into E.164, and mask it for display (pure)."""

from __future__ import annotations

import phonenumbers

from hub.errors import InvalidInputError

DEFAULT_REGION = "RU"


class InvalidPhoneError(InvalidInputError):
    code = "phone_invalid"
    default_message = (
        "This is not a valid phone number; give it with the country code, e.g. +7 916 123-45-67."
    )


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """'8 (916) 123-45-67' → '+79161234567'; raises InvalidPhoneError for anything not a real number."""
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneError(field="phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneError(field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """'+79161234567' → '+7 *** ***-45-67': enough for a guest to recognise, not to dial."""
    parsed = phonenumbers.parse(e164, None)
    national = str(parsed.national_number)
    return f"+{parsed.country_code} *** ***-{national[-4:-2]}-{national[-2:]}"
