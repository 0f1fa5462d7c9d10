"""A member's card as a Google Wallet loyalty card and its "Add to Google Wallet" link (pure).

Sources read (stored copies): Google Wallet API reference, "Google Wallet API JWT": claims `iss`
(the service account's email), `aud` "google", `typ` "savetowallet", `iat` (seconds), `origins`
(the sites that may show the button), `payload.loyaltyClasses` / `payload.loyaltyObjects`; "Working
with JWTs": the JWT is signed with the Google Cloud service account's key and the link is
`https://pay.google.com/gp/v/save/{jwt}`. REST resources `loyaltyclass` (required: id, issuerName,
programName, programLogo, reviewStatus; localizedProgramName, accountNameLabel, accountIdLabel,
hexBackgroundColor, LocalizedString {defaultValue, translatedValues} of TranslatedString {language,
value}) and `loyaltyobject` (id, classId, state ACTIVE, accountName, accountId, loyaltyPoints
{label, localizedLabel, balance {int}}, barcode {type QR_CODE, value, alternateText},
textModulesData, linksModuleData). Ids are "issuer ID.identifier, where the former is issued by
Google and latter is chosen by you"; the identifier "should only include alphanumeric characters,
'.', '_', or '-'". The official sample (google-wallet/rest-samples, python/demo_loyalty.py) was read
for the claim layout and the RS256 signing with the key file's private key (`kid` = private_key_id).

The JWT is made with joserfc, the JOSE library of authlib's authors that authlib itself is built on
(authlib.jose is deprecated in authlib 1.6+ in its favour); no other JWT library.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec
from joserfc import jwk, jwt
from joserfc.errors import JoseError

from connectors.googlewallet.errors import GoogleWalletError

SAVE_URL = "https://pay.google.com/gp/v/save/"
ALGORITHM = "RS256"
DEFAULT_LANGUAGE, OTHER_LANGUAGE = "ru", "en"

_ISSUER_ID = re.compile(r"^[0-9]{1,30}$")
_SUFFIX = re.compile(r"^[A-Za-z0-9._\-]{1,200}$")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._\-]")
_HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")

# Labels Google shows beside the data, ru first (the coalition's language), then en.
LABELS: dict[str, tuple[str, str]] = {
    "member": ("Гость", "Member"),
    "card": ("Номер карты", "Card number"),
    "points": ("Баллы", "Points"),
    "tier": ("Уровень", "Tier"),
    "card_page": ("Страница карты", "Card page"),
    "logo": ("Логотип программы", "Program logo"),
}


class ServiceAccount(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of a service account key file that sign a Save link."""

    client_email: str
    private_key: str
    private_key_id: str | None = None


