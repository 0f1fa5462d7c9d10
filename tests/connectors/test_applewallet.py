"""Apple Wallet: a store card built with a certificate chain made here, unzipped, every digest and
the signature checked (OpenSSL and cryptography); the web service's decisions; pushes through a real
HTTP/2 TLS server (Hypercorn) standing in for APNs."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import socket
import struct
import subprocess
import zipfile
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from connectors.applewallet import (
    ApnsPushSender,
    DeviceTokenGoneError,
    MemberCard,
    PassColors,
    PassContentError,
    PassPush,
    PassSigningError,
    RecordingPushSender,
    Rgb,
    WebServiceRequestError,
    build_pkpass,
    load_signer,
    load_signer_pkcs12,
    web_service,
)
from connectors.applewallet.images import PNG_SIGNATURE, disc_png
from connectors.applewallet.signing import PassSigner, pass_type_identifier_of
from connectors.errors import PermanentError, RateLimitError, TransientError
from tests.connectors.apns_server import ApnsServer
from tests.connectors.wallet_chain import WalletChain, issue, name, pass_subject, wallet_chain

PASS_TYPE = "pass.ru.coalition.pushkin"
TEAM = "TEAM7PUSHK"
PROGRAM = "Кофейня «Пушкинъ»"
GUEST = "Анна Петрова"
UPDATED_AT = dt.datetime(2026, 3, 14, 9, 26, 53, 589793, tzinfo=dt.UTC)
TOKEN = "Tk9vW2hP-pushkin-0123456789"
PUSH_TOKEN = "a1b2c3d4" * 8
VENUES = ("Пушкинъ на Тверской", "Пушкинъ на Арбате")
EXPECTED_FILES = {
    "pass.json",
    "manifest.json",
    "signature",
    "ru.lproj/pass.strings",
    "en.lproj/pass.strings",
    *(f"{base}{suffix}.png" for base in ("icon", "logo") for suffix in ("", "@2x", "@3x")),
}
# DER of the OIDs the signer check looks for
OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")
OID_SIGNING_TIME = bytes.fromhex("06092a864886f70d010905")
OID_SHA256 = bytes.fromhex("0609608648016503040201")


@pytest.fixture(scope="module")
def chain() -> WalletChain:
    return wallet_chain(PASS_TYPE, TEAM)


@pytest.fixture(scope="module")
def signer(chain: WalletChain) -> PassSigner:
    return load_signer(chain.leaf.cert_pem(), chain.leaf.key_pem(), chain.wwdr.cert_pem())


def member_card(**changes: Any) -> MemberCard:
    card = MemberCard(
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        serial_number="card-7f3a9c",
        organization_name=PROGRAM,
        description="Карта гостя «Пушкинъ»",
        logo_text=PROGRAM,
        colors=PassColors(
            background=Rgb(92, 38, 24), foreground=Rgb(255, 244, 230), label=Rgb(230, 190, 140)
        ),
        program_name=PROGRAM,
        member_name=GUEST,
        card_number="7001 0042",
        tier_name="Золото",
        balance=1250,
        barcode_message="HUB1.pushkin.7f3a9c.c2lnbmVk",
        venues=VENUES,
        card_url="https://hub.example.ru/card/Zk3x",
        web_service_url="https://hub.example.ru/wallet/apple",
        authentication_token=TOKEN,
        expires_at=dt.datetime(2027, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
        updated_at=UPDATED_AT,
    )
    return msgspec.structs.replace(card, **changes)


def unzip(pkpass: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        return {entry.filename: archive.read(entry) for entry in archive.infolist()}


def openssl_verify(
    directory: Path, manifest: bytes, signature: bytes, ca_pem: bytes
) -> subprocess.CompletedProcess[str]:
    (directory / "manifest.json").write_bytes(manifest)
    (directory / "signature").write_bytes(signature)
    (directory / "root.pem").write_bytes(ca_pem)
    command = [
        "openssl", "smime", "-verify", "-binary", "-inform", "DER", "-content", "manifest.json",
        "-in", "signature", "-CAfile", "root.pem", "-purpose", "any", "-out", "/dev/null",
    ]  # fmt: skip
    return subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)  # noqa: S603


# ---- the .pkpass --------------------------------------------------------------------------------


def test_pkpass_holds_every_file_and_the_manifest_digests_each_one(signer: PassSigner) -> None:
    """The archive holds pass.json, icons, logos, ru/en strings, manifest and signature, in sorted
    order, and manifest.json carries the SHA-1 of every other file and nothing else."""
    with zipfile.ZipFile(io.BytesIO(build_pkpass(member_card(), signer))) as archive:
        names = [entry.filename for entry in archive.infolist()]
        files = {name: archive.read(name) for name in names}
        stamps = {entry.date_time for entry in archive.infolist()}
    assert set(names) == EXPECTED_FILES
    assert names == sorted(names)
    assert stamps == {(2026, 3, 14, 9, 26, 52)}  # updated_at; a ZIP time has 2-second steps
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == EXPECTED_FILES - {"manifest.json", "signature"}
    for file_name, digest in manifest.items():
        assert digest == hashlib.sha1(files[file_name]).hexdigest(), file_name  # noqa: S324


def test_signature_verifies_with_openssl_against_the_root(
    signer: PassSigner, chain: WalletChain, tmp_path: Path
) -> None:
    """`openssl smime -verify` accepts the detached signature of manifest.json, building the chain
    to the root through the WWDR intermediate carried inside the signature."""
    files = unzip(build_pkpass(member_card(), signer))
    result = openssl_verify(tmp_path, files["manifest.json"], files["signature"], chain.root.cert_pem())
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


def test_openssl_refuses_a_changed_manifest_and_a_foreign_root(
    signer: PassSigner, chain: WalletChain, tmp_path: Path
) -> None:
    """The OpenSSL check is not vacuous: one changed byte of the manifest, or a root that did not
    issue the chain, fails verification."""
    files = unzip(build_pkpass(member_card(), signer))
    changed = files["manifest.json"].replace(b'"pass.json"', b'"pass.jsoN"')
    assert openssl_verify(tmp_path, changed, files["signature"], chain.root.cert_pem()).returncode != 0
    foreign_root = wallet_chain(PASS_TYPE, TEAM).root.cert_pem()
    assert openssl_verify(tmp_path, files["manifest.json"], files["signature"], foreign_root).returncode != 0


def test_signature_is_by_the_leaf_with_the_wwdr_intermediate_included(
    signer: PassSigner, chain: WalletChain
) -> None:
    """Read with cryptography: the signature carries the leaf and the WWDR intermediate (not the
    root); its one SignerInfo names the leaf, digests the manifest with SHA-256, has a signing-time,
    and its RSA signature over the signed attributes verifies with the leaf's public key."""
    files = unzip(build_pkpass(member_card(), signer))
    carried = pkcs7.load_der_pkcs7_certificates(files["signature"])
    assert set(carried) == {chain.leaf.certificate, chain.wwdr.certificate}
    signer_info = SignerInfo.parse(files["signature"])
    assert signer_info.issuer_der == chain.leaf.certificate.issuer.public_bytes()
    assert signer_info.serial == chain.leaf.certificate.serial_number
    assert signer_info.digest_algorithm == OID_SHA256
    assert signer_info.attributes[OID_MESSAGE_DIGEST] == hashlib.sha256(files["manifest.json"]).digest()
    assert OID_SIGNING_TIME in signer_info.attributes
    leaf_key = chain.leaf.certificate.public_key()
    assert isinstance(leaf_key, rsa.RSAPublicKey)
    leaf_key.verify(
        signer_info.signature, signer_info.signed_attributes_der, padding.PKCS1v15(), hashes.SHA256()
    )


