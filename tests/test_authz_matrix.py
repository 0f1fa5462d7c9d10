"""The authorization matrix: every /v1 route by every role, on its own tenant's objects and on another's.

The expectations below are written from the API contract (../shared/API.md: "admin; partner/venue read
their own", concierges work with their programs, terminals only run the guest flow), not read off the
guards, so a guard that drifts from the contract fails here. A route missing from the table fails
test_every_route_is_in_the_table, so a new route cannot slip in unguarded.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy import select

from connectors.models import Delivery
from connectors.outbox import EventContext, enqueue
from hub.clock import utcnow
from hub.db import Database
from hub.scope import ROLES, Role
from tests import builders
from tests.conftest import ADMIN, bearer, error_of

Obj = dict[str, Any]
World = dict[str, Obj]


@dataclass(frozen=True)
class Allow:
    """The role may use the route on `own` (put in the path); on each of `others` it gets 403/404 and
    none of their data. On a list route, `sees` must be in the answer and `hidden` must not."""

    own: str | None = None
    others: tuple[str, ...] = ()
    sees: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reaches:
    """The role passes authentication and the guard (the answer is neither 401 nor 403); what it may do
    with its own and other tenants' scans, visits and receipts is pinned down in tests/flow."""


DENY = None
Expect = dict[Role, Allow | Reaches | None]
TERMINAL_ONLY: Expect = {
    "admin": DENY,
    "concierge": DENY,
    "partner": DENY,
    "venue": DENY,
    "terminal": Reaches(),
}


def only_admin(own: str | None = None) -> Expect:
    return {"admin": Allow(own), "concierge": DENY, "partner": DENY, "venue": DENY, "terminal": DENY}


MANAGED_CONNECTOR: Expect = {
    "admin": Allow("connector_2"),
    "concierge": DENY,
    "partner": Allow("connector_1", others=("connector_2", "connector_a")),
    "venue": Allow("connector_1", others=("connector_2", "connector_a")),
    "terminal": DENY,
}
MANAGED_DELIVERY: Expect = {
    "admin": Allow("delivery_2"),
    "concierge": DENY,
    "partner": Allow("delivery_1", others=("delivery_2",)),
    "venue": Allow("delivery_1", others=("delivery_2",)),
    "terminal": DENY,
}
CONCIERGE_REFERRAL: Expect = {
    "admin": Allow("referral_b"),
    "concierge": Allow("referral_a", others=("referral_b",)),
    "partner": DENY,
    "venue": DENY,
    "terminal": DENY,
}

PROGRAM_REPORT: Expect = {
    "admin": Allow("program_b"),
    "concierge": Allow("program_a", others=("program_b", "program_l1")),
    "partner": DENY,
    "venue": DENY,
    "terminal": DENY,
}

