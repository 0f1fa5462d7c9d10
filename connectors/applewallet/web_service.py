"""The decisions of the PassKit web service, so the routes in hub/ stay thin (pure).

Sources read (stored copies of Apple's WalletPasses reference and "Adding a Web Service to Update
Passes"), all paths under the pass's webServiceURL:

    POST   /v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}
           Authorization: ApplePass <authenticationToken>, body PushToken {"pushToken"}
           → 201 Registration Successful | 200 Serial Number Already Registered | 401
    DELETE /v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}
           → 200 Device Unregistered | 401
    GET    /v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}
           ?passesUpdatedSince={previousLastUpdated}
           → 200 SerialNumbers {"serialNumbers": [...], "lastUpdated": tag} | 204 No Matching Passes
    GET    /v1/passes/{passTypeIdentifier}/{serialNumber}   Authorization: ApplePass <token>
           → 200 application/vnd.apple.pkpass | 401; Wallet sends If-Modified-Since with the
           Last-Modified it was given, and 304 says "unchanged" (a pass served again unchanged is
           logged by the device as an error)
    POST   /v1/log   body LogEntries {"logs": [...]} → 200

The authentication token authorises register, unregister and the latest pass; the device library
identifier is the shared secret of the list call (it only ever lists that device's passes). The
update tag is ours to define: we hand out the latest change as whole microseconds since the epoch,
and "updated since" means strictly later, so a device never gets the same serials twice for the
same change.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hmac
import re
from collections.abc import Iterable

import msgspec

from connectors.applewallet.errors import WebServiceRequestError

API_VERSION = "v1"
AUTH_SCHEME = "ApplePass"
PASS_CONTENT_TYPE = "application/vnd.apple.pkpass"  # noqa: S105  # a media type, not a secret
REGISTERED_STATUS, ALREADY_REGISTERED_STATUS, UNREGISTERED_STATUS = 201, 200, 200
NO_MATCHING_PASSES_STATUS, NOT_MODIFIED_STATUS, UNAUTHORIZED_STATUS = 204, 304, 401
MAX_PUSH_TOKEN_LENGTH = 256  # today's APNs tokens are 64 hex digits; room for longer ones
MAX_LOG_ENTRIES, MAX_LOG_ENTRY_LENGTH = 100, 2000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)

_PATH_IDENTIFIER = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class PushToken(msgspec.Struct, frozen=True, rename={"push_token": "pushToken"}):
    push_token: str


class SerialNumbers(
    msgspec.Struct, frozen=True, rename={"serial_numbers": "serialNumbers", "last_updated": "lastUpdated"}
):
    serial_numbers: list[str]
    last_updated: str


class LogEntries(msgspec.Struct, frozen=True):
    logs: list[str]


class PassVersion(msgspec.Struct, frozen=True):
    """One pass a device registered for, with the time it last changed."""

    serial_number: str
    updated_at: dt.datetime


def is_authorized(authorization: str | None, authentication_token: str) -> bool:
    """Whether `Authorization: ApplePass <token>` carries this pass's token (constant-time)."""
    if authorization is None:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme != AUTH_SCHEME:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), authentication_token.encode("utf-8"))


def check_path_identifier(name: str, value: str) -> str:
    """A device library identifier, pass type identifier or serial number from the path."""
    if not _PATH_IDENTIFIER.match(value):
        raise WebServiceRequestError(f"{name} is not an identifier this service gave out")
    return value


def registration_push_token(body: bytes) -> str:
    """The push token of a registration body `{"pushToken": "..."}`."""
    try:
        token = msgspec.json.decode(body, type=PushToken).push_token
    except msgspec.ValidationError:
        raise WebServiceRequestError('the body must be {"pushToken": "<token>"}') from None
    except msgspec.DecodeError:
        raise WebServiceRequestError("the body is not JSON") from None
    if not token or len(token) > MAX_PUSH_TOKEN_LENGTH or not (token.isascii() and token.isprintable()):
        raise WebServiceRequestError("pushToken must be 1-256 printable ASCII characters")
    return token


def registration_status(is_new: bool) -> int:
    """201 for a new registration, 200 when the device already had this pass."""
    return REGISTERED_STATUS if is_new else ALREADY_REGISTERED_STATUS


def update_tag(at: dt.datetime) -> str:
    """The `lastUpdated` tag for a change at `at`: whole microseconds since the epoch."""
    if at.tzinfo is None:
        raise ValueError("update tags are made from aware datetimes")
    return str((at - EPOCH) // MICROSECOND)


def parse_update_tag(tag: str | None) -> dt.datetime | None:
    """`passesUpdatedSince` back into the time it names; None (or empty) lists every pass."""
    if not tag:
        return None
    if not tag.isascii() or not tag.isdigit() or len(tag) > 20:
        raise WebServiceRequestError("passesUpdatedSince is not a tag this service gave out")
    return EPOCH + int(tag) * MICROSECOND


def updatable_passes(registered: Iterable[PassVersion], since: dt.datetime | None) -> SerialNumbers | None:
    """The serials changed after `since` and the tag for next time; None means answer 204."""
    changed = [version for version in registered if since is None or version.updated_at > since]
    if not changed:
        return None
    changed.sort(key=lambda version: (version.updated_at, version.serial_number))
    return SerialNumbers(
        serial_numbers=[version.serial_number for version in changed],
        last_updated=update_tag(changed[-1].updated_at),
    )


def serial_numbers_body(answer: SerialNumbers) -> bytes:
    return msgspec.json.encode(answer)


def last_modified(updated_at: dt.datetime) -> str:
    """The Last-Modified header of a pass: an HTTP-date (whole seconds, GMT)."""
    return email.utils.format_datetime(updated_at.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def is_modified_since(if_modified_since: str | None, updated_at: dt.datetime) -> bool:
    """Whether to send the pass (200) rather than 304; an unreadable header is ignored (RFC 9110)."""
    if not if_modified_since:
        return True
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return True
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return updated_at.astimezone(dt.UTC).replace(microsecond=0) > since


def pass_headers(updated_at: dt.datetime) -> dict[str, str]:
    """The headers of a 200 answer carrying a .pkpass."""
    return {"Content-Type": PASS_CONTENT_TYPE, "Last-Modified": last_modified(updated_at)}


def log_messages(body: bytes) -> list[str]:
    """The messages of a device's `{"logs": [...]}`, bounded in count and length."""
    try:
        logs = msgspec.json.decode(body, type=LogEntries).logs
    except msgspec.ValidationError:
        raise WebServiceRequestError('the body must be {"logs": ["<message>", ...]}') from None
    except msgspec.DecodeError:
        raise WebServiceRequestError("the body is not JSON") from None
    if len(logs) > MAX_LOG_ENTRIES:
        raise WebServiceRequestError(f"at most {MAX_LOG_ENTRIES} log messages at once")
    return [message[:MAX_LOG_ENTRY_LENGTH] for message in logs]