def test_pass_json_has_apples_keys_with_their_types(signer: PassSigner) -> None:
    """pass.json carries the required top-level keys with Apple's types, the store card's field
    groups, the QR in `barcodes` and legacy `barcode`, and the web service pair."""
    document = json.loads(unzip(build_pkpass(member_card(), signer))["pass.json"])
    expected_types = {
        "formatVersion": int, "passTypeIdentifier": str, "teamIdentifier": str, "serialNumber": str,
        "organizationName": str, "description": str, "logoText": str, "backgroundColor": str,
        "foregroundColor": str, "labelColor": str, "storeCard": dict, "barcodes": list, "barcode": dict,
        "webServiceURL": str, "authenticationToken": str, "expirationDate": str, "sharingProhibited": bool,
    }  # fmt: skip
    assert {key: type(document[key]) for key in expected_types} == expected_types
    assert document["formatVersion"] == 1
    assert document["passTypeIdentifier"] == PASS_TYPE
    assert document["teamIdentifier"] == TEAM
    assert document["backgroundColor"] == "rgb(92, 38, 24)"
    assert document["expirationDate"] == "2027-12-31T23:59:59+00:00"
    qr = {"format": "PKBarcodeFormatQR", "message": "HUB1.pushkin.7f3a9c.c2lnbmVk",
          "messageEncoding": "iso-8859-1", "altText": "7001 0042"}  # fmt: skip
    assert document["barcodes"] == [qr]
    assert document["barcode"] == qr
    assert document["authenticationToken"] == TOKEN
    assert len(TOKEN) >= 16
    store_card = document["storeCard"]
    assert [f["key"] for f in store_card["primaryFields"]] == ["balance"]
    assert store_card["primaryFields"][0]["value"] == 1250
    assert store_card["primaryFields"][0]["changeMessage"] == "Balance: %@"
    assert [f["key"] for f in store_card["secondaryFields"]] == ["member", "tier"]
    assert [f["key"] for f in store_card["auxiliaryFields"]] == ["program", "card"]
    assert {f["key"] for f in store_card["backFields"]} >= {"venues", "card-page"}


