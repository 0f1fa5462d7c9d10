"""Google Wallet: a member's loyalty class and object, and the Save link's JWT decoded, verified with
the service account's public key (and refused with another), its claims and id rules checked."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwk, jwt
from joserfc.errors import BadSignatureError

from connectors.googlewallet import (
    GoogleWalletError,
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

ISSUER = "3388000000022216751"
EMAIL = "wallet-issuer@coalition-hub.iam.gserviceaccount.com"
ISSUED_AT = dt.datetime(2026, 3, 14, 9, 26, 53, tzinfo=dt.UTC)
ORIGINS = ["https://hub.example.ru"]
PROGRAM = "Кофейня «Пушкинъ»"
GUEST = "Анна Петрова"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def account(rsa_key: rsa.RSAPrivateKey) -> ServiceAccount:
    """A service account key file as Google Cloud gives it out, read back."""
    return load_service_account(key_file(rsa_key))


def key_file(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, **changes: Any) -> bytes:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    document = {
        "type": "service_account",
        "project_id": "coalition-hub",
        "private_key_id": "5f1c0a7e9b",
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": "118000000000000000001",
        "token_uri": "https://oauth2.googleapis.com/token",
        **changes,
    }
    return json.dumps(document).encode()


def loyalty_card(**changes: Any) -> LoyaltyCard:
    card = LoyaltyCard(
        issuer_id=ISSUER,
        class_suffix="program-pushkin",
        object_suffix="card-7f3a9c",
        issuer_name="Коалиция «Вкусный город»",
        program_name=PROGRAM,
        program_logo_url="https://hub.example.ru/static/programs/pushkin.png",
        account_name=GUEST,
        account_id="7001 0042",
        barcode_value="HUB1.pushkin.7f3a9c.c2lnbmVk",
        points_balance=1250,
        tier_name="Золото",
        card_url="https://hub.example.ru/card/Zk3x",
        hex_background_color="#5C2618",
    )
    return msgspec.structs.replace(card, **changes)


def public_jwk(key: rsa.RSAPrivateKey) -> jwk.RSAKey:
    return jwk.RSAKey.import_key(key.public_key())


def test_the_save_link_carries_a_jwt_verified_by_the_public_key(
    account: ServiceAccount, rsa_key: rsa.RSAPrivateKey
) -> None:
    """The link is pay.google.com/gp/v/save/<jwt>; the JWT is RS256 with the key's id, verifies with
    the service account's public key and carries iss, aud, typ, iat, origins and the payload."""
    link = save_link(loyalty_card(), account, origins=ORIGINS, issued_at=ISSUED_AT)
    assert link.startswith("https://pay.google.com/gp/v/save/")
    token = jwt.decode(
        link.removeprefix("https://pay.google.com/gp/v/save/"), public_jwk(rsa_key), algorithms=["RS256"]
    )
    assert token.header == {"alg": "RS256", "typ": "JWT", "kid": "5f1c0a7e9b"}
    claims = token.claims
    assert (claims["iss"], claims["aud"], claims["typ"]) == (EMAIL, "google", "savetowallet")
    assert claims["iat"] == 1773480413
    assert claims["origins"] == ORIGINS
    assert claims["payload"]["loyaltyObjects"] == [loyalty_object(loyalty_card())]
    assert claims["payload"]["loyaltyClasses"] == [loyalty_class(loyalty_card())]


def test_another_key_or_a_changed_payload_fails_verification(account: ServiceAccount) -> None:
    """The check is real: another RSA key, or one byte of the payload changed, is refused."""
    token = save_jwt(loyalty_card(), account, origins=ORIGINS, issued_at=ISSUED_AT)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(BadSignatureError):
        jwt.decode(token, public_jwk(stranger), algorithms=["RS256"])
    header, payload, signature = token.split(".")
    forged = ".".join((header, payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1], signature))
    with pytest.raises(BadSignatureError):
        jwt.decode(forged, jwk.RSAKey.import_key(account.private_key), algorithms=["RS256"])


def test_the_loyalty_object_shows_the_member(account: ServiceAccount) -> None:
    """The object is ACTIVE, of the program's class, with the guest's Cyrillic name, the card number,
    the balance as int points with ru/en labels, the tier, the card page and the static QR."""
    document = loyalty_object(loyalty_card())
    assert document["id"] == f"{ISSUER}.card-7f3a9c"
    assert document["classId"] == f"{ISSUER}.program-pushkin"
    assert document["state"] == "ACTIVE"
    assert (document["accountName"], document["accountId"]) == (GUEST, "7001 0042")
    assert document["barcode"] == {
        "type": "QR_CODE",
        "value": "HUB1.pushkin.7f3a9c.c2lnbmVk",
        "alternateText": "7001 0042",
    }
    points = document["loyaltyPoints"]
    assert points["balance"] == {"int": 1250}
    assert points["localizedLabel"] == {
        "defaultValue": {"language": "ru", "value": "Баллы"},
        "translatedValues": [{"language": "en", "value": "Points"}],
    }
    assert document["textModulesData"][0]["body"] == "Золото"
    assert document["linksModuleData"]["uris"][0]["uri"] == "https://hub.example.ru/card/Zk3x"


