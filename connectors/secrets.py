"""A connector's secrets at rest: encrypted JSON bound to the connector row, never returned or logged."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from typing import Any

from connectors.base import ConnectorConfig
from connectors.models import Connector
from hub.crypto import Keyring

SECRET_FIELDS = frozenset({"client_secret", "refresh_token", "token", "api_login", "api_key", "password"})
SIGNING_PREFIX = "whsec_"


def auth_aad(connector_id: object) -> str:
    return f"connector.auth:{connector_id}"


def signing_aad(connector_id: object) -> str:
    return f"connector.signing:{connector_id}"


def split_auth(auth: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public fields, secret fields) of an auth object."""
    public = {k: v for k, v in auth.items() if k not in SECRET_FIELDS}
    secret = {k: v for k, v in auth.items() if k in SECRET_FIELDS}
    return public, secret


def new_signing_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return SIGNING_PREFIX + base64.b64encode(os.urandom(32)).decode()


def seal(keyring: Keyring, value: Any, aad: str) -> bytes:
    return keyring.encrypt_str(json.dumps(value), aad)


def unseal(keyring: Keyring, token: bytes | None, aad: str) -> Any:
    return None if token is None else json.loads(keyring.decrypt_str(token, aad))


def signing_entries(keyring: Keyring, connector: Connector) -> list[dict[str, Any]]:
    """[{"secret": "whsec_…", "until": ISO time or None}], newest first."""
    entries: list[dict[str, Any]] = (
        unseal(keyring, connector.signing_ciphertext, signing_aad(connector.id)) or []
    )
    return entries


def signing_secrets(keyring: Keyring, connector: Connector, now: dt.datetime) -> list[str]:
    """The secrets to sign with now: the newest, and the previous one until its rotation window ends."""
    return [
        e["secret"]
        for e in signing_entries(keyring, connector)
        if e.get("until") is None or dt.datetime.fromisoformat(e["until"]) > now
    ]


def config_of(keyring: Keyring, connector: Connector, now: dt.datetime) -> ConnectorConfig:
    """The connector as a destination sees it: secrets decrypted, in memory only."""
    secret = unseal(keyring, connector.auth_secret_ciphertext, auth_aad(connector.id)) or {}
    return ConnectorConfig(
        id=connector.id,
        name=connector.name,
        kind=connector.kind,
        url=connector.url,
        auth={**connector.auth_public, **secret},
        settings=dict(connector.settings),
        personal_data=connector.personal_data,
        signing_secrets=tuple(signing_secrets(keyring, connector, now)),
        owner_venue_id=connector.owner_venue_id,
    )