def test_a_program_without_balance_shows_the_guest_first(signer: PassSigner) -> None:
    """With no balance (a coalition program) the guest's name is the primary field and no balance
    field appears anywhere."""
    document = json.loads(unzip(build_pkpass(member_card(balance=None, tier_name=None), signer))["pass.json"])
    store_card = document["storeCard"]
    assert store_card["primaryFields"] == [{"key": "member", "label": "Member", "value": GUEST}]
    assert store_card["secondaryFields"] == []
    assert "balance" not in json.dumps(store_card)


def test_cyrillic_program_and_guest_names_survive(signer: PassSigner) -> None:
    """Cyrillic and guillemets come back unchanged from pass.json (UTF-8) and the Russian labels
    from ru.lproj/pass.strings (UTF-16 with a byte order mark)."""
    files = unzip(build_pkpass(member_card(), signer))
    document = json.loads(files["pass.json"].decode("utf-8"))
    assert document["organizationName"] == PROGRAM
    assert document["logoText"] == PROGRAM
    assert document["storeCard"]["secondaryFields"][0]["value"] == GUEST
    venues = {f["key"]: f["value"] for f in document["storeCard"]["backFields"]}["venues"]
    assert venues.split("\n") == list(VENUES)
    russian = files["ru.lproj/pass.strings"]
    assert russian.startswith(b"\xff\xfe")
    assert '"Balance" = "Баланс";' in russian.decode("utf-16")
    assert '"Balance" = "Balance";' in files["en.lproj/pass.strings"].decode("utf-16")


def test_the_same_card_gives_the_same_archive_but_for_the_signature(signer: PassSigner) -> None:
    """Two builds of one card list the same entries in the same order with the same bytes; only the
    signature (its signing-time) may differ."""
    first, second = unzip(build_pkpass(member_card(), signer)), unzip(build_pkpass(member_card(), signer))
    assert list(first) == list(second)
    assert {k: v for k, v in first.items() if k != "signature"} == {
        k: v for k, v in second.items() if k != "signature"
    }


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"authentication_token": "short-токен"}, "authenticationToken must be 16"),
        ({"authentication_token": "x" * 15}, "authenticationToken must be 16"),
        ({"authentication_token": None}, "come together"),
        ({"web_service_url": "ftp://hub.example.ru"}, "https URL"),
        ({"barcode_message": "HUB1.Пушкинъ"}, "ISO-8859-1"),
        (
            {"colors": PassColors(background=Rgb(256, 0, 0), foreground=Rgb(0, 0, 0), label=Rgb(0, 0, 0))},
            "0-255",
        ),
        ({"pass_type_identifier": "pass/ru/../x"}, "passTypeIdentifier"),
        ({"serial_number": "  "}, "serialNumber must be"),
        ({"serial_number": "карта/7f3a"}, "serialNumber must be"),
        ({"organization_name": " "}, "organizationName is empty"),
        ({"updated_at": dt.datetime(2026, 3, 14, 9, 26)}, "aware"),  # noqa: DTZ001  # the naive case on purpose
    ],
)
def test_cards_wallet_would_refuse_are_refused(
    signer: PassSigner, changes: dict[str, Any], reason: str
) -> None:
    """A card breaking one of Apple's rules is refused with a reason naming the rule; nothing is built."""
    with pytest.raises(PassContentError, match=reason):
        build_pkpass(member_card(**changes), signer)


