"""Google Wallet: a member's card as a loyalty class and object, and the signed "Add to Google
Wallet" link to them.

Public surface: LoyaltyCard, ServiceAccount / load_service_account, loyalty_class, loyalty_object,
save_jwt, save_link, wallet_id, safe_suffix and GoogleWalletError. No routes and no tables here:
those live in hub/.
"""

from __future__ import annotations

from connectors.googlewallet.errors import GoogleWalletError
from connectors.googlewallet.save_link import (
    LoyaltyCard,
    ServiceAccount,
    load_service_account,
    loyalty_class,
    loyalty_object,
    safe_suffix,
    save_jwt,
    save_link,
    wallet_id,
)

__all__ = [
    "GoogleWalletError",
    "LoyaltyCard",
    "ServiceAccount",
    "load_service_account",
    "loyalty_class",
    "loyalty_object",
    "safe_suffix",
    "save_jwt",
    "save_link",
    "wallet_id",
]
