"""A member's card as an Apple Wallet store card: pass.json and the ru/en pass.strings (pure).

Sources read (stored copies, via the search tools): Apple's WalletPasses reference for `Pass`
(top-level keys: formatVersion 1, passTypeIdentifier, serialNumber, teamIdentifier,
organizationName, description, logoText, backgroundColor/foregroundColor/labelColor as CSS
`rgb(r, g, b)`, `barcodes` with the deprecated single `barcode` beside it for iOS 8 and older,
webServiceURL + authenticationToken, "16 characters or longer", expirationDate as a W3C date,
sharingProhibited) and `PassFields` (storeCard: headerFields, primaryFields, secondaryFields,
auxiliaryFields, backFields; each field `{key, label, value}`, `changeMessage` with `%@`);
"Building a Pass" / the Wallet Developer Guide for localization: `<lang>.lproj/pass.strings`, where
Wallet looks a label up by the exact string pass.json carries. Compared with @walletpass/pass-js
(`getLprojBuffer`: UTF-16LE with a byte order mark, `\\"` and `\\n` escaped) and vapor-community/
PassKit's PassJSON; the facts carried over, the code is ours.

Labels in pass.json are the English text itself, so a device whose language is neither Russian nor
English (Wallet then picks an .lproj at random, Apple forums thread 757013) still reads words, not
keys. Names, program names and codes are data and are never translated.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from connectors.applewallet.errors import PassContentError

FORMAT_VERSION = 1
MIN_AUTH_TOKEN_LENGTH = 16  # Apple: "The token must be 16 characters or longer"
BARCODE_FORMAT = "PKBarcodeFormatQR"
BARCODE_ENCODING = "iso-8859-1"
LOCALES = ("ru", "en")

# The English label (the lookup key) → its Russian text. English maps to itself.
LABELS_RU: Mapping[str, str] = {
    "Balance": "Баланс",
    "Member": "Гость",
    "Tier": "Уровень",
    "Program": "Программа",
    "Card number": "Номер карты",
    "Venues": "Заведения",
    "Card page": "Страница карты",
    "Balance: %@": "Баланс: %@",
    "Tier: %@": "Уровень: %@",
}

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")
_SERIAL = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")  # it comes back in the web service's paths


class Rgb(msgspec.Struct, frozen=True):
    """A colour as Apple spells it: each channel 0-255."""

    red: int
    green: int
    blue: int

    def css(self) -> str:
        return f"rgb({self.red}, {self.green}, {self.blue})"


class PassColors(msgspec.Struct, frozen=True, kw_only=True):
    background: Rgb
    foreground: Rgb
    label: Rgb


class MemberCard(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a member's store card shows; the route fills it from the member and program."""

    pass_type_identifier: str
    team_identifier: str
    serial_number: str
    organization_name: str
    description: str
    logo_text: str | None = None
    colors: PassColors
    program_name: str
    member_name: str
    card_number: str
    tier_name: str | None = None
    balance: int | None = None  # bonus points, for venue programs; None leaves the field out
    barcode_message: str  # the card's static signed code (a pass cannot rotate its QR)
    venues: tuple[str, ...] = ()
    card_url: str | None = None
    web_service_url: str | None = None
    authentication_token: str | None = None
    expires_at: dt.datetime | None = None
    updated_at: dt.datetime  # the last change: the zip entries' time and the Last-Modified header


def pass_json(card: MemberCard) -> dict[str, Any]:
    """The pass.json dictionary of a store card (checked against Apple's rules first)."""
    check_card(card)
    document: dict[str, Any] = {
        "formatVersion": FORMAT_VERSION,
        "passTypeIdentifier": card.pass_type_identifier,
        "teamIdentifier": card.team_identifier,
        "serialNumber": card.serial_number,
        "organizationName": card.organization_name,
        "description": card.description,
        "backgroundColor": card.colors.background.css(),
        "foregroundColor": card.colors.foreground.css(),
        "labelColor": card.colors.label.css(),
        "sharingProhibited": True,  # a personal card: the Share button is hidden
        "storeCard": store_card_fields(card),
        **barcode_keys(card.barcode_message, card.card_number),
        **web_service_keys(card),
    }
    if card.logo_text:
        document["logoText"] = card.logo_text
    if card.expires_at is not None:
        document["expirationDate"] = w3c_date(card.expires_at)
    return document


def pass_json_bytes(card: MemberCard) -> bytes:
    """pass.json as UTF-8 JSON with keys in a fixed order (the same card gives the same bytes)."""
    return json.dumps(pass_json(card), ensure_ascii=False, indent=2).encode("utf-8")