# The world: coalition programs A and B; partners 1 and 2 with venues 1 and 2 and terminals 1 and 2;
# A's offer at partner 1, B's at partner 2; venue programs L1 and L2 owned by partners 1 and 2; a
# member in each program; a referral of A's member into venue 1 and of B's into venue 2. Keys: admin,
# concierge(A), partner(1), venue(1), terminal(1).
# Tenant 1 is what those keys serve; tenant 2 is "another tenant".
MATRIX: dict[tuple[str, str], Expect] = {
    # ---- API keys: admin only ----
    ("POST", "/v1/keys"): only_admin(),
    ("GET", "/v1/keys"): only_admin(),
    ("DELETE", "/v1/keys/{key_id}"): only_admin("spare_key"),
    # ---- programs ----
    ("POST", "/v1/programs"): only_admin(),
    ("GET", "/v1/programs"): {
        "admin": Allow(sees=("program_a", "program_b", "program_l1", "program_l2")),
        "concierge": Allow(sees=("program_a",), hidden=("program_b", "program_l1", "program_l2")),
        "partner": Allow(sees=("program_a", "program_l1"), hidden=("program_b", "program_l2")),
        "venue": Allow(sees=("program_a", "program_l1"), hidden=("program_b", "program_l2")),
        "terminal": DENY,
    },
    ("GET", "/v1/programs/{program_id}"): {
        "admin": Allow("program_b"),
        "concierge": Allow("program_a", others=("program_b", "program_l1")),
        "partner": Allow("program_l1", others=("program_b", "program_l2")),
        "venue": Allow("program_l1", others=("program_b", "program_l2")),
        "terminal": DENY,
    },
    # the program's owner (admin, or its concierge) sets what venues may receive of its guests
    ("PATCH", "/v1/programs/{program_id}"): {
        "admin": Allow("program_a"),
        "concierge": Allow("program_a", others=("program_b",)),
        "partner": DENY,
        "venue": DENY,
        "terminal": DENY,
    },
    # members: the program's concierge, and the partner owning a venue program; a partner serving a
    # coalition program does not get its members
    ("POST", "/v1/programs/{program_id}/members"): {
        "admin": Allow("program_b"),
        "concierge": Allow("program_a", others=("program_b", "program_l1")),
        "partner": Allow("program_l1", others=("program_l2", "program_a", "program_b")),
        "venue": DENY,
        "terminal": DENY,
    },
    ("GET", "/v1/programs/{program_id}/members"): {
        "admin": Allow("program_b"),
        "concierge": Allow("program_a", others=("program_b", "program_l1")),
        "partner": Allow("program_l1", others=("program_l2", "program_a", "program_b")),
        "venue": Allow("program_l1", others=("program_l2", "program_a", "program_b")),
        "terminal": DENY,
    },
    ("POST", "/v1/programs/{program_id}/members/import"): {
        "admin": Allow("program_b"),
        "concierge": Allow("program_a", others=("program_b", "program_l1")),
        "partner": Allow("program_l1", others=("program_l2", "program_a", "program_b")),
        "venue": DENY,
        "terminal": DENY,
    },
    ("GET", "/v1/members/{member_id}"): {
        "admin": Allow("member_b"),
        "concierge": Allow("member_a", others=("member_b", "member_l1")),
        "partner": Allow("member_l1", others=("member_l2", "member_a")),
        "venue": Allow("member_l1", others=("member_l2", "member_a")),
        "terminal": DENY,
    },
    ("PATCH", "/v1/members/{member_id}"): {
        "admin": Allow("member_b"),
        "concierge": Allow("member_a", others=("member_b", "member_l1")),
        "partner": Allow("member_l1", others=("member_l2", "member_a")),
        "venue": DENY,
        "terminal": DENY,
    },
    # ---- partners ----
    ("POST", "/v1/partners"): only_admin(),
    ("GET", "/v1/partners"): {
        "admin": Allow(sees=("partner_1", "partner_2")),
        "concierge": Allow(sees=("partner_1",), hidden=("partner_2",)),
        "partner": Allow(sees=("partner_1",), hidden=("partner_2",)),
        "venue": Allow(sees=("partner_1",), hidden=("partner_2",)),
        "terminal": DENY,
    },
    ("GET", "/v1/partners/{partner_id}"): {
        "admin": Allow("partner_2"),
        "concierge": Allow("partner_1", others=("partner_2",)),
        "partner": Allow("partner_1", others=("partner_2",)),
        "venue": Allow("partner_1", others=("partner_2",)),
        "terminal": DENY,
    },
    ("PATCH", "/v1/partners/{partner_id}"): only_admin("partner_1"),
    # ---- venues and terminals ----
    ("POST", "/v1/venues"): only_admin(),
    ("GET", "/v1/venues"): {
        "admin": Allow(sees=("venue_1", "venue_2")),
        "concierge": Allow(sees=("venue_1",), hidden=("venue_2",)),
        "partner": Allow(sees=("venue_1",), hidden=("venue_2",)),
        "venue": Allow(sees=("venue_1",), hidden=("venue_2",)),
        "terminal": DENY,
    },
    ("GET", "/v1/venues/{venue_id}"): {
        "admin": Allow("venue_2"),
        "concierge": Allow("venue_1", others=("venue_2",)),
        "partner": Allow("venue_1", others=("venue_2",)),
        "venue": Allow("venue_1", others=("venue_2",)),
        "terminal": DENY,
    },
    ("PATCH", "/v1/venues/{venue_id}"): only_admin("venue_1"),
    ("POST", "/v1/venues/{venue_id}/terminals"): {
        "admin": Allow("venue_2"),
        "concierge": DENY,
        "partner": Allow("venue_1", others=("venue_2",)),
        "venue": Allow("venue_1", others=("venue_2",)),
        "terminal": DENY,
    },
    ("GET", "/v1/venues/{venue_id}/terminals"): {
        "admin": Allow("venue_2"),
        "concierge": DENY,
        "partner": Allow("venue_1", others=("venue_2",)),
        "venue": Allow("venue_1", others=("venue_2",)),
        "terminal": DENY,
    },
    ("DELETE", "/v1/terminals/{terminal_id}"): {
        "admin": Allow("terminal_2"),
        "concierge": DENY,
        "partner": Allow("terminal_1", others=("terminal_2",)),
        "venue": Allow("terminal_1", others=("terminal_2",)),
        "terminal": DENY,
    },
    # ---- offers ----
    ("POST", "/v1/offers"): only_admin(),
    ("GET", "/v1/offers"): {
        "admin": Allow(sees=("offer_a", "offer_b")),
        "concierge": Allow(sees=("offer_a",), hidden=("offer_b",)),
        "partner": Allow(sees=("offer_a",), hidden=("offer_b",)),
        "venue": Allow(sees=("offer_a",), hidden=("offer_b",)),
        "terminal": DENY,
    },
    ("GET", "/v1/offers/{offer_id}"): {
        "admin": Allow("offer_b"),
        "concierge": Allow("offer_a", others=("offer_b",)),
        "partner": Allow("offer_a", others=("offer_b",)),
        "venue": Allow("offer_a", others=("offer_b",)),
        "terminal": DENY,
    },
    ("PATCH", "/v1/offers/{offer_id}"): only_admin("offer_a"),
    # ---- the guest flow: terminal keys only ("one point of sale at one venue: scan, PIN, receipt") ----
    ("POST", "/v1/scans"): TERMINAL_ONLY,
    ("POST", "/v1/scans/{scan_id}/pin"): TERMINAL_ONLY,
    ("POST", "/v1/scans/{scan_id}/pin/resend"): TERMINAL_ONLY,
    ("POST", "/v1/visits/{visit_id}/quote"): TERMINAL_ONLY,
    ("POST", "/v1/visits/{visit_id}/receipt"): TERMINAL_ONLY,
    # cancelling an open visit: its venue's terminals and venue key, its partner, admin (tests/stats)
    ("POST", "/v1/visits/{visit_id}/cancel"): {
        "admin": Reaches(),
        "concierge": DENY,
        "partner": Reaches(),
        "venue": Reaches(),
        "terminal": Reaches(),
    },
    # a refund: the till, its venue, its partner, an admin (tests/flow/test_money.py: on whose receipts)
    ("POST", "/v1/receipts/{receipt_id}/refund"): {
        "admin": Reaches(),
        "concierge": DENY,
        "partner": Reaches(),
        "venue": Reaches(),
        "terminal": Reaches(),
    },
    # ---- connectors and deliveries: "admin; a venue/partner manages and reads its own" ----
    ("POST", "/v1/connectors"): {
        "admin": Allow(),
        "concierge": DENY,
        "partner": Allow(),
        "venue": Allow(),
        "terminal": DENY,
    },
    ("GET", "/v1/connectors"): {
        "admin": Allow(sees=("connector_1", "connector_2", "connector_a")),
        "concierge": DENY,
        "partner": Allow(sees=("connector_1",), hidden=("connector_2", "connector_a")),
        "venue": Allow(sees=("connector_1",), hidden=("connector_2", "connector_a")),
        "terminal": DENY,
    },
    ("GET", "/v1/connectors/{connector_id}"): MANAGED_CONNECTOR,
    ("PATCH", "/v1/connectors/{connector_id}"): MANAGED_CONNECTOR,
    ("DELETE", "/v1/connectors/{connector_id}"): MANAGED_CONNECTOR,
    ("POST", "/v1/connectors/{connector_id}/signing-secret/rotate"): MANAGED_CONNECTOR,
    ("POST", "/v1/connectors/{connector_id}/replay"): MANAGED_CONNECTOR,
    ("GET", "/v1/deliveries"): {
        "admin": Allow(sees=("delivery_1", "delivery_2")),
        "concierge": DENY,
        "partner": Allow(sees=("delivery_1",), hidden=("delivery_2",)),
        "venue": Allow(sees=("delivery_1",), hidden=("delivery_2",)),
        "terminal": DENY,
    },
    ("GET", "/v1/deliveries/{delivery_id}"): MANAGED_DELIVERY,
    ("POST", "/v1/deliveries/{delivery_id}/retry"): MANAGED_DELIVERY,
    # ---- statistics: "that venue, its partner, admin; a concierge sees only its programs' part";
    # program reports, summary and segments: "concierge, admin"; a terminal sees no statistics ----
    ("GET", "/v1/venues/{venue_id}/stats"): {
        "admin": Allow("venue_2"),
        "concierge": Allow("venue_1", others=("venue_2",)),
        "partner": Allow("venue_1", others=("venue_2",)),
        "venue": Allow("venue_1", others=("venue_2",)),
        "terminal": DENY,
    },
    ("GET", "/v1/programs/{program_id}/stats"): PROGRAM_REPORT,
    ("GET", "/v1/programs/{program_id}/summary"): PROGRAM_REPORT,
    ("GET", "/v1/programs/{program_id}/segments"): PROGRAM_REPORT,
    ("POST", "/v1/programs/{program_id}/segments/refresh"): PROGRAM_REPORT,
    # ---- settlement: "admin, concierge (its programs), partner (its own)", a venue its own venue; the
    # other tenant's partner_id (404, no numbers) is pinned down in tests/flow/test_settlement.py ----
    ("GET", "/v1/settlements"): {
        "admin": Allow(),
        "concierge": Allow(),
        "partner": Allow(),
        "venue": Allow(),
        "terminal": DENY,
    },
    # ---- concierge: referrals and guest history ("concierge", its programs only; admin everything) ----
    ("POST", "/v1/referrals"): {
        "admin": Allow(),
        "concierge": Allow(),
        "partner": DENY,
        "venue": DENY,
        "terminal": DENY,
    },
    ("GET", "/v1/referrals"): {
        "admin": Allow(sees=("referral_a", "referral_b")),
        "concierge": Allow(sees=("referral_a",), hidden=("referral_b",)),
        "partner": DENY,
        "venue": DENY,
        "terminal": DENY,
    },
    ("GET", "/v1/referrals/{referral_id}"): CONCIERGE_REFERRAL,
    ("POST", "/v1/referrals/{referral_id}/cancel"): CONCIERGE_REFERRAL,
    ("POST", "/v1/settlements/{period}/close"): only_admin("past_month"),
    # ---- the audit log: admin only ----
    ("GET", "/v1/audit"): only_admin(),
    ("GET", "/v1/members/{member_id}/visits"): {
        "admin": Allow("member_b"),
        "concierge": Allow("member_a", others=("member_b", "member_l1")),
        "partner": DENY,
        "venue": DENY,
        "terminal": DENY,
    },
}