def test_the_loyalty_class_is_the_program(account: ServiceAccount) -> None:
    """The class carries Google's required fields (id, issuerName, programName, programLogo,
    reviewStatus) with the Cyrillic names intact and localized labels."""
    document = loyalty_class(loyalty_card())
    assert document["id"] == f"{ISSUER}.program-pushkin"
    assert document["programName"] == PROGRAM
    assert document["issuerName"] == "Коалиция «Вкусный город»"
    assert document["programLogo"]["sourceUri"] == {
        "uri": "https://hub.example.ru/static/programs/pushkin.png"
    }
    assert document["reviewStatus"] == "UNDER_REVIEW"
    assert document["localizedAccountNameLabel"]["defaultValue"] == {"language": "ru", "value": "Гость"}
    assert document["hexBackgroundColor"] == "#5C2618"


def test_a_coalition_card_without_points_and_a_link_without_the_class(
    account: ServiceAccount, rsa_key: rsa.RSAPrivateKey
) -> None:
    """No balance leaves loyaltyPoints out; with_class=False carries the object alone (the class
    inserted beforehand through the REST API)."""
    card = loyalty_card(points_balance=None, tier_name=None, card_url=None)
    document = loyalty_object(card)
    assert not {"loyaltyPoints", "textModulesData", "linksModuleData"} & set(document)
    token = save_jwt(card, account, origins=[], issued_at=ISSUED_AT, with_class=False)
    claims = jwt.decode(token, public_jwk(rsa_key), algorithms=["RS256"]).claims
    assert set(claims["payload"]) == {"loyaltyObjects"}


@pytest.mark.parametrize(
    ("issuer", "suffix", "is_ok"),
    [
        (ISSUER, "card-7f3a9c", True),
        (ISSUER, "Card_7F.3a-9c", True),
        (ISSUER, "карта-Анны", False),
        (ISSUER, "card 7f3a", False),
        (ISSUER, "card/7f3a", False),
        (ISSUER, "", False),
        ("issuer-1", "card", False),
        ("", "card", False),
    ],
)
def test_ids_keep_googles_characters(issuer: str, suffix: str, is_ok: bool) -> None:
    """An id is `issuerId.suffix`: a numeric issuer and a suffix of letters, digits, '.', '_', '-'."""
    if is_ok:
        assert wallet_id(issuer, suffix) == f"{issuer}.{suffix}"
    else:
        with pytest.raises(GoogleWalletError):
            wallet_id(issuer, suffix)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("card-7f3a9c", "card-7f3a9c"), ("Анна Петрова", "____________"), ("a/b c", "a_b_c"), ("", "_")],
)
def test_safe_suffix_makes_any_text_an_allowed_suffix(raw: str, expected: str) -> None:
    """safe_suffix replaces each character Google does not allow with '_' (the official samples' rule)."""
    assert safe_suffix(raw) == expected
    assert wallet_id(ISSUER, safe_suffix(raw))


def test_an_object_with_a_cyrillic_suffix_is_refused(account: ServiceAccount) -> None:
    """A card whose object suffix breaks the rule is refused before anything is signed."""
    with pytest.raises(GoogleWalletError, match="id suffix"):
        save_link(loyalty_card(object_suffix="карта"), account, origins=ORIGINS, issued_at=ISSUED_AT)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"program_logo_url": "http://hub.example.ru/logo.png"}, "https URL"),
        ({"hex_background_color": "rgb(92, 38, 24)"}, "#RRGGBB"),
        ({"barcode_value": " "}, "barcode value"),
    ],
)
def test_cards_google_would_refuse_are_refused(
    account: ServiceAccount, changes: dict[str, Any], reason: str
) -> None:
    """A logo that is not https, a colour not #RRGGBB or an empty code is refused with its reason."""
    with pytest.raises(GoogleWalletError, match=reason):
        save_link(loyalty_card(**changes), account, origins=ORIGINS, issued_at=ISSUED_AT)


def test_key_files_that_cannot_sign_are_refused(rsa_key: rsa.RSAPrivateKey) -> None:
    """Not JSON, no client_email, an EC key or a public key: each is refused and names no secret."""
    ec_key = ec.generate_private_key(ec.SECP256R1())
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    cases = [
        b"client_email=x",
        json.dumps({"private_key": "-----BEGIN PRIVATE KEY-----"}).encode(),
        key_file(ec_key),
        key_file(rsa_key, private_key=public_pem.decode()),
    ]
    for case in cases:
        with pytest.raises(GoogleWalletError) as refused:
            load_service_account(case)
        assert "BEGIN" not in refused.value.reason
