"""Waking a device so Wallet fetches the changed pass: the PassPushSender seam and its APNs sender.

Sources read (stored copies): the Wallet Developer Guide ("Updating a Pass") and answers built on it:
a pass push goes to the production APNs with the pass type certificate itself as the TLS client
certificate (not an app's push certificate), to the pushToken the device registered, with the pass
type identifier as the topic, and carries nothing: alert, badge and sound are ignored, Wallet only
asks the web service what changed (django-walletpass sends {"aps": {}}, vapor-community/PassKit an
APNSBackgroundNotification with an empty payload). Apple's "Sending notification requests to APNs":
HTTP/2 and TLS 1.2+ to api.push.apple.com:443, `POST /3/device/<token>`, headers `apns-topic`,
`apns-push-type` (`background` for a push that shows nothing, which must go at `apns-priority` 5),
and "Handling notification responses from APNs": 200 with an `apns-id` header; otherwise a JSON body
`{"reason": ...}` and, for 410, the `timestamp` (ms) since which the token is invalid; 400
BadDeviceToken / 410 Unregistered (drop the token), 403 certificate errors, 429 too many requests,
500 and 503 (try later).

HTTP/2 is the only protocol APNs speaks and aiohttp has no HTTP/2 client, so this sender uses httpx
with its h2 extra (`httpx[http2]`). Pushes are idempotent wake-ups: a failure before an answer is
transient, never "outcome unknown". Nothing here fakes a send: a sender either had a 200 from APNs
or raises from the connectors.errors tree.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import tempfile
from collections.abc import Iterator
from typing import Protocol

import httpx
import msgspec
from cryptography.hazmat.primitives import serialization

from connectors.applewallet.errors import DeviceTokenGoneError
from connectors.applewallet.signing import PassSigner
from connectors.errors import DeliveryError, PermanentError, TransientError
from connectors.transport import error_for_status

APNS_PRODUCTION_URL = "https://api.push.apple.com"
PUSH_TYPE = "background"
PUSH_PRIORITY = "5"  # background pushes must not use 10
PUSH_PAYLOAD = b'{"aps":{}}'
DEFAULT_TIMEOUT = 10.0
TOKEN_GONE_REASONS = frozenset({"BadDeviceToken", "Unregistered"})

_PUSH_TOKEN = re.compile(r"^[0-9A-Fa-f]{8,256}$")
_TOPIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")


class PassPush(msgspec.Struct, frozen=True):
    """One wake-up: this device token, for passes of this type."""

    push_token: str
    pass_type_identifier: str


class PassPushSender(Protocol):
    async def send(self, push: PassPush) -> str:
        """Deliver the push; the APNs id on success, a connectors.errors.DeliveryError otherwise."""
        ...


class ApnsError(msgspec.Struct, frozen=True):
    reason: str = ""
    timestamp: int | None = None


class ApnsPushSender:
    """Pushes over one HTTP/2 connection authenticated with a pass type certificate."""

    def __init__(self, client: httpx.AsyncClient, base_url: str = APNS_PRODUCTION_URL) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    @classmethod
    def connect(
        cls,
        *,
        certificate_pem: bytes,
        private_key_pem: bytes,
        password: bytes | None = None,
        base_url: str = APNS_PRODUCTION_URL,
        trusted_ca_pem: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ApnsPushSender:
        """A sender with its own client; `trusted_ca_pem` replaces the system roots (tests only)."""
        context = client_tls_context(certificate_pem, private_key_pem, password, trusted_ca_pem)
        client = httpx.AsyncClient(http1=False, http2=True, verify=context, timeout=timeout, trust_env=False)
        return cls(client, base_url)

    @classmethod
    def for_signer(
        cls,
        signer: PassSigner,
        *,
        base_url: str = APNS_PRODUCTION_URL,
        trusted_ca_pem: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ApnsPushSender:
        """A sender that authenticates with the same certificate and key that sign the passes."""
        key_pem = signer.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls.connect(
            certificate_pem=signer.certificate.public_bytes(serialization.Encoding.PEM),
            private_key_pem=key_pem,
            base_url=base_url,
            trusted_ca_pem=trusted_ca_pem,
            timeout=timeout,
        )

    async def send(self, push: PassPush) -> str:
        url = f"{self._base_url}/3/device/{checked_token(push.push_token)}"
        try:
            response = await self._client.post(url, content=PUSH_PAYLOAD, headers=push_headers(push))
        except httpx.TimeoutException:
            raise TransientError("APNs did not answer in time") from None
        except httpx.TransportError as exc:
            raise TransientError(f"APNs unreachable: {type(exc).__name__}") from None
        error = push_error(response.status_code, response.content)
        if error is not None:
            raise error
        return str(response.headers.get("apns-id", ""))

    async def aclose(self) -> None:
        await self._client.aclose()


class RecordingPushSender:
    """The test sender: keeps every push it is given, or raises the error a test set for a token."""

    def __init__(self) -> None:
        self.pushes: list[PassPush] = []
        self._failures: dict[str, DeliveryError] = {}

    def fail_for(self, push_token: str, error: DeliveryError) -> None:
        self._failures[push_token] = error

    async def send(self, push: PassPush) -> str:
        failure = self._failures.get(push.push_token)
        if failure is not None:
            raise failure
        self.pushes.append(push)
        return f"recorded-{len(self.pushes)}"


def push_headers(push: PassPush) -> dict[str, str]:
    """The APNs request headers of a pass update push."""
    if not _TOPIC.match(push.pass_type_identifier):
        raise PermanentError("the pass type identifier cannot be an APNs topic")
    return {
        "apns-topic": push.pass_type_identifier,
        "apns-push-type": PUSH_TYPE,
        "apns-priority": PUSH_PRIORITY,
        "content-type": "application/json",
    }


def checked_token(push_token: str) -> str:
    """A push token fit for the URL path; anything else is as dead as APNs' BadDeviceToken."""
    if not _PUSH_TOKEN.match(push_token):
        raise DeviceTokenGoneError(
            "the push token is not hex", status_code=None, reason="BadDeviceToken", gone_at_ms=None
        )
    return push_token