# The tenant-1 object a denied role is tried on (its own side: the refusal is about the role).
DENIED_TARGET = {
    "key_id": "spare_key",
    "program_id": "program_a",
    "member_id": "member_a",
    "partner_id": "partner_1",
    "venue_id": "venue_1",
    "terminal_id": "terminal_1",
    "offer_id": "offer_a",
    "connector_id": "connector_1",
    "delivery_id": "delivery_1",
    "referral_id": "referral_a",
}
# outside /v1: the probes, /metrics, and the development SMS inbox (404 unless the console gateway is in use)
NON_API_PATHS = {"/healthz", "/readyz", "/dev/sms", "/metrics"}
# the web pages (hub.web): outside the API, each checks its session's role itself; tests/web drives them
NON_API_PATHS |= {
    "/app",
    "/app/login",
    "/app/logout",
    "/app/lang/{lang}",
    "/app/static/{file_path}",
    "/app/scan",
    "/app/venue",
    "/app/concierge",
    "/app/operator",
    "/app/operator/import",
    "/app/operator/import/{job_id}",
}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
RECEIPT = {
    "currency": "RUB",
    "closed_at": "2026-11-20T12:00:00Z",
    "items": [{"name": "Tea", "quantity": 1, "unit_price_minor": 30_000}],
}
_serial = itertools.count(1)


