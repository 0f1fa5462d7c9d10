"""Observability: /metrics (per route template, flow outcomes, queue gauges, access), request ids end to end,
and a full run's logs holding no phone, PIN, API key or signing secret."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from msgspec.structs import replace
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from connectors.base import ConnectorConfig
from connectors.errors import ReconsentError, TransientError
from connectors.tokens import DbTokenSource, FetchedToken
from hub.clock import FrozenClock
from hub.config import ConfigError, Settings, load_settings
from hub.db import Database
from hub.logs import json_handler
from tests import builders
from tests.conftest import ADMIN, ADMIN_KEY, TEST_KEYRING, bearer, error_of
from tests.connectors.crm import Crm, running_crm
from tests.connectors.test_dispatch import connect, deliver_all, make_dispatcher
from tests.flow.conftest import World, receipt_body, world

__all__ = ["world"]  # the guest-flow world fixture, used here too

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture
async def crm() -> AsyncIterator[Crm]:
    async with running_crm() as server:
        yield server


async def test_metrics_count_routes_by_template_and_flow_outcomes(
    world: World, client: httpx.AsyncClient
) -> None:
    """Requests are counted by route template (not raw path) and status; scans, PINs and SMS by outcome."""
    before = await scrape(client)
    visit_id = await world.verified_visit()
    unknown = await world.scan("00000000")
    assert unknown.status_code == 422
    scan = await world.scan()
    wrong = await client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": "000000"}, headers=world.till
    )
    assert wrong.status_code == 422
    await client.post(f"/v1/visits/{visit_id}/receipt", json=receipt_body(), headers=world.till)
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    pin_route = {"route": "/v1/scans/{scan_id}/pin", "method": "POST"}
    assert grew("hub_http_requests_total", **pin_route, status="200") == 1
    assert grew("hub_http_requests_total", **pin_route, status="422") == 1
    assert grew("hub_http_request_duration_seconds_count", **pin_route) == 2
    assert not any(
        "route" in dict(labels) and world.venue["id"] in dict(labels)["route"] for _, labels in after
    )
    assert grew("hub_scans_total", outcome="pin_required") == 2
    assert grew("hub_scans_total", outcome="not_recognized") == 1
    assert grew("hub_pin_verifications_total", outcome="verified") == 1
    assert grew("hub_pin_verifications_total", outcome="invalid") == 1
    assert grew("hub_sms_total", gateway="console", result="sent") == 2


async def test_queue_gauges_and_delivery_counters(
    world: World, crm: Crm, db: Database, app: Litestar, client: httpx.AsyncClient
) -> None:
    """Open deliveries and the oldest one's age are read at scrape; attempts counted by kind and outcome."""
    await connect(client, crm, {"program_id": world.program["id"]})
    await world.verified_visit()
    queued = await scrape(client)
    assert value(queued, "hub_outbox_open_deliveries") == 1
    assert value(queued, "hub_outbox_oldest_open_delivery_age_seconds") >= 0
    await deliver_all(make_dispatcher(db, app), db)
    done = await scrape(client)
    assert value(done, "hub_outbox_open_deliveries") == 0
    assert value(done, "hub_outbox_oldest_open_delivery_age_seconds") == 0
    grown = value(done, "hub_delivery_attempts_total", kind="rest", outcome="delivered") - value(
        queued, "hub_delivery_attempts_total", kind="rest", outcome="delivered"
    )
    assert grown == 1
    assert value(done, "hub_delivery_attempt_duration_seconds_count", kind="rest") >= 1


@pytest.fixture
def production(settings: Settings) -> Settings:
    return replace(settings, env="production", secret_keys=(b"k" * 32,))