def store_card_fields(card: MemberCard) -> dict[str, list[dict[str, Any]]]:
    """Front and back fields: balance (or the member) large, then member/tier, program, number."""
    member = _field("member", "Member", card.member_name)
    tier = _field("tier", "Tier", card.tier_name, change_message="Tier: %@") if card.tier_name else None
    if card.balance is not None:
        primary = [_field("balance", "Balance", card.balance, change_message="Balance: %@")]
        secondary = [member, *([tier] if tier else [])]
    else:
        primary, secondary = [member], [tier] if tier else []
    auxiliary = [
        _field("program", "Program", card.program_name),
        _field("card", "Card number", card.card_number),
    ]
    return {
        "primaryFields": primary,
        "secondaryFields": secondary,
        "auxiliaryFields": auxiliary,
        "backFields": back_fields(card),
    }


def back_fields(card: MemberCard) -> list[dict[str, Any]]:
    fields = [
        _field("back-program", "Program", card.program_name),
        _field("back-member", "Member", card.member_name),
        _field("back-card", "Card number", card.card_number),
    ]
    if card.venues:
        fields.append(_field("venues", "Venues", "\n".join(card.venues)))
    if card.card_url:
        fields.append(_field("card-page", "Card page", card.card_url))
    return fields


def barcode_keys(message: str, alt_text: str) -> dict[str, Any]:
    """`barcodes` (iOS 9+) and the deprecated `barcode` (older iOS) carrying the same QR."""
    barcode = {
        "format": BARCODE_FORMAT,
        "message": message,
        "messageEncoding": BARCODE_ENCODING,
        "altText": alt_text,
    }
    return {"barcodes": [barcode], "barcode": dict(barcode)}


def web_service_keys(card: MemberCard) -> dict[str, str]:
    if card.web_service_url is None or card.authentication_token is None:
        return {}
    return {"webServiceURL": card.web_service_url, "authenticationToken": card.authentication_token}


def pass_strings(locale: str) -> bytes:
    """`<locale>.lproj/pass.strings`: every label, UTF-16LE with a byte order mark."""
    if locale not in LOCALES:
        raise PassContentError(f"no pass.strings for the locale {locale!r}")
    entries = {key: (LABELS_RU[key] if locale == "ru" else key) for key in LABELS_RU}
    lines = [f'"{_escape(key)}" = "{_escape(text)}";' for key, text in entries.items()]
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-16-le")


def w3c_date(at: dt.datetime) -> str:
    """An aware datetime as the W3C date-time Apple wants (seconds, explicit offset)."""
    if at.tzinfo is None:
        raise PassContentError("expirationDate needs an aware datetime")
    return at.replace(microsecond=0).isoformat()


def check_card(card: MemberCard) -> None:
    """Refuse what Wallet would refuse, with a reason an admin can act on."""
    _check_identifier("passTypeIdentifier", card.pass_type_identifier)
    _check_identifier("teamIdentifier", card.team_identifier)
    if not _SERIAL.match(card.serial_number):
        raise PassContentError("serialNumber must be 1-128 letters, digits, '.', '_' or '-'")
    for name, value in (
        ("organizationName", card.organization_name),
        ("description", card.description),
        ("barcode message", card.barcode_message),
    ):
        if not value.strip():
            raise PassContentError(f"{name} is empty")
    _check_colors(card.colors)
    _check_barcode(card.barcode_message)
    _check_web_service(card.web_service_url, card.authentication_token)
    if card.updated_at.tzinfo is None:
        raise PassContentError("updated_at needs an aware datetime")


def _check_identifier(name: str, value: str) -> None:
    if not _IDENTIFIER.match(value):
        raise PassContentError(f"{name} must be letters, digits, dots and hyphens")


def _check_colors(colors: PassColors) -> None:
    for rgb in (colors.background, colors.foreground, colors.label):
        if not all(0 <= channel <= 255 for channel in (rgb.red, rgb.green, rgb.blue)):
            raise PassContentError("a colour channel is outside 0-255")


def _check_barcode(message: str) -> None:
    try:
        message.encode(BARCODE_ENCODING)
    except UnicodeEncodeError:
        raise PassContentError("the barcode message has characters ISO-8859-1 cannot carry") from None


def _check_web_service(url: str | None, token: str | None) -> None:
    if (url is None) != (token is None):
        raise PassContentError("webServiceURL and authenticationToken come together or not at all")
    if url is None or token is None:
        return
    if not url.startswith(("https://", "http://")):
        raise PassContentError("webServiceURL must be an https URL (http only while testing)")
    if len(token) < MIN_AUTH_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
        raise PassContentError("authenticationToken must be 16 or more printable ASCII characters")


def _field(key: str, label: str, value: str | int, *, change_message: str | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {"key": key, "label": label, "value": value}
    if change_message is not None:
        field["changeMessage"] = change_message
    return field


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