def _request(method: str, path: str, world: World) -> dict[str, Any]:
    """A valid request body for each writing route."""
    n = next(_serial)
    bodies: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
        ("POST", "/v1/keys"): lambda: {
            "json": {"role": "venue", "name": f"k{n}", "scope": {"venue_id": world["venue_1"]["id"]}}
        },
        ("POST", "/v1/programs"): lambda: {
            "json": {
                "name": f"New program {n}",
                "kind": "coalition",
                "currency": "RUB",
                "tiers": [{"code": "s", "name": "S"}],
            }
        },
        ("PATCH", "/v1/programs/{program_id}"): lambda: {"json": {"venue_personal_data_max": "none"}},
        ("POST", "/v1/programs/{program_id}/members"): lambda: {
            "json": {"card_number": f"99{n:08d}", "phone": "+79160000077"}
        },
        ("POST", "/v1/programs/{program_id}/members/import"): lambda: {
            "content": f"card_number,phone\n98{n:08d},+79160000078\n".encode(),
            "headers": {"Content-Type": "text/csv"},
        },
        ("PATCH", "/v1/members/{member_id}"): lambda: {"json": {"name": f"Renamed {n}"}},
        ("POST", "/v1/partners"): lambda: {"json": {"name": f"New partner {n}"}},
        ("PATCH", "/v1/partners/{partner_id}"): lambda: {"json": {"name": f"Renamed {n}"}},
        ("POST", "/v1/venues"): lambda: {
            "json": {
                "partner_id": world["partner_1"]["id"],
                "name": f"New venue {n}",
                "city": "Moscow",
                "district": "Arbat",
                "timezone": "Europe/Moscow",
            }
        },
        ("PATCH", "/v1/venues/{venue_id}"): lambda: {"json": {"district": f"District {n}"}},
        ("POST", "/v1/venues/{venue_id}/terminals"): lambda: {"json": {"name": f"Till {n}"}},
        ("POST", "/v1/offers"): lambda: {
            "json": {"program_id": world["program_a"]["id"], "discount_percent": 5}
        },
        ("PATCH", "/v1/offers/{offer_id}"): lambda: {"json": {"discount_percent": 7}},
        ("POST", "/v1/scans"): lambda: {"json": {"code": f"55{n:010d}"}},
        ("POST", "/v1/scans/{scan_id}/pin"): lambda: {"json": {"pin": "123456"}},
        ("POST", "/v1/visits/{visit_id}/quote"): lambda: {"json": RECEIPT},
        ("POST", "/v1/visits/{visit_id}/receipt"): lambda: {"json": {**RECEIPT, "check_id": f"c{n}"}},
        ("POST", "/v1/receipts/{receipt_id}/refund"): lambda: {"json": {"reason": "returned"}},
        ("POST", "/v1/visits/{visit_id}/cancel"): lambda: {"json": {"reason": "гость ушёл"}},
        ("POST", "/v1/connectors"): lambda: {
            "json": _connector_body(f"New CRM {n}", {"venue_id": world["venue_1"]["id"]})
        },
        ("PATCH", "/v1/connectors/{connector_id}"): lambda: {"json": {"name": f"Renamed {n}"}},
        ("POST", "/v1/connectors/{connector_id}/replay"): lambda: {
            "json": {"from": "2026-11-01T00:00:00Z", "status": "dead"}  # venue keys: at most 93 days back
        },
        ("POST", "/v1/referrals"): lambda: {"json": _referral_body(world, "a", "1")},
        ("GET", "/v1/settlements"): lambda: {"params": {"period": "2026-11"}},
    }
    make = bodies.get((method, path))
    return make() if make is not None else {}