# ---- the signer ---------------------------------------------------------------------------------


def test_a_certificate_for_another_pass_type_or_team_does_not_sign(
    chain: WalletChain, signer: PassSigner
) -> None:
    """The signer refuses a card whose pass type identifier or team differs from its certificate's."""
    with pytest.raises(PassSigningError, match="another pass type identifier"):
        build_pkpass(member_card(pass_type_identifier="pass.ru.coalition.other"), signer)
    with pytest.raises(PassSigningError, match="another team identifier"):
        build_pkpass(member_card(team_identifier="OTHERTEAM1"), signer)


def test_mismatched_or_unreadable_signing_material_is_refused(chain: WalletChain) -> None:
    """A key of another certificate, a leaf the intermediate did not issue, and text that is no PEM
    are each refused when the signer is loaded."""
    other = wallet_chain(PASS_TYPE, TEAM)
    with pytest.raises(PassSigningError, match="not the pass type certificate's key"):
        load_signer(chain.leaf.cert_pem(), other.leaf.key_pem(), chain.wwdr.cert_pem())
    with pytest.raises(PassSigningError, match="not issued by this WWDR"):
        load_signer(chain.leaf.cert_pem(), chain.leaf.key_pem(), other.wwdr.cert_pem())
    with pytest.raises(PassSigningError, match="not a PEM certificate"):
        load_signer("Сертификат".encode(), chain.leaf.key_pem(), chain.wwdr.cert_pem())
    with pytest.raises(PassSigningError, match="private key cannot be read"):
        load_signer(chain.leaf.cert_pem(), b"-----BEGIN PRIVATE KEY-----\nxx\n", chain.wwdr.cert_pem())


def test_the_pass_type_comes_from_the_uid_or_else_the_cn(chain: WalletChain) -> None:
    """Apple's certificates name the pass type in the UID; one without a UID is read from its
    'Pass Type ID:' CN, and one with neither is refused."""
    assert pass_type_identifier_of(chain.leaf.certificate) == PASS_TYPE
    without_uid = issue(pass_subject(PASS_TYPE, TEAM, with_uid=False), chain.wwdr, is_ca=False, serial=9)
    assert pass_type_identifier_of(without_uid.certificate) == PASS_TYPE
    anonymous = issue(name((NameOID.COMMON_NAME, "Просто сертификат")), chain.wwdr, is_ca=False, serial=10)
    with pytest.raises(PassSigningError, match="names no pass type identifier"):
        pass_type_identifier_of(anonymous.certificate)


def test_an_expired_certificate_is_refused(chain: WalletChain, signer: PassSigner) -> None:
    """check_valid_at accepts the certificates inside their validity and refuses them after it."""
    signer.check_valid_at(dt.datetime(2030, 6, 1, tzinfo=dt.UTC))
    with pytest.raises(PassSigningError, match="pass type certificate is not valid"):
        signer.check_valid_at(dt.datetime(2035, 1, 2, tzinfo=dt.UTC))


def test_a_p12_export_signs_like_the_pem_files(chain: WalletChain, tmp_path: Path) -> None:
    """The .p12 Keychain Access exports (password-protected) loads into a signer whose passes verify."""
    password = "пароль-Keychain".encode()
    bundle = pkcs12.serialize_key_and_certificates(
        b"pass", chain.leaf.key, chain.leaf.certificate, None, serialization.BestAvailableEncryption(password)
    )
    p12_signer = load_signer_pkcs12(
        bundle, chain.wwdr.certificate.public_bytes(serialization.Encoding.DER), password=password
    )
    files = unzip(build_pkpass(member_card(), p12_signer))
    assert (
        openssl_verify(tmp_path, files["manifest.json"], files["signature"], chain.root.cert_pem()).returncode
        == 0
    )
    with pytest.raises(PassSigningError, match="wrong password"):
        load_signer_pkcs12(bundle, chain.wwdr.cert_pem(), password=b"wrong")


