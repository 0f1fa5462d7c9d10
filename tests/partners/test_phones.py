"""Phone numbers: whatever a person typed becomes E.164, anything else is phone_invalid; masks hide the
middle."""

from __future__ import annotations

import pytest

from partners.phones import InvalidPhoneError, mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("+79161234567", "+79161234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (650) 253-0000", "+16502530000"),
    ],
)
def test_normalises_to_e164(typed: str, e164: str) -> None:
    """Spaces, dashes, brackets and the Russian trunk 8 are read; the result is E.164."""
    assert normalize_phone(typed) == e164


@pytest.mark.parametrize(
    "typed", ["", "hello", "123", "+7 916 123", "+7 916 123-45-67-89-00", "+999 1234567", "+7 000 000-00-00"]
)
def test_invalid_numbers_are_refused(typed: str) -> None:
    """Not-a-number, too short, too long and unknown country codes raise phone_invalid (422) on 'phone'."""
    with pytest.raises(InvalidPhoneError) as caught:
        normalize_phone(typed)
    assert caught.value.code == "phone_invalid"
    assert caught.value.status_code == 422
    assert caught.value.details == {"field": "phone"}


def test_another_default_region() -> None:
    """A national number is read in the region given."""
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+79161234567", "+7 *** ***-45-67"),
        ("+442079460958", "+44 *** ***-09-58"),
    ],
)
def test_mask_keeps_country_and_last_four_digits(e164: str, masked: str) -> None:
    """The mask shows the country code and the last four digits only."""
    assert mask_phone(e164) == masked
    assert e164[3:-4] not in masked
