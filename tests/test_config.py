"""Settings come from the environment; a wrong value stops start-up with one line naming the variable."""

from __future__ import annotations

import base64

import pytest

from hub.config import DEFAULT_DATABASE_URL, ConfigError, Settings, load_settings, parse_secret_keys
from hub.crypto import generate_secret_key

KEY_A = base64.urlsafe_b64encode(b"a" * 32).decode().rstrip("=")
KEY_B = base64.urlsafe_b64encode(b"b" * 32).decode()


def test_defaults_from_an_empty_environment() -> None:
    """With nothing set, the documented defaults apply."""
    settings = load_settings({})
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///var/hub.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.admin_key is None
    assert settings.secret_keys == ()
    assert settings.sms_url == "console://"
    assert settings.egress_allow == ()
    assert settings.dispatcher == "embedded"
    assert settings.max_body_bytes == 1_048_576
    assert not settings.is_production
    assert settings.is_sqlite


def test_every_documented_variable_is_read() -> None:
    """Each variable of the configuration table lands in its field."""
    settings = load_settings(
        {
            "HUB_DATABASE_URL": "postgresql+asyncpg://hub@db:5432/hub",
            "HUB_HOST": "10.0.0.5",
            "HUB_PORT": "9001",
            "HUB_ADMIN_KEY": "x" * 30,
            "HUB_SECRET_KEYS": f"{KEY_A}, {KEY_B}",
            "HUB_SMS_URL": "smpp://sys:pw@smsc.example:2775?source_addr=HUB",
            "HUB_EGRESS_ALLOW": "10.1.2.3/8, 192.168.0.0/16",
            "HUB_DISPATCHER": "off",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://hub@db:5432/hub"
    assert not settings.is_sqlite
    assert (settings.host, settings.port) == ("10.0.0.5", 9001)
    assert settings.admin_key == "x" * 30
    assert settings.secret_keys == (b"a" * 32, b"b" * 32)
    assert settings.sms_url.startswith("smpp://")
    assert settings.egress_allow == ("10.0.0.0/8", "192.168.0.0/16")
    assert settings.dispatcher == "off"


def test_settings_are_frozen() -> None:
    """Settings cannot be changed once read."""
    settings = load_settings({})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]  # the point: a frozen struct refuses assignment


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"HUB_PORT": "eighty"}, "HUB_PORT"),
        ({"HUB_PORT": "0"}, "HUB_PORT"),
        ({"HUB_PORT": "70000"}, "HUB_PORT"),
        ({"HUB_DATABASE_URL": "mysql://root@localhost/hub"}, "HUB_DATABASE_URL"),
        ({"HUB_DATABASE_URL": "postgresql://hub@db/hub"}, "HUB_DATABASE_URL"),
        ({"HUB_ADMIN_KEY": "short"}, "HUB_ADMIN_KEY"),
        ({"HUB_SECRET_KEYS": "not base64 !!"}, "HUB_SECRET_KEYS"),
        ({"HUB_SECRET_KEYS": base64.urlsafe_b64encode(b"short").decode()}, "HUB_SECRET_KEYS"),
        ({"HUB_SECRET_KEYS": f"{KEY_A},{KEY_A}"}, "HUB_SECRET_KEYS"),
        ({"HUB_SMS_URL": "ftp://gateway"}, "HUB_SMS_URL"),
        ({"HUB_SMS_URL": "smpp://"}, "HUB_SMS_URL"),
        ({"HUB_EGRESS_ALLOW": "10.0.0.0/8,not-a-network"}, "HUB_EGRESS_ALLOW"),
        ({"HUB_DISPATCHER": "threads"}, "HUB_DISPATCHER"),
        ({"HUB_ENV": "staging"}, "HUB_ENV"),
        ({"HUB_ENV": "production"}, "HUB_SECRET_KEYS"),
        ({"HUB_ENV": "production", "HUB_SECRET_KEYS": KEY_A}, "HUB_SMS_URL"),
        ({"HUB_ENV": "production", "HUB_SECRET_KEYS": KEY_A, "HUB_SMS_URL": "console://"}, "HUB_SMS_URL"),
        ({"HUB_TRUSTED_PROXIES": "nginx"}, "HUB_TRUSTED_PROXIES"),
        ({"HUB_MAX_BODY_BYTES": "1"}, "HUB_MAX_BODY_BYTES"),
        ({"HUB_LOG_LEVEL": "LOUD"}, "HUB_LOG_LEVEL"),
    ],
)
def test_a_wrong_value_names_its_variable(environ: dict[str, str], variable: str) -> None:
    """A malformed value raises ConfigError whose one-line message starts with the variable's name."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    message = str(caught.value)
    assert message.startswith(f"{variable}:"), message
    assert "\n" not in message


def test_secret_key_values_are_not_echoed_in_errors() -> None:
    """A malformed secret key is named by its position, never by its value."""
    secret = "totally-secret-but-not-32-bytes"
    with pytest.raises(ConfigError) as caught:
        load_settings({"HUB_SECRET_KEYS": f"{KEY_A},{secret}"})
    assert "#2" in str(caught.value)
    assert secret not in str(caught.value)


def test_production_with_keys_starts() -> None:
    """In production, secret keys present, the settings load and say so."""
    settings = load_settings(
        {"HUB_ENV": "production", "HUB_SECRET_KEYS": KEY_A, "HUB_SMS_URL": "smpp://hub:секрет@smsc:2775"}
    )
    assert settings.is_production
    assert settings.secret_keys == (b"a" * 32,)


def test_generated_keys_parse() -> None:
    """What `coalition-hub secrets generate` prints is a valid HUB_SECRET_KEYS entry of 32 bytes."""
    first, second = generate_secret_key(), generate_secret_key()
    assert first != second
    keys = parse_secret_keys(f"{first},{second}")
    assert [len(k) for k in keys] == [32, 32]


def test_empty_values_mean_the_default() -> None:
    """An empty variable (as Compose passes `${X:-}`) counts as unset."""
    settings = load_settings({"HUB_ADMIN_KEY": "", "HUB_PORT": "", "HUB_SECRET_KEYS": "", "HUB_SMS_URL": ""})
    assert settings == Settings()
