"""A certificate chain shaped like Apple's, made in the test: root CA → "WWDR" intermediate → pass
type certificate (subject UID and CN name the pass type identifier, OU the team), plus a TLS server
certificate for the APNs stand-in on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass(frozen=True)
class WalletChain:
    root: Issued
    wwdr: Issued
    leaf: Issued


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def issue(
    subject: x509.Name,
    issuer: Issued | None,
    *,
    is_ca: bool,
    key: rsa.RSAPrivateKey | None = None,
    serial: int = 1000,
    not_after: dt.datetime = NOT_AFTER,
    san_ip: str | None = None,
) -> Issued:
    """A certificate for subject, signed by issuer (self-signed when issuer is None)."""
    key = key or new_key()
    signer_key = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(_key_usage(is_ca), critical=True)
    )
    if san_ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not is_ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def wallet_chain(pass_type_identifier: str, team_identifier: str) -> WalletChain:
    root = issue(name((NameOID.COMMON_NAME, "Тестовый корневой центр")), None, is_ca=True, serial=1)
    wwdr = issue(
        name(
            (NameOID.COMMON_NAME, "Test Worldwide Developer Relations Certification Authority"),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, "G4"),
        ),
        root,
        is_ca=True,
        serial=2,
    )
    leaf = issue(pass_subject(pass_type_identifier, team_identifier), wwdr, is_ca=False, serial=3)
    return WalletChain(root, wwdr, leaf)


def pass_subject(pass_type_identifier: str, team_identifier: str, *, with_uid: bool = True) -> x509.Name:
    attributes = [
        (NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_identifier}"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
        (NameOID.ORGANIZATION_NAME, "Кофейня «Пушкинъ»"),
        (NameOID.COUNTRY_NAME, "RU"),
    ]
    if with_uid:
        attributes.insert(0, (NameOID.USER_ID, pass_type_identifier))
    return name(*attributes)


def _key_usage(is_ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not is_ca,
        content_commitment=False,
        key_encipherment=not is_ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )
