"""Guest-flow errors."""

from __future__ import annotations

from typing import ClassVar

from hub.errors import ConflictError, ForbiddenError, HubError, InvalidInputError


class CardNotRecognizedError(InvalidInputError):
    code = "card_not_recognized"
    default_message = (
        "This card is not one the hub knows here: check the code, or run the venue's own process."
    )


class CardAmbiguousError(ConflictError):
    code = "card_ambiguous"
    default_message = "This code belongs to several programs: ask the guest which card it is."


class MemberBlockedError(ForbiddenError):
    code = "member_blocked"
    default_message = "This card is blocked: no discount can be applied."


class ReceiptConflictError(ConflictError):
    code = "receipt_conflict"
    default_message = "This check_id was already posted with another body: use a new check_id."


class VisitClosedError(ConflictError):
    code = "visit_closed"
    default_message = "This visit already has a receipt: scan the card again for a new visit."


class VisitNotVerifiedError(HubError):
    status_code: ClassVar[int] = 409
    code = "visit_not_verified"
    default_message = "The visit is not verified yet: enter the PIN first."


class CurrencyMismatchError(InvalidInputError):
    code = "currency_mismatch"
    default_message = "The receipt's currency is not the program's currency."


class BonusNotAvailableError(InvalidInputError):
    code = "bonus_not_available"
    default_message = "That much cannot be paid by bonus on this check: ask the quote for the payable amount."


class RefundExceedsError(InvalidInputError):
    code = "refund_exceeds_receipt"
    default_message = "The refund is larger than what is left to refund on this receipt."


class ClosedAtOutOfRangeError(InvalidInputError):
    code = "closed_at_out_of_range"
    default_message = (
        "closed_at must lie between the visit's verification and now (5 minutes of clock skew either way)."
    )