@pytest.mark.parametrize("public", [False, True])
async def test_metrics_access_in_production(
    production: Settings, db: Database, app: Litestar, client: httpx.AsyncClient, public: bool
) -> None:
    """In production /metrics needs an admin key (401 without, 403 otherwise) unless HUB_METRICS_PUBLIC=1."""
    app.state.settings = replace(production, metrics_public=public)
    venue_key = await builders.key(
        client, "venue", venue_id=(await builders.venue(client, await builders.partner(client)))["id"]
    )
    anonymous = await client.get("/metrics")
    as_venue = await client.get("/metrics", headers=bearer(venue_key))
    as_admin = await client.get("/metrics", headers=ADMIN)
    if public:
        assert (anonymous.status_code, as_venue.status_code, as_admin.status_code) == (200, 200, 200)
        return
    assert (anonymous.status_code, error_of(anonymous)["code"]) == (401, "unauthenticated")
    assert (as_venue.status_code, error_of(as_venue)["code"]) == (403, "forbidden")
    assert as_admin.status_code == 200
    assert "hub_http_requests_total" in as_admin.text


async def test_development_metrics_are_open(client: httpx.AsyncClient) -> None:
    """In development /metrics answers without a key."""
    assert (await client.get("/metrics")).status_code == 200


@pytest.mark.parametrize(
    ("sent", "kept"), [("trace-42.a_B", True), ("x" * 101, False), ("bad id!", False), (None, False)]
)
async def test_request_id_is_accepted_or_made_and_answered(
    client: httpx.AsyncClient, sent: str | None, kept: bool
) -> None:
    """A valid X-Request-Id comes back as sent; an invalid or missing one is replaced by a new one."""
    headers = {**ADMIN, **({"X-Request-Id": sent} if sent is not None else {})}
    for response in (
        await client.get("/v1/keys", headers=headers),
        await client.get("/v1/keys", headers={"X-Request-Id": sent or ""}),
    ):
        returned = response.headers["x-request-id"]
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,100}", returned)
        assert (returned == sent) is kept


async def test_request_id_travels_to_the_crm(
    world: World, crm: Crm, db: Database, app: Litestar, client: httpx.AsyncClient
) -> None:
    """The request id of the PIN check is stored on its event and sent to the CRM as X-Request-Id."""
    await connect(client, crm, {"program_id": world.program["id"]})
    scan = await world.scan()
    verified = await client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin",
        json={"pin": world.last_pin()},
        headers={**world.till, "X-Request-Id": "till-7.check-0042"},
    )
    assert verified.status_code == 200
    assert verified.headers["x-request-id"] == "till-7.check-0042"
    await deliver_all(make_dispatcher(db, app), db)
    assert crm.types() == ["visit.verified"]
    sent = {name.lower(): value for name, value in crm.headers[0].items()}
    assert sent["x-request-id"] == "till-7.check-0042"


# ---- nothing secret in the logs of a full run ----


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every log line of the test, through the production handler (JSON + redaction), at DEBUG."""
    stream = io.StringIO()
    handler = json_handler(stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def _is_console_sms(line: dict[str, Any]) -> bool:
    """The one line allowed to hold a PIN: the console SMS gateway's, by design (DESIGN.md, development)."""
    return line["logger"] == "hub.sms" and str(line["message"]).startswith("SMS to ")