# ---- the pictures -------------------------------------------------------------------------------


def test_drawn_pictures_are_valid_pngs_of_apples_sizes(signer: PassSigner) -> None:
    """Every drawn PNG has valid chunk CRCs, an RGBA IHDR of the Retina size its name asks for, and
    an IDAT that inflates to exactly its rows."""
    files = unzip(build_pkpass(member_card(), signer))
    sizes = {
        "icon.png": 29,
        "icon@2x.png": 58,
        "icon@3x.png": 87,
        "logo.png": 50,
        "logo@2x.png": 100,
        "logo@3x.png": 150,
    }
    for file_name, size in sizes.items():
        chunks = png_chunks(files[file_name])
        width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
        assert (width, height, depth, colour_type) == (size, size, 8, 6), file_name
        assert len(zlib.decompress(chunks[b"IDAT"])) == size * (1 + 4 * size)


def test_a_programs_own_png_replaces_the_drawn_one_and_other_files_are_refused(signer: PassSigner) -> None:
    """A given logo.png goes into the pass and the manifest as given; a non-PNG or an unknown name
    is refused."""
    own_logo = disc_png(40, Rgb(10, 20, 30), None)
    files = unzip(build_pkpass(member_card(), signer, images={"logo.png": own_logo}))
    assert files["logo.png"] == own_logo
    assert json.loads(files["manifest.json"])["logo.png"] == hashlib.sha1(own_logo).hexdigest()  # noqa: S324
    with pytest.raises(PassContentError, match="not a PNG"):
        build_pkpass(member_card(), signer, images={"icon.png": b"GIF89a"})
    for name_given in ("../pass.json", "thumbnail.png"):  # a store card has no thumbnail
        with pytest.raises(PassContentError, match="not an image"):
            build_pkpass(member_card(), signer, images={name_given: PNG_SIGNATURE})


# ---- the web service ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"ApplePass {TOKEN}", True),
        (f"ApplePass {TOKEN}x", False),
        (f"ApplePass {TOKEN[:-1]}", False),
        (f"Bearer {TOKEN}", False),
        (f"applepass {TOKEN}", False),
        ("ApplePass Пушкинъ", False),
        ("ApplePass", False),
        (None, False),
    ],
)
def test_only_the_passs_own_token_is_authorized(header: str | None, expected: bool) -> None:
    """`Authorization: ApplePass <token>` is accepted only with this pass's exact token."""
    assert web_service.is_authorized(header, TOKEN) is expected


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (b'{"pushToken": "' + PUSH_TOKEN.encode() + b'"}', PUSH_TOKEN),
        (b'{"pushToken": ""}', "1-256 printable"),
        ('{"pushToken": "токен"}'.encode(), "1-256 printable"),
        (b'{"pushToken": "' + b"a" * 257 + b'"}', "1-256 printable"),
        (b'{"push_token": "abc"}', "must be"),
        (b'{"pushToken": 42}', "must be"),
        (b"pushToken=abc", "not JSON"),
    ],
)
def test_registration_bodies(body: bytes, outcome: str) -> None:
    """A registration body gives its push token, or a WebServiceRequestError saying what is wrong."""
    if outcome == PUSH_TOKEN:
        assert web_service.registration_push_token(body) == PUSH_TOKEN
    else:
        with pytest.raises(WebServiceRequestError, match=outcome):
            web_service.registration_push_token(body)


def test_registration_answers_201_then_200() -> None:
    """A new registration is 201, the same device and pass again 200 (Apple's reference)."""
    assert (web_service.registration_status(True), web_service.registration_status(False)) == (201, 200)


def test_updatable_passes_since_a_tag() -> None:
    """With no tag every registered pass is listed; with the tag handed out, only passes changed
    strictly later; with nothing newer the answer is None (204)."""
    first = web_service.PassVersion("card-a", UPDATED_AT)
    second = web_service.PassVersion("card-b", UPDATED_AT + dt.timedelta(microseconds=1))
    everything = web_service.updatable_passes([second, first], None)
    assert everything == web_service.SerialNumbers(
        ["card-a", "card-b"], web_service.update_tag(second.updated_at)
    )
    since_first = web_service.parse_update_tag(web_service.update_tag(first.updated_at))
    assert since_first == first.updated_at
    later = web_service.updatable_passes([first, second], since_first)
    assert later is not None
    assert later.serial_numbers == ["card-b"]
    assert (
        web_service.updatable_passes([first, second], web_service.parse_update_tag(later.last_updated))
        is None
    )
    body = json.loads(web_service.serial_numbers_body(later))
    assert body == {"serialNumbers": ["card-b"], "lastUpdated": later.last_updated}