def _connector_body(name: str, owner: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "rest",
        "owner": owner,
        "url": "http://127.0.0.1:9/events",
        "auth": {"type": "none"},
    }


def _referral_body(world: World, program: str, venue: str) -> dict[str, Any]:
    return {
        "program_id": world[f"program_{program}"]["id"],
        "member_id": world[f"member_{program}"]["id"],
        "venue_id": world[f"venue_{venue}"]["id"],
        "expected_at": "2026-11-20T20:00:00Z",
    }


async def _connectors_and_deliveries(client: httpx.AsyncClient, db: Database, w: World) -> None:
    """A CRM of each venue and of program A, and one event at each venue so each has a delivery."""
    for name, owner in (
        ("connector_1", {"venue_id": w["venue_1"]["id"]}),
        ("connector_2", {"venue_id": w["venue_2"]["id"]}),
        ("connector_a", {"program_id": w["program_a"]["id"]}),
    ):
        response = await client.post("/v1/connectors", json=_connector_body(name, owner), headers=ADMIN)
        assert response.status_code == 201, response.text
        w[name] = response.json()
    async with db.transaction() as session:
        for program, venue, partner in (
            ("program_a", "venue_1", "partner_1"),
            ("program_b", "venue_2", "partner_2"),
        ):
            context = EventContext(
                program_id=uuid.UUID(w[program]["id"]),
                program_name=w[program]["name"],
                venue_id=uuid.UUID(w[venue]["id"]),
                venue_name=w[venue]["name"],
                partner_id=uuid.UUID(w[partner]["id"]),
            )
            await enqueue(
                session,
                event_type="receipt.refunded",
                context=context,
                occurred_at=utcnow(),
                data={"receipt_id": str(uuid.uuid4()), "amount_minor": 100, "reason": "matrix"},
            )
    async with db.sessionmaker() as session:
        for name in ("1", "2"):
            delivery_id = await session.scalar(
                select(Delivery.id).where(Delivery.connector_id == uuid.UUID(w[f"connector_{name}"]["id"]))
            )
            w[f"delivery_{name}"] = {"id": str(delivery_id)}


