"""manifest.json and its detached PKCS #7 signature, made with `cryptography` (pure, no openssl).

Sources read (stored copies): Apple's Wallet Developer Guide and "Building a Pass": manifest.json is
a JSON dictionary of every file in the pass (paths relative to its top level) to the SHA-1 hex
digest of its bytes; "make a PKCS #7 detached signature of the manifest file, using the private key
associated with your signing certificate. Include the WWDR intermediate certificate as part of the
signature ... Include the date and time that the pass was signed using the S/MIME signing-time
attribute"; Apple's command for it is `openssl smime -binary -sign -certfile WWDR.pem -signer
pass.pem -inkey key.pem -in manifest.json -out signature -outform DER`.

The digest inside the signature: Apple names none. `openssl smime` signs with SHA-256 by default
since OpenSSL 1.1.0, so Apple's own command makes SHA-256 signatures today, and vapor-community/
PassKit signs with sha256WithRSAEncryption (swift-certificates CMS); older libraries
(passkit-generator on node-forge, passbook) use SHA-1, which Wallet still accepts. We sign with
SHA-256 (SIGNATURE_HASH). The manifest's own digests stay SHA-1: that is the file format.

`cryptography`'s PKCS7SignatureBuilder adds the signed attributes content-type, signing-time and
message-digest (and S/MIME capabilities), takes the signing time from the system clock (it has no
parameter for it), and with DetachedSignature leaves manifest.json out of the signature.

Apple's pass type certificates name the pass type identifier as the subject's UID and in the CN
("Pass Type ID: pass.com.example"), and the team identifier as the OU; the signer checks both
against the card, so a program's certificate can only sign its own passes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID

from connectors.applewallet.errors import PassSigningError

SIGNATURE_HASH = hashes.SHA256()
CN_PREFIX = "Pass Type ID: "

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class PassSigner:
    """A pass type certificate, its private key and the WWDR intermediate that issued it."""

    def __init__(
        self, certificate: x509.Certificate, private_key: SigningKey, wwdr: x509.Certificate
    ) -> None:
        _check_key_matches(certificate, private_key)
        _check_issued_by(certificate, wwdr)
        self.certificate = certificate
        self.private_key = private_key
        self.wwdr = wwdr
        self.pass_type_identifier = pass_type_identifier_of(certificate)
        self.team_identifier = _first_attribute(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME)

    def check_pass(self, pass_type_identifier: str, team_identifier: str) -> None:
        """Refuse to sign a pass whose identifiers this certificate does not carry."""
        if pass_type_identifier != self.pass_type_identifier:
            raise PassSigningError("the certificate is for another pass type identifier")
        if self.team_identifier is not None and team_identifier != self.team_identifier:
            raise PassSigningError("the certificate is for another team identifier")

    def check_valid_at(self, at: dt.datetime) -> None:
        """Refuse an expired (or not yet valid) certificate: Wallet would refuse its passes."""
        for cert, name in ((self.certificate, "pass type certificate"), (self.wwdr, "WWDR intermediate")):
            if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
                raise PassSigningError(f"the {name} is not valid at {at.isoformat()}")


def load_signer(
    certificate_pem: bytes, private_key_pem: bytes, wwdr_pem: bytes, *, password: bytes | None = None
) -> PassSigner:
    """A signer from PEM text (the WWDR intermediate may also be DER, as Apple serves it)."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise PassSigningError("the pass type certificate is not a PEM certificate") from None
    return PassSigner(certificate, _load_key(private_key_pem, password), _load_wwdr(wwdr_pem))


def load_signer_pkcs12(bundle: bytes, wwdr: bytes, *, password: bytes | None = None) -> PassSigner:
    """A signer from the .p12 that Keychain Access exports (certificate and key together)."""
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(bundle, password)
    except ValueError:
        raise PassSigningError("the .p12 cannot be read (wrong password or not PKCS #12)") from None
    if certificate is None or not isinstance(key, SigningKey):
        raise PassSigningError("the .p12 holds no RSA or EC key with its certificate")
    return PassSigner(certificate, key, _load_wwdr(wwdr))


def manifest_json(files: Mapping[str, bytes]) -> bytes:
    """manifest.json: every file's SHA-1, keys sorted so the same files give the same bytes."""
    digests = {name: hashlib.sha1(data).hexdigest() for name, data in sorted(files.items())}  # noqa: S324  # Apple's format
    return json.dumps(digests, indent=2).encode("ascii")


def sign_manifest(manifest: bytes, signer: PassSigner) -> bytes:
    """The `signature` file: DER PKCS #7 SignedData, detached, with the WWDR intermediate in it."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(signer.certificate, signer.private_key, SIGNATURE_HASH)
        .add_certificate(signer.wwdr)
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )


def pass_type_identifier_of(certificate: x509.Certificate) -> str:
    """The pass type identifier a certificate is for: its subject UID, else its CN."""
    uid = _first_attribute(certificate, NameOID.USER_ID)
    if uid:
        return uid
    common_name = _first_attribute(certificate, NameOID.COMMON_NAME) or ""
    if common_name.startswith(CN_PREFIX):
        return common_name.removeprefix(CN_PREFIX)
    raise PassSigningError("the certificate names no pass type identifier (no UID, no 'Pass Type ID:' CN)")


def _load_key(pem: bytes, password: bytes | None) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password)
    except (ValueError, TypeError):
        raise PassSigningError("the private key cannot be read (not PEM, or the password is wrong)") from None
    if not isinstance(key, SigningKey):
        raise PassSigningError("the private key is neither RSA nor EC")
    return key


def _load_wwdr(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise PassSigningError("the WWDR intermediate is not a certificate (PEM or DER)") from None


def _check_key_matches(certificate: x509.Certificate, key: SigningKey) -> None:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise PassSigningError("the private key is not the pass type certificate's key")


def _check_issued_by(certificate: x509.Certificate, wwdr: x509.Certificate) -> None:
    try:
        certificate.verify_directly_issued_by(wwdr)
    except (ValueError, TypeError, InvalidSignature):
        raise PassSigningError("the pass type certificate was not issued by this WWDR intermediate") from None


def _first_attribute(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = certificate.subject.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