@pytest.mark.parametrize("tag", ["2026-03-14T09:26:53", "-1", "١٢٣", "9" * 21, "12 34"])
def test_tags_we_never_gave_out_are_refused(tag: str) -> None:
    """passesUpdatedSince must be one of our integer tags; anything else is a 400, not a guess."""
    with pytest.raises(WebServiceRequestError, match="passesUpdatedSince"):
        web_service.parse_update_tag(tag)


@pytest.mark.parametrize(
    ("if_modified_since", "is_modified"),
    [
        (None, True),
        ("", True),
        ("Sat, 14 Mar 2026 09:26:53 GMT", False),
        ("Sat, 14 Mar 2026 09:26:52 GMT", True),
        ("Sat, 14 Mar 2026 10:00:00 GMT", False),
        ("вчера", True),
    ],
)
def test_if_modified_since_against_last_modified(if_modified_since: str | None, is_modified: bool) -> None:
    """The latest pass is sent unless If-Modified-Since is at or after its Last-Modified (whole
    seconds); an unreadable header is ignored and the pass sent."""
    assert web_service.last_modified(UPDATED_AT) == "Sat, 14 Mar 2026 09:26:53 GMT"
    assert web_service.is_modified_since(if_modified_since, UPDATED_AT) is is_modified
    assert web_service.pass_headers(UPDATED_AT)["Content-Type"] == "application/vnd.apple.pkpass"


def test_device_logs_are_read_and_bounded() -> None:
    """`{"logs": [...]}` gives its messages, each cut to 2000 characters; more than 100 or another
    shape is refused."""
    messages = web_service.log_messages(json.dumps({"logs": ["Ошибка веб-сервиса", "я" * 3000]}).encode())
    assert messages[0] == "Ошибка веб-сервиса"
    assert len(messages[1]) == 2000
    with pytest.raises(WebServiceRequestError, match="at most 100"):
        web_service.log_messages(json.dumps({"logs": ["x"] * 101}).encode())
    with pytest.raises(WebServiceRequestError, match="must be"):
        web_service.log_messages(b'{"logs": "one"}')


@pytest.mark.parametrize(
    ("value", "is_ok"), [("3f9a0c", True), ("pass.ru.coalition.pushkin", True), ("a/b", False), ("", False)]
)
def test_path_identifiers(value: str, is_ok: bool) -> None:
    """Path identifiers are 1-128 letters, digits, '.', '_' or '-'."""
    if is_ok:
        assert web_service.check_path_identifier("serialNumber", value) == value
    else:
        with pytest.raises(WebServiceRequestError, match="serialNumber"):
            web_service.check_path_identifier("serialNumber", value)


