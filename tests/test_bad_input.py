"""Bad input gets the typed error naming what is wrong, and leaves the database exactly as it was."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest

from tests import builders
from tests.conftest import ADMIN, error_of

Obj = dict[str, Any]
TIER = {"code": "silver", "name": "Silver"}


async def _world(client: httpx.AsyncClient) -> Obj:
    """A little of everything, so that a stray write anywhere would show."""
    partner = await builders.partner(client, name="Taken Partner")
    venue = await builders.venue(client, partner, name="Taken Venue")
    program = await builders.program(client, name="Taken Program")
    await builders.terminal(client, venue, name="Taken Till")
    await builders.offer(client, program, at_venue=venue)
    member = await builders.member(client, program, card_number="77TAKEN")
    return {"partner": partner, "venue": venue, "program": program, "member": member}


async def _everything(client: httpx.AsyncClient, world: Obj) -> list[Any]:
    """What the admin sees of every table the registry writes."""
    program, venue = world["program"]["id"], world["venue"]["id"]
    paths = [
        "/v1/programs",
        "/v1/partners",
        "/v1/venues",
        "/v1/offers",
        "/v1/keys",
        f"/v1/programs/{program}/members",
        f"/v1/venues/{venue}/terminals",
    ]
    answers = []
    for path in paths:
        response = await client.get(path, params={"limit": 500}, headers=ADMIN)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def _fill(value: Any, world: Obj) -> Any:
    """Put world ids where a body or path says "{program}", "{venue}" …"""
    if isinstance(value, str):
        return re.sub(r"\{([a-z]+)\}", lambda m: str(world[m.group(1)]["id"]), value)
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


async def _refused(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    status: int,
    code: str,
    field: str | None = None,
    *,
    world: Obj | None = None,
    **request: Any,
) -> Obj:
    """Send a bad request: it gets `status` with `code` (naming `field`); nothing in the database moves."""
    world = world or await _world(client)
    before = await _everything(client, world)
    if "json" in request:
        request["json"] = _fill(request["json"], world)
    headers = {**ADMIN, **request.pop("headers", {})}
    response = await client.request(method, _fill(path, world), headers=headers, **request)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code
    if field is not None:
        assert error["details"]["field"] == field, error
    assert await _everything(client, world) == before
    return error


# ---- the shape of the body ----


@pytest.mark.parametrize(
    "body", [b'{"name": ', b"{name: 'x'}", b"\xff\xfe", b"nul", b'{"name": "a"} trailing']
)
async def test_malformed_json(client: httpx.AsyncClient, body: bytes) -> None:
    """A body that is not JSON is 422 validation_failed on 'body', saying it is not valid JSON."""
    error = await _refused(client, "POST", "/v1/partners", 422, "validation_failed", "body", content=body)
    assert "not valid JSON" in error["message"]


async def test_an_empty_body_is_named(client: httpx.AsyncClient) -> None:
    """No body at all is 422 on 'body' with a sentence, not an internal key name."""
    error = await _refused(client, "POST", "/v1/partners", 422, "validation_failed", "body", content=b"")
    assert "'data'" not in error["message"]
    assert "body is required" in error["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/partners", {"name": "New", "colour": "red"}),
        ("/v1/programs/{program}/members", {"card_number": "771", "phone": "+79160000001", "email": "a@b"}),
        ("/v1/offers", {"program_id": "{program}", "discount_percent": 5, "discount": 5}),
    ],
)
async def test_unknown_fields(client: httpx.AsyncClient, path: str, body: Obj) -> None:
    """A field the API does not know is refused, not silently dropped, and the message names it."""
    error = await _refused(client, "POST", path, 422, "validation_failed", json=body)
    unknown = next(iter(set(body) - {"name", "card_number", "phone", "program_id", "discount_percent"}))
    assert unknown in error["message"]


async def test_unknown_nested_field(client: httpx.AsyncClient) -> None:
    """An unknown field inside a tier is named by its path."""
    body = {"name": "P", "kind": "coalition", "currency": "RUB", "tiers": [{**TIER, "colour": "gold"}]}
    error = await _refused(client, "POST", "/v1/programs", 422, "validation_failed", json=body)
    assert "colour" in error["message"]
    assert error["details"]["field"].startswith("tiers[0]")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/partners", {"name": 5}, "name"),
        ("/v1/partners", ["name"], "body"),
        (
            "/v1/venues",
            {"partner_id": "not-a-uuid", "name": "V", "city": "M", "district": "D", "timezone": "UTC"},
            "partner_id",
        ),
        ("/v1/offers", {"program_id": "{program}", "discount_percent": "ten"}, "discount_percent"),
        ("/v1/programs", {"name": "P", "kind": "coalition", "currency": "RUB", "tiers": TIER}, "tiers"),
        ("/v1/programs", {"name": "P", "kind": "loyalty", "currency": "RUB", "tiers": [TIER]}, "kind"),
        ("/v1/programs", {"name": "P", "kind": "coalition", "currency": "rub", "tiers": [TIER]}, "currency"),
        ("/v1/keys", {"role": "superuser", "name": "k"}, "role"),
    ],
)
async def test_wrong_types(client: httpx.AsyncClient, path: str, body: Any, field: str) -> None:
    """A value of the wrong type or outside its enumeration is 422 naming the field."""
    await _refused(client, "POST", path, 422, "validation_failed", field, json=body)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/venues", {"latitude": 91}, "latitude"),
        ("/v1/venues", {"longitude": -180.5}, "longitude"),
        ("/v1/offers", {"discount_percent": 100.01}, "discount_percent"),
        ("/v1/offers", {"discount_percent": -1}, "discount_percent"),
        ("/v1/offers", {"discount_percent": 5, "max_discount_minor": -100}, "max_discount_minor"),
        ("/v1/offers", {"discount_percent": 5, "max_discount_minor": 10**14}, "max_discount_minor"),
        ("/v1/programs", {"pin": {"ttl_seconds": 5}}, "pin.ttl_seconds"),
        ("/v1/programs", {"pin": {"max_attempts": 0}}, "pin.max_attempts"),
        ("/v1/programs", {"tiers": [{**TIER, "discount_percent": 150}]}, "tiers[0].discount_percent"),
        ("/v1/programs", {"tiers": []}, "tiers"),
        ("/v1/partners", {"name": ""}, "name"),
        ("/v1/partners", {"name": "x" * 201}, "name"),
        ("/v1/partners", {"name": "   "}, "name"),
    ],
)
async def test_out_of_range_values(client: httpx.AsyncClient, path: str, body: Obj, field: str) -> None:
    """Numbers and strings outside their bounds are 422 naming the field (nested by path)."""
    world = await _world(client)
    base: dict[str, Obj] = {
        "/v1/venues": {
            "partner_id": world["partner"]["id"],
            "name": "V",
            "city": "M",
            "district": "D",
            "timezone": "UTC",
        },
        "/v1/offers": {"program_id": world["program"]["id"]},
        "/v1/programs": {"name": "P", "kind": "coalition", "currency": "RUB", "tiers": [TIER]},
        "/v1/partners": {},
    }
    before = await _everything(client, world)
    response = await client.post(path, json={**base[path], **body}, headers=ADMIN)
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert (error["code"], error["details"]["field"]) == ("validation_failed", field)
    assert await _everything(client, world) == before


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"cursor": "!!not-ours"}, "cursor")],
)
async def test_bad_query_parameters(client: httpx.AsyncClient, params: Obj, field: str) -> None:
    """A page size outside 1-500 or a cursor the API did not give out is 422 naming the parameter."""
    await _refused(client, "GET", "/v1/programs", 422, "validation_failed", field, params=params)


async def test_a_path_id_that_is_not_a_uuid(client: httpx.AsyncClient) -> None:
    """A malformed id in the path is 404 in the typed shape."""
    await _refused(client, "PATCH", "/v1/programs/not-a-uuid", 404, "not_found", json={"name": "X"})


# ---- size ----


async def test_an_oversize_body_is_refused(client: httpx.AsyncClient) -> None:
    """A JSON body over 1 MiB is 413 payload_too_large."""
    body = b'{"name": "' + b"x" * (1_048_576 + 1) + b'"}'
    await _refused(client, "POST", "/v1/partners", 413, "payload_too_large", content=body)


async def test_the_member_import_takes_more_than_1_mib(client: httpx.AsyncClient) -> None:
    """The CSV import has its own, larger limit: a 1.5 MiB file goes in."""
    program = await builders.program(client)
    lines = [f"77{i:09d},+7916{i:07d},{'N' * 40}" for i in range(25_000)]
    body = ("card_number,phone,name\n" + "\n".join(lines) + "\n").encode()
    assert len(body) > 1_500_000
    response = await client.post(
        f"/v1/programs/{program['id']}/members/import",
        content=body,
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == 25_000


# ---- the registry's own rules ----


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/partners", {"name": "taken partner"}),
        ("/v1/programs", {"name": "TAKEN PROGRAM", "kind": "coalition", "currency": "RUB", "tiers": [TIER]}),
        ("/v1/venues/{venue}/terminals", {"name": "Taken Till"}),
        ("PATCH /v1/partners/{partner}", {"name": "Taken Partner"}),
    ],
)
async def test_duplicate_names(client: httpx.AsyncClient, path: str, body: Obj) -> None:
    """A name already in use is 409 name_taken on 'name'."""
    method, _, url = path.rpartition(" ")
    if method == "PATCH":
        world = await _world(client)
        other = await builders.partner(client, name="Other Partner")
        before = await _everything(client, world)
        response = await client.patch(f"/v1/partners/{other['id']}", json=body, headers=ADMIN)
        assert (response.status_code, error_of(response)["code"]) == (409, "name_taken")
        assert await _everything(client, world) == before
        return
    await _refused(client, "POST", url, 409, "name_taken", "name", json=body)


async def test_a_duplicate_venue_name_within_its_partner(client: httpx.AsyncClient) -> None:
    """A second venue of the same partner with the same name is 409 name_taken."""
    world = await _world(client)
    before = await _everything(client, world)
    body = {
        "partner_id": world["partner"]["id"],
        "name": "Taken Venue",
        "city": "M",
        "district": "D",
        "timezone": "UTC",
    }
    response = await client.post("/v1/venues", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (409, "name_taken")
    assert await _everything(client, world) == before


async def test_a_duplicate_card_number(client: httpx.AsyncClient) -> None:
    """A card number the program already has is 409 card_number_taken."""
    body = {"card_number": "77taken", "phone": "+79160000001"}
    await _refused(
        client, "POST", "/v1/programs/{program}/members", 409, "card_number_taken", "card_number", json=body
    )


@pytest.mark.parametrize("phone", ["123", "+7 916 123", "not a phone", "+999 123 4567"])
async def test_an_invalid_phone(client: httpx.AsyncClient, phone: str) -> None:
    """A phone that is not a real number is 422 phone_invalid on 'phone', on create and on update."""
    world = await _world(client)
    body = {"card_number": "77NEW", "phone": phone}
    path = "/v1/programs/{program}/members"
    await _refused(client, "POST", path, 422, "phone_invalid", "phone", world=world, json=body)
    path = "/v1/members/{member}"
    await _refused(client, "PATCH", path, 422, "phone_invalid", "phone", world=world, json={"phone": phone})


@pytest.mark.parametrize("zone", ["Mars/Olympus", "MSK+3", "../../etc/passwd", "europe/moscow"])
async def test_an_invalid_timezone(client: httpx.AsyncClient, zone: str) -> None:
    """A time zone that is not an IANA name is 422 on 'timezone'."""
    body = {"partner_id": None, "name": "New", "city": "M", "district": "D", "timezone": zone}
    world = await _world(client)
    before = await _everything(client, world)
    response = await client.post(
        "/v1/venues", json={**body, "partner_id": world["partner"]["id"]}, headers=ADMIN
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["details"]["field"] == "timezone"
    assert await _everything(client, world) == before


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"type": "pattern", "value": "^77[0-9"}, "card_rules[0].value"),
        ({"type": "pattern", "value": "(?P<x"}, "card_rules[0].value"),
        ({"type": "signed_qr", "public_key": "not base64 at all, but long enough to pass the length"}, None),
        ({"type": "signed_qr", "public_key": base64.b64encode(b"k" * 31).decode() + "AAAA"}, None),
        ({"type": "signed_qr", "public_key": base64.b64encode(b"k" * 33).decode()}, None),
    ],
)
async def test_invalid_card_rules(client: httpx.AsyncClient, rule: Obj, field: str | None) -> None:
    """A regular expression that does not compile or a public key that is not a raw Ed25519 key is 422
    card_rule_invalid naming the rule."""
    body = {"name": "P", "kind": "coalition", "currency": "RUB", "tiers": [TIER], "card_rules": [rule]}
    error = await _refused(client, "POST", "/v1/programs", 422, "card_rule_invalid", json=body)
    assert error["details"]["field"] == (field or "card_rules[0].public_key")


async def test_a_valid_ed25519_key_is_accepted(client: httpx.AsyncClient) -> None:
    """The same rule with a real 32-byte Ed25519 public key is accepted: the refusals are not blanket."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    rule = {"type": "signed_qr", "public_key": base64.b64encode(raw).decode()}
    program = await builders.program(client, card_rules=[rule])
    assert program["card_rules"] == [rule]
