"""Settings read once from the environment; a wrong value stops start-up naming the variable."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import msgspec

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/hub.db"
SECRET_KEY_BYTES = 32
IMPORT_BODY_CAP = 1 << 30  # the most HUB_IMPORT_MAX_BODY_BYTES may be set to
T = TypeVar("T", bound=str)


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and what it expects."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    admin_key: str | None = None
    # raw 32-byte keys, newest first
    secret_keys: tuple[bytes, ...] = ()
    sms_url: str = "console://"
    egress_allow: tuple[str, ...] = ()
    # proxies whose X-Forwarded-For/-Proto are believed (CIDRs); none by default
    trusted_proxies: tuple[str, ...] = ()
    dispatcher: Literal["embedded", "off"] = "embedded"
    env: Literal["development", "production"] = "development"
    max_body_bytes: int = 1_048_576
    import_max_body_bytes: int = 64 * 1_048_576
    var_dir: str = "var"
    log_level: str = "INFO"
    # /metrics without a key (a scraper inside the private network); development is always open
    metrics_public: bool = False
    # requests per API key per minute, counted in the database so every API process shares them; 0: off
    rate_limit_per_minute: int = 600
    terminal_rate_limit_per_minute: int = 1200
    max_json_depth: int = 32
    retention_days: int = 30
    # scans of a terminal that send nothing (unknown, blocked, ambiguous codes) per ten minutes; 0: off
    unrecognized_scans_per_10min: int = 20
    # SMS budgets per sliding hour and day above the card's and the terminal's; 0: no budget
    sms_per_venue_hour: int = 300
    sms_per_venue_day: int = 2_000
    sms_per_program_hour: int = 5_000
    sms_per_program_day: int = 50_000
    sms_per_hub_hour: int = 20_000
    sms_per_hub_day: int = 200_000
    max_terminals_per_venue: int = 50
    # failed authentications per client address and per key prefix per minute; 0: off
    auth_failures_per_minute: int = 20

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer between {low} and {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: expected an integer between {low} and {high}, got {value}")
    return value


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[T, ...]) -> T:
    raw = environ.get(name) or default
    for choice in choices:
        if raw == choice:
            return choice
    raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")


def parse_secret_keys(raw: str, name: str = "HUB_SECRET_KEYS") -> tuple[bytes, ...]:
    """Decode comma-separated url-safe base64 keys of 32 bytes each, newest first."""
    keys: list[bytes] = []
    for index, part in enumerate(p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            key = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            raise ConfigError(f"{name}: key #{index + 1} is not url-safe base64") from None
        if len(key) != SECRET_KEY_BYTES:
            raise ConfigError(
                f"{name}: key #{index + 1} decodes to {len(key)} bytes, expected {SECRET_KEY_BYTES}"
                " (make one with: coalition-hub secrets generate)"
            )
        keys.append(key)
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{name}: the same key is listed twice")
    return tuple(keys)


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name) or "0"
    if raw not in ("0", "1"):
        raise ConfigError(f"{name}: expected 0 or 1, got {raw!r}")
    return raw == "1"


def _database_url(raw: str) -> str:
    if not (raw.startswith("sqlite+aiosqlite://") or raw.startswith("postgresql+asyncpg://")):
        raise ConfigError(
            "HUB_DATABASE_URL: expected sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB,"
            f" got {raw.split('://')[0]!r}://…"
        )
    return raw


def _sms_url(raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if scheme not in ("console", "smpp", "http", "https"):
        raise ConfigError(
            f"HUB_SMS_URL: expected console://, smpp://… or an http(s) URL, got scheme {scheme!r}"
        )
    if scheme == "smpp" and not urlsplit(raw).hostname:
        raise ConfigError("HUB_SMS_URL: smpp:// needs SYSTEM_ID:PASSWORD@HOST:PORT")
    return raw


def _networks(raw: str, name: str) -> tuple[str, ...]:
    networks: list[str] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not a CIDR such as 10.0.0.0/8") from None
    return tuple(networks)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_egress_entry(entry: str) -> tuple[Network, int | None]:
    """`10.0.0.0/8`, `10.1.2.3/32:443`, `fd00::/8` or `[fd00::/8]:443` → (network, port or None)."""
    text, port = entry.strip(), None
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(entry)
        text, port = inside, (int(rest[1:]) if rest else None)
    elif text.count(":") == 1:  # IPv4 with a port; IPv6 has two colons at least
        text, _, digits = text.partition(":")
        port = int(digits)
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(entry)
    return ipaddress.ip_network(text, strict=False), port


def _egress_entry(network: Network, port: int | None) -> str:
    if port is None:
        return str(network)
    return f"{network}:{port}" if network.version == 4 else f"[{network}]:{port}"


def _egress_allow(raw: str) -> tuple[str, ...]:
    entries: list[str] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            entries.append(_egress_entry(*parse_egress_entry(part)))
        except ValueError:
            raise ConfigError(
                f"HUB_EGRESS_ALLOW: {part!r} is not a CIDR such as 10.0.0.0/8, optionally with a port"
                " (10.1.2.3/32:443, [fd00::/8]:443)"
            ) from None
    return tuple(entries)


SMS_BUDGETS = {  # setting: (variable, default)
    "sms_per_venue_hour": ("HUB_SMS_PER_VENUE_HOUR", 300),
    "sms_per_venue_day": ("HUB_SMS_PER_VENUE_DAY", 2_000),
    "sms_per_program_hour": ("HUB_SMS_PER_PROGRAM_HOUR", 5_000),
    "sms_per_program_day": ("HUB_SMS_PER_PROGRAM_DAY", 50_000),
    "sms_per_hub_hour": ("HUB_SMS_PER_HOUR", 20_000),
    "sms_per_hub_day": ("HUB_SMS_PER_DAY", 200_000),
}


def _sms_budgets(environ: Mapping[str, str]) -> dict[str, int]:
    return {
        field: _int(environ, name, default, 0, 100_000_000) for field, (name, default) in SMS_BUDGETS.items()
    }


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build Settings from environment variables; pure (reads only the mapping it is given)."""
    environments: tuple[Literal["development", "production"], ...] = ("development", "production")
    env = _choice(environ, "HUB_ENV", "development", environments)
    admin_key = environ.get("HUB_ADMIN_KEY") or None
    if admin_key is not None and len(admin_key) < 24:
        raise ConfigError("HUB_ADMIN_KEY: too short, use at least 24 random characters")
    secret_keys = parse_secret_keys(environ.get("HUB_SECRET_KEYS", ""))
    if env == "production" and not secret_keys:
        raise ConfigError(
            "HUB_SECRET_KEYS: required when HUB_ENV=production (coalition-hub secrets generate)"
        )
    sms_url = _sms_url(environ.get("HUB_SMS_URL") or "console://")
    if env == "production" and urlsplit(sms_url).scheme == "console":
        raise ConfigError(
            "HUB_SMS_URL: console:// only logs PINs; HUB_ENV=production needs smpp://… or an https:// gateway"
        )
    return Settings(
        database_url=_database_url(environ.get("HUB_DATABASE_URL") or DEFAULT_DATABASE_URL),
        host=environ.get("HUB_HOST") or "127.0.0.1",
        port=_int(environ, "HUB_PORT", 8000, 1, 65535),
        admin_key=admin_key,
        secret_keys=secret_keys,
        sms_url=sms_url,
        egress_allow=_egress_allow(environ.get("HUB_EGRESS_ALLOW", "")),
        trusted_proxies=_networks(environ.get("HUB_TRUSTED_PROXIES", ""), "HUB_TRUSTED_PROXIES"),
        dispatcher=_choice(environ, "HUB_DISPATCHER", "embedded", ("embedded", "off")),
        env=env,
        max_body_bytes=_int(environ, "HUB_MAX_BODY_BYTES", 1_048_576, 1024, 64 * 1_048_576),
        import_max_body_bytes=_int(
            environ, "HUB_IMPORT_MAX_BODY_BYTES", 64 * 1_048_576, 1024, IMPORT_BODY_CAP
        ),
        var_dir=environ.get("HUB_VAR_DIR") or "var",
        log_level=_choice(environ, "HUB_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        metrics_public=_flag(environ, "HUB_METRICS_PUBLIC"),
        rate_limit_per_minute=_int(environ, "HUB_RATE_LIMIT_PER_MINUTE", 600, 0, 1_000_000),
        terminal_rate_limit_per_minute=_int(
            environ, "HUB_TERMINAL_RATE_LIMIT_PER_MINUTE", 1200, 0, 1_000_000
        ),
        max_json_depth=_int(environ, "HUB_MAX_JSON_DEPTH", 32, 4, 1000),
        retention_days=_int(environ, "HUB_RETENTION_DAYS", 30, 1, 3650),
        unrecognized_scans_per_10min=_int(environ, "HUB_UNRECOGNIZED_SCANS_PER_10MIN", 20, 0, 100_000),
        **_sms_budgets(environ),
        max_terminals_per_venue=_int(environ, "HUB_MAX_TERMINALS_PER_VENUE", 50, 1, 100_000),
        auth_failures_per_minute=_int(environ, "HUB_AUTH_FAILURES_PER_MINUTE", 20, 0, 100_000),
    )