# ---- pushes -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def apns(chain: WalletChain, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApnsServer]:
    """A real HTTP/2 server over TLS on loopback that requires a client certificate from our chain."""
    server_ca = issue(name((NameOID.COMMON_NAME, "Test APNs CA")), None, is_ca=True, serial=50)
    server_cert = issue(
        name((NameOID.COMMON_NAME, "127.0.0.1")), server_ca, is_ca=False, serial=51, san_ip="127.0.0.1"
    )
    server = ApnsServer(
        tmp_path_factory.mktemp("apns"),
        server_cert.cert_pem(),
        server_cert.key_pem(),
        chain.root.cert_pem() + chain.wwdr.cert_pem(),
        server_ca.cert_pem(),
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def sender(apns: ApnsServer, signer: PassSigner) -> AsyncIterator[ApnsPushSender]:
    apns.app.requests.clear()
    apns.app.answers.clear()
    pushes = ApnsPushSender.for_signer(
        signer, base_url=apns.url, trusted_ca_pem=apns.trusted_ca_pem, timeout=5
    )
    yield pushes
    await pushes.aclose()


async def test_a_push_goes_over_http2_with_the_pass_type_as_topic_and_an_empty_payload(
    sender: ApnsPushSender, apns: ApnsServer
) -> None:
    """The push is one HTTP/2 POST to /3/device/<token>, topic = pass type identifier, a background
    push at priority 5 with {"aps": {}}; APNs' apns-id comes back."""
    apns_id = await sender.send(PassPush(PUSH_TOKEN, PASS_TYPE))
    (request,) = apns.app.requests
    assert apns_id == "apns-1"
    assert (request.http_version, request.method, request.path) == ("2", "POST", f"/3/device/{PUSH_TOKEN}")
    assert request.headers["apns-topic"] == PASS_TYPE
    assert request.headers["apns-push-type"] == "background"
    assert request.headers["apns-priority"] == "5"
    assert json.loads(request.body) == {"aps": {}}


@pytest.mark.parametrize(
    ("status", "answer", "error", "is_gone"),
    [
        (410, {"reason": "Unregistered", "timestamp": 1773480413000}, DeviceTokenGoneError, True),
        (400, {"reason": "BadDeviceToken"}, DeviceTokenGoneError, True),
        (400, {"reason": "DeviceTokenNotForTopic"}, PermanentError, False),
        (403, {"reason": "BadCertificate"}, PermanentError, False),
        (429, {"reason": "TooManyRequests"}, RateLimitError, False),
        (500, {"reason": "InternalServerError"}, TransientError, False),
        (503, {"reason": "ServiceUnavailable"}, TransientError, False),
    ],
)
async def test_apns_refusals_become_typed_errors(
    sender: ApnsPushSender,
    apns: ApnsServer,
    status: int,
    answer: dict[str, Any],
    error: type[Exception],
    is_gone: bool,
) -> None:
    """Each APNs refusal is raised as its kind: a dead token (410, BadDeviceToken) says drop the
    device, other 4xx are permanent, 429 waits, 5xx are retried; none is reported as sent."""
    apns.app.answers[PUSH_TOKEN] = (status, answer)
    with pytest.raises(error) as raised:
        await sender.send(PassPush(PUSH_TOKEN, PASS_TYPE))
    assert isinstance(raised.value, DeviceTokenGoneError) is is_gone
    assert answer["reason"] in str(raised.value)
    if status == 410:
        assert isinstance(raised.value, DeviceTokenGoneError)
        assert raised.value.gone_at_ms == 1773480413000
    assert len(apns.app.requests) == 1


async def test_a_client_without_the_pass_certificate_is_turned_away(
    apns: ApnsServer, chain: WalletChain
) -> None:
    """The stand-in, like APNs, refuses a TLS client whose certificate is not from the pass chain:
    the push fails as transient and nothing reaches the server's handler."""
    apns.app.requests.clear()
    stranger = issue(
        pass_subject(PASS_TYPE, TEAM),
        issue(name((NameOID.COMMON_NAME, "Чужой")), None, is_ca=True),
        is_ca=False,
    )
    pushes = ApnsPushSender.connect(
        certificate_pem=stranger.cert_pem(),
        private_key_pem=stranger.key_pem(),
        base_url=apns.url,
        trusted_ca_pem=apns.trusted_ca_pem,
        timeout=5,
    )
    with pytest.raises(TransientError, match="APNs unreachable"):
        await pushes.send(PassPush(PUSH_TOKEN, PASS_TYPE))
    await pushes.aclose()
    assert apns.app.requests == []


async def test_an_unreachable_apns_is_transient(signer: PassSigner) -> None:
    """A refused connection is a TransientError (a push is a harmless wake-up, so it is retried)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pushes = ApnsPushSender.for_signer(signer, base_url=f"https://127.0.0.1:{port}", timeout=5)
    with pytest.raises(TransientError, match="unreachable"):
        await pushes.send(PassPush(PUSH_TOKEN, PASS_TYPE))
    await pushes.aclose()


async def test_a_token_that_is_not_hex_never_leaves_the_hub(sender: ApnsPushSender, apns: ApnsServer) -> None:
    """A push token that is not hex (it would land in the URL path) is dead on arrival: nothing is sent."""
    with pytest.raises(DeviceTokenGoneError, match="not hex"):
        await sender.send(PassPush("../../3/device/токен", PASS_TYPE))
    assert apns.app.requests == []


async def test_the_recording_sender_records_or_fails_as_told() -> None:
    """RecordingPushSender keeps each push it accepts and raises the error set for a token instead."""
    recorder = RecordingPushSender()
    assert await recorder.send(PassPush(PUSH_TOKEN, PASS_TYPE)) == "recorded-1"
    recorder.fail_for(
        "deadbeef",
        DeviceTokenGoneError("Unregistered", status_code=410, reason="Unregistered", gone_at_ms=None),
    )
    with pytest.raises(DeviceTokenGoneError):
        await recorder.send(PassPush("deadbeef", PASS_TYPE))
    assert recorder.pushes == [PassPush(PUSH_TOKEN, PASS_TYPE)]


# ---- helpers: read PNG chunks and the SignerInfo of a DER PKCS #7 ------------------------------


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    """A PNG's chunks by type, each CRC checked."""
    assert data.startswith(PNG_SIGNATURE)
    chunks, position = {}, len(PNG_SIGNATURE)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks[kind] = body
        position += 12 + length
    return chunks


def der_items(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, int, int, int]]:
    """The TLVs between start and end: (tag, header start, value start, value end)."""
    end = len(data) if end is None else end
    items = []
    while start < end:
        tag, length, offset = data[start], data[start + 1], start + 2
        if length & 0x80:
            count = length & 0x7F
            length, offset = int.from_bytes(data[offset : offset + count], "big"), offset + count
        items.append((tag, start, offset, offset + length))
        start = offset + length
    return items