async def build_world(client: httpx.AsyncClient, db: Database | None = None) -> tuple[World, dict[Role, str]]:
    """Two tenants and a key of every role; returns the objects by name and the keys by role."""
    w: World = {}
    w["partner_1"], w["partner_2"] = await builders.partner(client), await builders.partner(client)
    w["venue_1"] = await builders.venue(client, w["partner_1"])
    w["venue_2"] = await builders.venue(client, w["partner_2"])
    w["program_a"], w["program_b"] = await builders.program(client), await builders.program(client)
    w["program_l1"] = await builders.program(client, kind="venue", owner=w["partner_1"])
    w["program_l2"] = await builders.program(client, kind="venue", owner=w["partner_2"])
    w["offer_a"] = await builders.offer(client, w["program_a"], at_partner=w["partner_1"])
    w["offer_b"] = await builders.offer(client, w["program_b"], at_partner=w["partner_2"])
    for suffix in ("a", "b", "l1", "l2"):
        w[f"member_{suffix}"] = await builders.member(client, w[f"program_{suffix}"])
    w["terminal_1"] = await builders.terminal(client, w["venue_1"])
    w["terminal_2"] = await builders.terminal(client, w["venue_2"])
    keys: dict[Role, str] = {
        "admin": await builders.key(client, "admin"),
        "concierge": await builders.key(client, "concierge", program_ids=[w["program_a"]["id"]]),
        "partner": await builders.key(client, "partner", partner_id=w["partner_1"]["id"]),
        "venue": await builders.key(client, "venue", venue_id=w["venue_1"]["id"]),
        "terminal": w["terminal_1"]["api_key"],
    }
    spare = await client.post("/v1/keys", json={"role": "admin", "name": "spare"}, headers=ADMIN)
    w["spare_key"] = spare.json()
    w["past_month"] = {"id": "2026-10"}  # a settlement period that has ended (the clock is in November)
    for name, program, venue in (("referral_a", "a", "1"), ("referral_b", "b", "2")):
        booked = await client.post("/v1/referrals", json=_referral_body(w, program, venue), headers=ADMIN)
        assert booked.status_code == 201, booked.text
        w[name] = booked.json()
    if db is not None:
        await _connectors_and_deliveries(client, db, w)
    return w, keys


