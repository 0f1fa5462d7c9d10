"""Registry errors."""

from __future__ import annotations

from hub.errors import ConflictError, InvalidInputError, NotFoundError


class ProgramNotFoundError(NotFoundError):
    default_message = "No such program (or not one this key may see)."


class PartnerNotFoundError(NotFoundError):
    default_message = "No such partner (or not one this key may see)."


class VenueNotFoundError(NotFoundError):
    default_message = "No such venue (or not one this key may see)."


class TerminalNotFoundError(NotFoundError):
    default_message = "No such terminal (or not one this key may see)."


class OfferNotFoundError(NotFoundError):
    default_message = "No such offer (or not one this key may see)."


class MemberNotFoundError(NotFoundError):
    default_message = "No such member (or not one this key may see)."


class NameTakenError(ConflictError):
    code = "name_taken"
    default_message = "This name is already in use; choose another."


class CardNumberTakenError(ConflictError):
    code = "card_number_taken"
    default_message = "This card number already belongs to another member of the program."


class TierInUseError(ConflictError):
    code = "tier_in_use"
    default_message = "Members or offers still use this tier; move them to another tier first."


class InvalidCardRuleError(InvalidInputError):
    code = "card_rule_invalid"


class InvalidTierError(InvalidInputError):
    code = "tier_invalid"


class TierAutoPromotedError(ConflictError):
    code = "tier_auto_promoted"
    default_message = (
        "This program moves members between tiers by itself (auto-promotion): no manual tier change."
    )


class QuotaExceededError(ConflictError):
    code = "quota_exceeded"
    default_message = "A quota is reached; remove something first, or ask the hub's operator to raise it."