async def test_full_run_logs_no_phone_pin_key_or_secret(
    log_lines: io.StringIO, world: World, crm: Crm, db: Database, app: Litestar, client: httpx.AsyncClient
) -> None:
    """A full run logged at DEBUG: no phone, PIN (but the console SMS line), API key or signing secret."""
    connector = await connect(client, crm, {"program_id": world.program["id"]}, personal_data="full")
    extra_key = await builders.key(client, "venue", venue_id=world.venue["id"])
    await client.get("/v1/keys", headers={"Authorization": "Bearer hub_adm_not-a-real-key-0123456789"})
    scan = await world.scan()
    pin = world.last_pin()
    phone = world.gateway.recent()[0].to
    wrong = "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin)
    await client.post(f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": wrong}, headers=world.till)
    verified = await client.post(
        f"/v1/scans/{scan.json()['scan_id']}/pin", json={"pin": pin}, headers=world.till
    )
    assert verified.status_code == 200, verified.text
    receipt = await client.post(
        f"/v1/visits/{verified.json()['visit_id']}/receipt", json=receipt_body(), headers=world.till
    )
    refund = await client.post(
        f"/v1/receipts/{receipt.json()['receipt_id']}/refund",
        json={"amount_minor": 1000, "reason": "returned"},
        headers=world.till,
    )
    assert refund.status_code == 201, refund.text
    await deliver_all(make_dispatcher(db, app), db)
    assert crm.types() == ["visit.verified", "receipt.closed", "receipt.refunded"]
    assert crm.received[0]["data"]["member"]["phone"] == phone  # the CRM got it: the logs must not

    raw = log_lines.getvalue().splitlines()
    lines = [json.loads(text) for text in raw]
    assert any(line.get("route") == "/v1/scans/{scan_id}/pin" and line.get("request_id") for line in lines)
    secrets = {
        "phone": phone,
        "phone digits": phone.lstrip("+"),
        "terminal key": world.terminal_key,
        "venue key": extra_key,
        "admin key": ADMIN_KEY,
        "wrong key": "hub_adm_not-a-real-key-0123456789",
        "signing secret": connector["signing_secret"],
        "signing secret body": connector["signing_secret"].removeprefix("whsec_"),
    }
    for text, line in zip(raw, lines, strict=True):
        for name, secret in secrets.items():
            assert secret not in text, f"{name} in a log line: {line['logger']}: {line['message']}"
        if not _is_console_sms(line):
            assert not re.search(rf"(?<!\d){pin}(?!\d)", text), f"the PIN in a log line: {line}"
    assert any(_is_console_sms(line) and pin in line["message"] for line in lines)  # the one exception


@pytest.mark.parametrize(("raw", "public"), [(None, False), ("0", False), ("1", True)])
def test_metrics_public_setting(raw: str | None, public: bool) -> None:
    """HUB_METRICS_PUBLIC takes 0 or 1 (default 0)."""
    environ = {"HUB_METRICS_PUBLIC": raw} if raw is not None else {}
    assert load_settings(environ).metrics_public is public


def test_metrics_public_setting_rejects_other_values() -> None:
    """Anything but 0 or 1 stops start-up naming the variable."""
    with pytest.raises(ConfigError, match="HUB_METRICS_PUBLIC"):
        load_settings({"HUB_METRICS_PUBLIC": "yes"})


class StubFetcher:
    """A TokenFetcher, a seam we own (the OAuth wire is tested against oidc-provider in tests/connectors)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def fetch(self, http: Any, connector: ConnectorConfig, refresh_token: str | None) -> FetchedToken:
        if self.error is not None:
            raise self.error
        return FetchedToken(access_token="stub-access-token", expires_in=3600)


@pytest.mark.parametrize(
    ("error", "result"),
    [(None, "refreshed"), (TransientError("down"), "failed"), (ReconsentError("grant lost"), "reconsent")],
)
async def test_token_refreshes_are_counted_by_result(
    world: World,
    crm: Crm,
    db: Database,
    app: Litestar,
    clock: FrozenClock,
    error: Exception | None,
    result: str,
) -> None:
    """Each access-token refresh is counted as refreshed, failed or reconsent."""
    created = await connect(world.client, crm, {"program_id": world.program["id"]})
    config = ConnectorConfig(
        id=uuid.UUID(created["id"]),
        name="stub",
        kind="rest",
        url=crm.url,
        auth={"type": "stub"},
        settings={},
        personal_data="none",
    )
    tokens = DbTokenSource(db, TEST_KEYRING, clock, app.state.http, {"stub": StubFetcher(error)})
    before = REGISTRY.get_sample_value("hub_token_refreshes_total", {"result": result}) or 0.0
    with contextlib.suppress(TransientError, ReconsentError):
        await tokens.token(config)
    assert REGISTRY.get_sample_value("hub_token_refreshes_total", {"result": result}) == before + 1
