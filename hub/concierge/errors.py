"""Referral errors."""

from __future__ import annotations

from hub.errors import ConflictError, InvalidInputError, NotFoundError


class ReferralNotFoundError(NotFoundError):
    default_message = "No such referral (or not one this key may see)."


class ReferralNotBookedError(ConflictError):
    code = "referral_not_booked"
    default_message = "Only a booked referral can be cancelled."


class ProgramUnknownError(InvalidInputError):
    code = "program_unknown"
    default_message = "No such coalition program."


class MemberUnknownError(InvalidInputError):
    code = "member_unknown"
    default_message = "No such member in this program."


class VenueUnknownError(InvalidInputError):
    code = "venue_unknown"
    default_message = "No such venue among those where this program's members are served."