class SignerInfo(msgspec.Struct):
    issuer_der: bytes
    serial: int
    digest_algorithm: bytes
    attributes: dict[bytes, bytes]  # attribute OID (DER) → first value's contents
    signed_attributes_der: bytes  # re-tagged as a SET, the bytes the signature covers (RFC 5652 5.4)
    signature: bytes

    @classmethod
    def parse(cls, der: bytes) -> SignerInfo:
        """The one SignerInfo of ContentInfo{signedData [0] SignedData{..., signerInfos SET}}."""
        ((_, _, content_info, _),) = der_items(der)
        explicit = der_items(der, content_info, len(der))[1]
        ((_, _, signed_data, signed_end),) = der_items(der, explicit[2], explicit[3])
        signer_infos = der_items(der, signed_data, signed_end)[-1]
        ((_, _, info, info_end),) = der_items(der, signer_infos[2], signer_infos[3])
        version, sid, digest, attrs, _, signature = der_items(der, info, info_end)
        issuer, serial = der_items(der, sid[2], sid[3])
        assert (version[0], attrs[0], signature[0]) == (0x02, 0xA0, 0x04)
        return cls(
            issuer_der=der[issuer[1] : issuer[3]],
            serial=int.from_bytes(der[serial[2] : serial[3]], "big"),
            digest_algorithm=der[
                der_items(der, digest[2], digest[3])[0][1] : der_items(der, digest[2], digest[3])[0][3]
            ],
            attributes=_attributes(der, attrs),
            signed_attributes_der=b"\x31" + der[attrs[1] + 1 : attrs[3]],
            signature=der[signature[2] : signature[3]],
        )


def _attributes(der: bytes, attrs: tuple[int, int, int, int]) -> dict[bytes, bytes]:
    found = {}
    for _, _, attribute, attribute_end in der_items(der, attrs[2], attrs[3]):
        oid, values = der_items(der, attribute, attribute_end)
        first = der_items(der, values[2], values[3])[0]
        found[der[oid[1] : oid[3]]] = der[first[2] : first[3]]
    return found


def test_the_der_reader_reads_what_it_claims(chain: WalletChain) -> None:
    """The test's own DER reader finds a certificate's serial where cryptography says it is."""
    certificate = x509.load_pem_x509_certificate(chain.leaf.cert_pem())
    ((_, _, body, end),) = der_items(certificate.public_bytes(serialization.Encoding.DER))
    tbs = der_items(certificate.public_bytes(serialization.Encoding.DER), body, end)[0]
    fields = der_items(certificate.public_bytes(serialization.Encoding.DER), tbs[2], tbs[3])
    serial = fields[1]
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert int.from_bytes(der[serial[2] : serial[3]], "big") == certificate.serial_number