class LoyaltyCard(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a member's loyalty card shows; the route fills it from the member and program."""

    issuer_id: str
    class_suffix: str  # the program's class
    object_suffix: str  # the member's card in it
    issuer_name: str
    program_name: str
    program_logo_url: str
    account_name: str
    account_id: str
    barcode_value: str  # the card's static signed code
    points_balance: int | None = None  # venue programs; None leaves loyaltyPoints out
    tier_name: str | None = None
    card_url: str | None = None
    hex_background_color: str | None = None


def load_service_account(key_file: bytes) -> ServiceAccount:
    """The service account from the JSON key file Google Cloud gives out."""
    try:
        account = msgspec.json.decode(key_file, type=ServiceAccount)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise GoogleWalletError("not a service account key file (client_email, private_key)") from None
    _rsa_key(account)
    return account


def wallet_id(issuer_id: str, suffix: str) -> str:
    """`{issuerId}.{suffix}`, refused unless both parts keep Google's rules."""
    if not _ISSUER_ID.match(issuer_id):
        raise GoogleWalletError("the issuer ID is the number Google gave out")
    if not _SUFFIX.match(suffix):
        raise GoogleWalletError("an id suffix may hold only letters, digits, '.', '_' and '-'")
    return f"{issuer_id}.{suffix}"


def safe_suffix(raw: str) -> str:
    """Any text as an id suffix: every character Google does not allow becomes '_'."""
    return _NOT_ALLOWED.sub("_", raw)[:200] or "_"


def loyalty_class(card: LoyaltyCard) -> dict[str, Any]:
    """The program as a LoyaltyClass."""
    if not card.program_logo_url.startswith("https://"):
        raise GoogleWalletError("the program logo must be an https URL Google can fetch")
    document: dict[str, Any] = {
        "id": wallet_id(card.issuer_id, card.class_suffix),
        "issuerName": card.issuer_name,
        "programName": card.program_name,
        "programLogo": {
            "sourceUri": {"uri": card.program_logo_url},
            "contentDescription": localized("logo"),
        },
        "reviewStatus": "UNDER_REVIEW",
        "accountNameLabel": LABELS["member"][1],
        "localizedAccountNameLabel": localized("member"),
        "accountIdLabel": LABELS["card"][1],
        "localizedAccountIdLabel": localized("card"),
    }
    if card.hex_background_color is not None:
        if not _HEX_COLOR.match(card.hex_background_color):
            raise GoogleWalletError("hexBackgroundColor is #RRGGBB")
        document["hexBackgroundColor"] = card.hex_background_color
    return document


def loyalty_object(card: LoyaltyCard) -> dict[str, Any]:
    """The member's card as a LoyaltyObject of the program's class."""
    if not card.barcode_value.strip() or not card.account_name.strip():
        raise GoogleWalletError("the card needs a barcode value and an account name")
    document: dict[str, Any] = {
        "id": wallet_id(card.issuer_id, card.object_suffix),
        "classId": wallet_id(card.issuer_id, card.class_suffix),
        "state": "ACTIVE",
        "accountName": card.account_name,
        "accountId": card.account_id,
        "barcode": {"type": "QR_CODE", "value": card.barcode_value, "alternateText": card.account_id},
    }
    if card.points_balance is not None:
        document["loyaltyPoints"] = {
            "label": LABELS["points"][1],
            "localizedLabel": localized("points"),
            "balance": {"int": card.points_balance},
        }
    if card.tier_name:
        document["textModulesData"] = [_text_module("tier", card.tier_name)]
    if card.card_url:
        document["linksModuleData"] = {"uris": [_link("card_page", card.card_url)]}
    return document


def save_claims(
    card: LoyaltyCard,
    account: ServiceAccount,
    *,
    origins: list[str],
    issued_at: dt.datetime,
    with_class: bool = True,
) -> dict[str, Any]:
    """The claims of a Save JWT: the object, and the class too unless it was inserted beforehand."""
    payload: dict[str, Any] = {"loyaltyObjects": [loyalty_object(card)]}
    if with_class:
        payload["loyaltyClasses"] = [loyalty_class(card)]
    return {
        "iss": account.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(issued_at.timestamp()),
        "origins": origins,
        "payload": payload,
    }


def save_jwt(
    card: LoyaltyCard,
    account: ServiceAccount,
    *,
    origins: list[str],
    issued_at: dt.datetime,
    with_class: bool = True,
) -> str:
    """The Save JWT, signed RS256 with the service account's private key."""
    header: dict[str, Any] = {"alg": ALGORITHM, "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    claims = save_claims(card, account, origins=origins, issued_at=issued_at, with_class=with_class)
    return jwt.encode(header, claims, _rsa_key(account), algorithms=[ALGORITHM])


def save_link(
    card: LoyaltyCard,
    account: ServiceAccount,
    *,
    origins: list[str],
    issued_at: dt.datetime,
    with_class: bool = True,
) -> str:
    """The "Add to Google Wallet" link the card page redirects to."""
    return SAVE_URL + save_jwt(card, account, origins=origins, issued_at=issued_at, with_class=with_class)


def localized(label: str) -> dict[str, Any]:
    """A label as Google's LocalizedString: Russian by default, English beside it."""
    russian, english = LABELS[label]
    return {
        "defaultValue": {"language": DEFAULT_LANGUAGE, "value": russian},
        "translatedValues": [{"language": OTHER_LANGUAGE, "value": english}],
    }


def _text_module(label: str, body: str) -> dict[str, Any]:
    return {"id": label, "header": LABELS[label][1], "localizedHeader": localized(label), "body": body}


def _link(label: str, uri: str) -> dict[str, Any]:
    return {
        "id": label,
        "uri": uri,
        "description": LABELS[label][1],
        "localizedDescription": localized(label),
    }


def _rsa_key(account: ServiceAccount) -> jwk.RSAKey:
    try:
        key = jwk.RSAKey.import_key(account.private_key)
    except (ValueError, TypeError, JoseError):
        raise GoogleWalletError("the service account's private_key is not an RSA private key") from None
    if not key.is_private:
        raise GoogleWalletError("the service account's private_key is a public key")
    return key
