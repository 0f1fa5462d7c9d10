"""Start-up helpers shared by the app and the CLI: the keyring (with the development fallback), logging."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from hub import logs
from hub.config import ConfigError, Settings, parse_secret_keys
from hub.crypto import Keyring, generate_secret_key

log = logging.getLogger("hub")

DEV_KEY_FILE = "secret.key"


def resolve_keyring(settings: Settings) -> Keyring:
    """HUB_SECRET_KEYS, or in development a key generated once into var/ (with a warning)."""
    if settings.secret_keys:
        return Keyring(settings.secret_keys)
    if settings.is_production:
        raise ConfigError("HUB_SECRET_KEYS: required when HUB_ENV=production")
    path = Path(settings.var_dir) / DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_secret_key() + "\n")
    log.warning(
        "HUB_SECRET_KEYS is not set: using the development key in %s. Set HUB_SECRET_KEYS in production.",
        path,
    )
    return Keyring(parse_secret_keys(path.read_text().strip(), name=str(path)))


def configure_logging(level: str) -> None:
    """JSON lines on stderr, with phones, keys and tokens redacted (hub.logs)."""
    logs.configure(level)
