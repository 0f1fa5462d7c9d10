"""Apple Wallet: a member's card as a signed store card pass, the PassKit web service's decisions,
and the push that tells a device its pass changed.

Public surface: MemberCard (with PassColors, Rgb) → build_pkpass(card, signer) → .pkpass bytes;
load_signer / load_signer_pkcs12 → PassSigner; `web_service` (authorization, registration bodies,
update tags, updatable passes, Last-Modified / If-Modified-Since, log bodies); PassPushSender with
ApnsPushSender (HTTP/2, the pass type certificate as client certificate) and RecordingPushSender
(tests); the errors PassError, PassContentError, PassSigningError, WebServiceRequestError and
DeviceTokenGoneError. No routes and no tables here: those live in hub/.
"""

from __future__ import annotations

from connectors.applewallet import web_service
from connectors.applewallet.errors import (
    DeviceTokenGoneError,
    PassContentError,
    PassError,
    PassSigningError,
    WebServiceRequestError,
)
from connectors.applewallet.pass_builder import build_pkpass, pass_files
from connectors.applewallet.pass_json import MemberCard, PassColors, Rgb, pass_json
from connectors.applewallet.push import ApnsPushSender, PassPush, PassPushSender, RecordingPushSender
from connectors.applewallet.signing import PassSigner, load_signer, load_signer_pkcs12

__all__ = [
    "ApnsPushSender",
    "DeviceTokenGoneError",
    "MemberCard",
    "PassColors",
    "PassContentError",
    "PassError",
    "PassPush",
    "PassPushSender",
    "PassSigner",
    "PassSigningError",
    "RecordingPushSender",
    "Rgb",
    "WebServiceRequestError",
    "build_pkpass",
    "load_signer",
    "load_signer_pkcs12",
    "pass_files",
    "pass_json",
    "web_service",
]