async def snapshot(client: httpx.AsyncClient, world: World) -> list[Any]:
    """Everything the admin sees of the world, to show a refused write changed nothing."""
    paths = [
        "/v1/programs",
        "/v1/partners",
        "/v1/venues",
        "/v1/offers",
        "/v1/keys",
        "/v1/connectors",
        "/v1/deliveries",
        "/v1/referrals",
    ]
    paths += [f"/v1/programs/{world[f'program_{s}']['id']}/members" for s in ("a", "b", "l1", "l2")]
    paths += [f"/v1/venues/{world[f'venue_{s}']['id']}/terminals" for s in ("1", "2")]
    answers = []
    for path in paths:
        response = await client.get(path, params={"limit": 500}, headers=ADMIN)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def _fill(path: str, world: World, name: str | None) -> str:
    """The path with its id put in: a world object's, or (None) an id that names nothing."""
    return re.sub(r"\{[a-z_]+\}", world[name]["id"] if name else UNKNOWN_ID, path)


def _path_param(path: str) -> str | None:
    match = re.search(r"\{([a-z_]+)\}", path)
    return match.group(1) if match else None


def _normalise(path: str) -> str:
    """'/v1/programs/{program_id:uuid}' → '/v1/programs/{program_id}'."""
    return re.sub(r"\{([a-z_]+):[a-z]+\}", r"{\1}", path)


def _app_routes(app: Litestar) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route.path  # no websocket or raw ASGI routes in the API
        # OPTIONS is Litestar's automatic CORS answer and HEAD mirrors GET: neither runs a handler
        routes.update((m, _normalise(route.path)) for m in route.methods if m not in ("OPTIONS", "HEAD"))
    return routes


def _in_order(expect: Expect) -> list[Role]:
    """Refused roles first, the admin last: allowed writes (disabling terminal 1, say) come after the
    checks that need the world untouched."""
    return sorted(expect, key=lambda role: (expect[role] is not None, role == "admin"))


def test_the_table_names_every_role_for_every_route() -> None:
    """Each row of the table decides for all five roles."""
    for route, expect in MATRIX.items():
        assert tuple(expect) == ROLES, route


async def test_every_route_is_in_the_table(app: Litestar) -> None:
    """Every /v1 route of the app has a row, every row is a real route, and outside /v1 only the probes
    and the OpenAPI document are served."""
    routes = _app_routes(app)
    api = {r for r in routes if r[1].startswith("/v1/")}
    assert api - set(MATRIX) == set(), "routes without an authorization row"
    assert set(MATRIX) - api == set(), "rows for routes that no longer exist"
    outside = {path for _, path in routes - api}
    assert {p for p in outside if not p.startswith("/schema")} == NON_API_PATHS


@pytest.mark.parametrize(("method", "path"), list(MATRIX))
async def test_no_key_is_unauthenticated(client: httpx.AsyncClient, method: str, path: str) -> None:
    """Every /v1 route answers 401 without a key, before looking at anything else."""
    response = await client.request(method, _fill(path, {}, None))
    assert (response.status_code, error_of(response)["code"]) == (401, "unauthenticated")