def push_error(status: int, body: bytes) -> DeliveryError | None:
    """None for 200; otherwise what APNs' answer means for this token and for retrying."""
    if status == 200:
        return None
    answer = _apns_error(body)
    message = f"APNs {status} {answer.reason}".strip()
    if status == 410 or (status == 400 and answer.reason in TOKEN_GONE_REASONS):
        return DeviceTokenGoneError(
            message, status_code=status, reason=answer.reason, gone_at_ms=answer.timestamp
        )
    error = error_for_status(status, answer.reason, None)
    return error if error is not None else PermanentError(message, status_code=status)


def client_tls_context(
    certificate_pem: bytes, private_key_pem: bytes, password: bytes | None, trusted_ca_pem: bytes | None
) -> ssl.SSLContext:
    """TLS 1.2+ with the pass type certificate as the client certificate."""
    if trusted_ca_pem is None:
        context = ssl.create_default_context()
    else:
        context = ssl.create_default_context(cadata=trusted_ca_pem.decode("ascii"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with _pem_files(certificate_pem, private_key_pem) as (cert_path, key_path):
        context.load_cert_chain(cert_path, key_path, password)
    return context


@contextlib.contextmanager
def _pem_files(certificate_pem: bytes, private_key_pem: bytes) -> Iterator[tuple[str, str]]:
    """The PEMs as files for the moment ssl reads them (it reads only paths), owner-only, then gone."""
    with tempfile.TemporaryDirectory(prefix="apns-") as directory:
        paths = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        for path, data in zip(paths, (certificate_pem, private_key_pem), strict=True):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
        yield paths


def _apns_error(body: bytes) -> ApnsError:
    try:
        return msgspec.json.decode(body, type=ApnsError) if body else ApnsError()
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ApnsError()