@pytest.mark.parametrize(("method", "path"), list(MATRIX))
async def test_route_by_role(client: httpx.AsyncClient, db: Database, method: str, path: str) -> None:
    """For every role: a refused one gets 403 forbidden and changes nothing; an allowed one gets 2xx on its
    own tenant's object and 403/404 without data (and without change) on the other tenant's."""
    world, keys = await build_world(client, db)
    expect = MATRIX[(method, path)]
    for role in _in_order(expect):
        try:
            await _check(client, world, method, path, bearer(keys[role]), expect[role])
        except AssertionError as exc:
            raise AssertionError(f"{method} {path} as {role}: {exc}") from exc


async def _check(
    client: httpx.AsyncClient,
    world: World,
    method: str,
    path: str,
    headers: dict[str, str],
    expect: Allow | Reaches | None,
) -> None:
    param = _path_param(path)
    writes = method != "GET"
    if expect is None:
        target = _fill(path, world, DENIED_TARGET.get(param)) if param else path
        before = await snapshot(client, world) if writes else None
        response = await _send(client, method, target, world, path, headers)
        assert response.status_code == 403, response.text
        assert error_of(response)["code"] == "forbidden"
        if writes:
            assert await snapshot(client, world) == before
        return
    if isinstance(expect, Reaches):
        response = await _send(client, method, _fill(path, world, None), world, path, headers)
        assert response.status_code not in (401, 403), response.text
        return
    own = _fill(path, world, expect.own) if expect.own else path
    response = await _send(client, method, own, world, path, headers)
    assert 200 <= response.status_code < 300, response.text
    if expect.sees or expect.hidden:
        ids = {item["id"] for item in response.json()["items"]}
        assert {world[n]["id"] for n in expect.sees} <= ids
        assert {world[n]["id"] for n in expect.hidden} & ids == set()
    for other in expect.others:
        before = await snapshot(client, world)
        response = await _send(client, method, _fill(path, world, other), world, path, headers)
        assert response.status_code in (403, 404), (other, response.text)
        assert error_of(response)["code"] in ("forbidden", "not_found")
        assert world[other]["id"] not in response.text
        assert await snapshot(client, world) == before, other


async def _send(
    client: httpx.AsyncClient, method: str, url: str, world: World, route: str, headers: dict[str, str]
) -> httpx.Response:
    request = _request(method, route, world)
    extra_headers = request.pop("headers", {})
    return await client.request(method, url, headers={**headers, **extra_headers}, **request)


@pytest.mark.parametrize("role", ROLES)
async def test_a_revoked_key_is_refused_at_once(client: httpx.AsyncClient, role: Role) -> None:
    """Revoking any role's key turns its very next request into 401."""
    _world, keys = await build_world(client)
    headers = bearer(keys[role])
    before = await client.get("/v1/programs", headers=headers)
    assert before.status_code == (403 if role == "terminal" else 200)
    listed = (await client.get("/v1/keys", params={"limit": 500}, headers=ADMIN)).json()["items"]
    (row,) = [k for k in listed if keys[role].startswith(k["key_prefix"]) and k["revoked_at"] is None]
    assert (await client.delete(f"/v1/keys/{row['id']}", headers=ADMIN)).status_code == 204
    after = await client.get("/v1/programs", headers=headers)
    assert (after.status_code, error_of(after)["code"]) == (401, "unauthenticated")
    assert (await client.get("/v1/programs", headers=ADMIN)).status_code == 200


@pytest.mark.parametrize("by", ["admin", "partner", "venue"])
async def test_a_disabled_terminal_key_is_refused(client: httpx.AsyncClient, by: Role) -> None:
    """DELETE /v1/terminals/{id} makes that terminal's key 401 at once; the other terminal's key still
    authenticates."""
    world, keys = await build_world(client)
    response = await client.delete(f"/v1/terminals/{world['terminal_1']['id']}", headers=bearer(keys[by]))
    assert response.status_code == 204
    refused = await client.get("/v1/programs", headers=bearer(world["terminal_1"]["api_key"]))
    assert (refused.status_code, error_of(refused)["code"]) == (401, "unauthenticated")
    other = await client.get("/v1/programs", headers=bearer(world["terminal_2"]["api_key"]))
    assert (other.status_code, error_of(other)["code"]) == (403, "forbidden")
