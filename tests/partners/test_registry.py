"""The registry over HTTP: programs, partners, venues, terminals, offers and API keys."""

from __future__ import annotations

from typing import Any

import httpx

from tests import builders
from tests.conftest import ADMIN, bearer, error_of

Obj = dict[str, Any]
PREFIXES = {"admin": "hub_adm_", "concierge": "hub_con_", "partner": "hub_ptn_", "venue": "hub_ven_"}
SILVER = {"code": "silver", "name": "Silver", "discount_percent": 5}


async def _all(client: httpx.AsyncClient, path: str, limit: int = 2) -> list[Obj]:
    """Every item of a list endpoint, following next_cursor page by page."""
    items: list[Obj] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(path, params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# ---- programs ----


async def test_program_reads_back_as_created(client: httpx.AsyncClient) -> None:
    """A program keeps its card rules (prefixes upper-cased), PIN policy, tiers and their fields."""
    program = await builders.program(
        client,
        card_rules=[{"type": "prefix", "value": "ab7"}, {"type": "pattern", "value": "^99[0-9]{6}$"}],
        pin={"digits": 8, "ttl_seconds": 120, "max_attempts": 3},
        tiers=[
            {"code": "silver", "name": "Silver", "discount_percent": 12.5, "welcome_bonus_minor": 50_000},
            {
                "code": "gold",
                "name": "Gold",
                "discount_percent": 20,
                "bonus_percent": 5,
                "max_bonus_payment_percent": 30,
                "promote_when": {"metric": "visits", "over": 10, "period_days": 90},
            },
        ],
    )
    read = (await client.get(f"/v1/programs/{program['id']}", headers=ADMIN)).json()
    assert read == program
    assert read["card_rules"] == [
        {"type": "prefix", "value": "AB7"},
        {"type": "pattern", "value": "^99[0-9]{6}$"},
    ]
    assert (read["pin"]["digits"], read["pin"]["ttl_seconds"], read["pin"]["max_attempts"]) == (8, 120, 3)
    silver, gold = read["tiers"]
    assert (silver["discount_percent"], silver["welcome_bonus_minor"], silver["promote_when"]) == (
        12.5,
        50_000,
        None,
    )
    assert (gold["bonus_percent"], gold["max_bonus_payment_percent"]) == (5, 30)
    assert gold["promote_when"] == {"metric": "visits", "over": 10, "period_days": 90}


async def test_program_names_are_unique_ignoring_case(client: httpx.AsyncClient) -> None:
    """A second program named like the first, in any case, is 409 name_taken."""
    await builders.program(client, name="City Club")
    response = await client.post(
        "/v1/programs",
        json={"name": "CITY club", "kind": "coalition", "currency": "RUB", "tiers": [SILVER]},
        headers=ADMIN,
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "name_taken"


async def test_the_first_tier_has_no_promotion_condition(client: httpx.AsyncClient) -> None:
    """Members start at the first tier, so a condition on it is 422 tier_invalid."""
    tier = {**SILVER, "promote_when": {"metric": "spent", "over": 1000}}
    response = await client.post(
        "/v1/programs",
        json={"name": "P", "kind": "coalition", "currency": "RUB", "tiers": [tier]},
        headers=ADMIN,
    )
    assert response.status_code == 422
    error = error_of(response)
    assert (error["code"], error["details"]["field"]) == ("tier_invalid", "tiers[0].promote_when")


async def test_tier_codes_are_unique_and_at_most_100(client: httpx.AsyncClient) -> None:
    """Repeated tier codes and more than 100 tiers are refused; exactly 100 is fine."""
    body: Obj = {"name": "Tiers", "kind": "coalition", "currency": "RUB", "tiers": [SILVER, SILVER]}
    response = await client.post("/v1/programs", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (422, "tier_invalid")
    many = [{"code": f"t{i}", "name": f"T{i}"} for i in range(101)]
    response = await client.post("/v1/programs", json={**body, "tiers": many}, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "tiers")
    response = await client.post("/v1/programs", json={**body, "tiers": many[:100]}, headers=ADMIN)
    assert response.status_code == 201
    assert len(response.json()["tiers"]) == 100


async def test_a_venue_program_needs_an_existing_owner(client: httpx.AsyncClient) -> None:
    """kind=venue without owner_partner_id, or with an unknown one, is 422 on that field."""
    body: Obj = {"name": "Own", "kind": "venue", "currency": "RUB", "tiers": [SILVER]}
    response = await client.post("/v1/programs", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "owner_partner_id")
    body["owner_partner_id"] = "00000000-0000-4000-8000-000000000000"
    response = await client.post("/v1/programs", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "owner_partner_id")
    owner = await builders.partner(client)
    program = await builders.program(client, kind="venue", owner=owner)
    assert (program["kind"], program["owner_partner_id"]) == ("venue", owner["id"])


async def test_update_program_renames_and_replaces_tiers(client: httpx.AsyncClient) -> None:
    """PATCH renames, and a tiers list replaces the old one, keeping the order given."""
    program = await builders.program(client)
    platinum = {"code": "platinum", "name": "Platinum", "discount_percent": 25}
    response = await client.patch(
        f"/v1/programs/{program['id']}",
        json={"name": "Renamed", "tiers": [{**SILVER, "discount_percent": 7}, platinum]},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    read = (await client.get(f"/v1/programs/{program['id']}", headers=ADMIN)).json()
    assert read["name"] == "Renamed"
    assert [(t["code"], t["discount_percent"]) for t in read["tiers"]] == [("silver", 7), ("platinum", 25)]


async def test_a_tier_in_use_cannot_be_removed(client: httpx.AsyncClient) -> None:
    """Dropping a tier that members hold is 409 tier_in_use, and the tiers stay as they were."""
    program = await builders.program(client)
    await builders.member(client, program, tier_code="gold")
    response = await client.patch(f"/v1/programs/{program['id']}", json={"tiers": [SILVER]}, headers=ADMIN)
    assert response.status_code == 409
    assert error_of(response)["details"]["tiers"] == ["gold"]
    read = (await client.get(f"/v1/programs/{program['id']}", headers=ADMIN)).json()
    assert [t["code"] for t in read["tiers"]] == ["silver", "gold"]


async def test_renaming_a_program_to_a_taken_name_is_a_conflict(client: httpx.AsyncClient) -> None:
    """PATCH to another program's name is 409; to its own name in another case is fine."""
    first = await builders.program(client, name="First")
    second = await builders.program(client, name="Second")
    response = await client.patch(f"/v1/programs/{second['id']}", json={"name": "first"}, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (409, "name_taken")
    response = await client.patch(f"/v1/programs/{first['id']}", json={"name": "FIRST"}, headers=ADMIN)
    assert (response.status_code, response.json()["name"]) == (200, "FIRST")


async def test_lists_page_through_every_row_once(client: httpx.AsyncClient) -> None:
    """Following next_cursor visits each program exactly once."""
    made = {(await builders.program(client))["id"] for _ in range(5)}
    seen = [p["id"] for p in await _all(client, "/v1/programs", limit=2)]
    assert sorted(seen) == sorted(made)


async def test_an_unknown_program_is_not_found(client: httpx.AsyncClient) -> None:
    """An id that names nothing is 404 not_found."""
    response = await client.get("/v1/programs/00000000-0000-4000-8000-000000000000", headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (404, "not_found")


# ---- partners and venues ----


async def test_partners_create_rename_and_stay_unique(client: httpx.AsyncClient) -> None:
    """A partner reads back; renaming to another partner's name is 409."""
    first = await builders.partner(client, name="Ginza")
    second = await builders.partner(client, name="Novikov")
    assert (await client.get(f"/v1/partners/{first['id']}", headers=ADMIN)).json() == first
    response = await client.patch(f"/v1/partners/{second['id']}", json={"name": "ginza"}, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (409, "name_taken")
    response = await client.patch(
        f"/v1/partners/{second['id']}", json={"name": "Novikov Group"}, headers=ADMIN
    )
    assert response.json()["name"] == "Novikov Group"
    assert {p["name"] for p in await _all(client, "/v1/partners")} == {"Ginza", "Novikov Group"}


async def test_venue_names_are_unique_within_a_partner(client: httpx.AsyncClient) -> None:
    """Two partners may each have a venue 'Central'; one partner may not have two."""
    first, second = await builders.partner(client), await builders.partner(client)
    await builders.venue(client, first, name="Central")
    await builders.venue(client, second, name="Central")
    body = {"partner_id": first["id"], "name": "central", "city": "M", "district": "D", "timezone": "UTC"}
    response = await client.post("/v1/venues", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["code"]) == (409, "name_taken")


async def test_venues_filter_by_partner_and_city(client: httpx.AsyncClient) -> None:
    """?partner_id= and ?city= narrow the venue list."""
    first, second = await builders.partner(client), await builders.partner(client)
    moscow = await builders.venue(client, first, city="Moscow")
    kazan = await builders.venue(client, first, city="Kazan")
    other = await builders.venue(client, second, city="Moscow")
    by_partner = await client.get("/v1/venues", params={"partner_id": first["id"]}, headers=ADMIN)
    assert {v["id"] for v in by_partner.json()["items"]} == {moscow["id"], kazan["id"]}
    by_city = await client.get("/v1/venues", params={"city": "Moscow"}, headers=ADMIN)
    assert {v["id"] for v in by_city.json()["items"]} == {moscow["id"], other["id"]}


async def test_venue_update_checks_the_timezone(client: httpx.AsyncClient) -> None:
    """PATCH changes fields; an unknown time zone is 422 and changes nothing."""
    venue = await builders.venue(client, await builders.partner(client), latitude=55.75, longitude=37.61)
    path = f"/v1/venues/{venue['id']}"
    response = await client.patch(path, json={"district": "Tverskoy", "latitude": None}, headers=ADMIN)
    assert response.status_code == 200
    assert (response.json()["district"], response.json()["latitude"]) == ("Tverskoy", None)
    response = await client.patch(path, json={"timezone": "Mars/Olympus", "city": "X"}, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "timezone")
    read = (await client.get(path, headers=ADMIN)).json()
    assert (read["timezone"], read["city"]) == ("Europe/Moscow", "Moscow")


# ---- terminals ----


async def test_terminal_key_is_shown_once_and_works(client: httpx.AsyncClient) -> None:
    """Creating a terminal returns a hub_term_ key once; the terminal list never shows it."""
    venue = await builders.venue(client, await builders.partner(client))
    terminal = await builders.terminal(client, venue, name="Till 1")
    assert terminal["api_key"].startswith("hub_term_")
    assert len(terminal["api_key"]) >= len("hub_term_") + 22  # at least 128 random bits
    listed = (await client.get(f"/v1/venues/{venue['id']}/terminals", headers=ADMIN)).json()["items"]
    assert listed == [
        {
            "id": terminal["id"],
            "venue_id": venue["id"],
            "name": "Till 1",
            "is_disabled": False,
            "created_at": listed[0]["created_at"],
        }
    ]
    assert terminal["api_key"] not in str(listed)
    response = await client.post(
        f"/v1/venues/{venue['id']}/terminals", json={"name": "Till 1"}, headers=ADMIN
    )
    assert (response.status_code, error_of(response)["code"]) == (409, "name_taken")


async def test_a_disabled_terminal_cannot_get_a_new_key(client: httpx.AsyncClient) -> None:
    """After DELETE the terminal shows disabled and a terminal key for it is refused."""
    venue = await builders.venue(client, await builders.partner(client))
    terminal = await builders.terminal(client, venue)
    assert (await client.delete(f"/v1/terminals/{terminal['id']}", headers=ADMIN)).status_code == 204
    listed = (await client.get(f"/v1/venues/{venue['id']}/terminals", headers=ADMIN)).json()["items"]
    assert [t["is_disabled"] for t in listed] == [True]
    body = {"role": "terminal", "name": "again", "scope": {"terminal_id": terminal["id"]}}
    response = await client.post("/v1/keys", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "scope.terminal_id")
    assert (await client.delete(f"/v1/terminals/{terminal['id']}", headers=ADMIN)).status_code == 204


# ---- offers ----


async def test_offers_target_a_partner_or_a_venue(client: httpx.AsyncClient) -> None:
    """An offer is for a partner or a venue, not both; categories are deduplicated and sorted."""
    program = await builders.program(client)
    partner = await builders.partner(client)
    venue = await builders.venue(client, partner)
    at_partner = await builders.offer(
        client, program, at_partner=partner, excluded_categories=["wine", "bar", "wine"], tier_code="gold"
    )
    assert (at_partner["partner_id"], at_partner["venue_id"]) == (partner["id"], None)
    assert at_partner["excluded_categories"] == ["bar", "wine"]
    at_venue = await builders.offer(client, program, at_venue=venue, max_discount_minor=100_000)
    assert (at_venue["venue_id"], at_venue["max_discount_minor"]) == (venue["id"], 100_000)
    body = {"program_id": program["id"], "partner_id": partner["id"], "venue_id": venue["id"]}
    response = await client.post("/v1/offers", json={**body, "discount_percent": 5}, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "venue_id")
    listed = await client.get("/v1/offers", params={"venue_id": venue["id"]}, headers=ADMIN)
    assert [o["id"] for o in listed.json()["items"]] == [at_venue["id"]]


async def test_an_offer_names_a_real_tier_and_program(client: httpx.AsyncClient) -> None:
    """An unknown tier or program is 422 on its field."""
    program = await builders.program(client)
    body = {"program_id": program["id"], "discount_percent": 5, "tier_code": "bronze"}
    response = await client.post("/v1/offers", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "tier_code")
    body = {"program_id": "00000000-0000-4000-8000-000000000000", "discount_percent": 5}
    response = await client.post("/v1/offers", json=body, headers=ADMIN)
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "program_id")


async def test_offer_update_and_deactivation(client: httpx.AsyncClient) -> None:
    """PATCH changes the percent and switches the offer off."""
    offer = await builders.offer(client, await builders.program(client))
    response = await client.patch(
        f"/v1/offers/{offer['id']}", json={"discount_percent": 12.5, "is_active": False}, headers=ADMIN
    )
    assert response.status_code == 200
    read = (await client.get(f"/v1/offers/{offer['id']}", headers=ADMIN)).json()
    assert (read["discount_percent"], read["is_active"]) == (12.5, False)


# ---- API keys ----


async def test_each_role_takes_exactly_its_scope(client: httpx.AsyncClient) -> None:
    """A key's scope names the objects of its role; missing, extra or unknown scope is 422."""
    program = await builders.program(client)
    partner = await builders.partner(client)
    venue = await builders.venue(client, partner)
    cases: list[tuple[str, Obj, int]] = [
        ("admin", {}, 201),
        ("admin", {"partner_id": partner["id"]}, 422),
        ("concierge", {"program_ids": [program["id"]]}, 201),
        ("concierge", {}, 422),
        ("concierge", {"program_ids": ["00000000-0000-4000-8000-000000000000"]}, 422),
        ("partner", {"partner_id": partner["id"]}, 201),
        ("partner", {"venue_id": venue["id"]}, 422),
        ("partner", {"partner_id": venue["id"]}, 422),
        ("venue", {"venue_id": venue["id"]}, 201),
        ("venue", {"venue_id": venue["id"], "partner_id": partner["id"]}, 422),
        ("terminal", {"venue_id": venue["id"]}, 422),
    ]
    for role, scope, status in cases:
        response = await client.post(
            "/v1/keys", json={"role": role, "name": "k", "scope": scope}, headers=ADMIN
        )
        assert response.status_code == status, (role, scope, response.text)
        if status == 201:
            assert response.json()["api_key"].startswith(PREFIXES[role])
        else:
            assert error_of(response)["details"]["field"].startswith("scope")


async def test_keys_are_listed_without_the_key(client: httpx.AsyncClient) -> None:
    """The key list shows prefix, role and scope, never the key itself."""
    partner = await builders.partner(client)
    api_key = await builders.key(client, "partner", partner_id=partner["id"])
    listed = (await client.get("/v1/keys", headers=ADMIN)).json()["items"]
    assert api_key not in str(listed)
    (row,) = [k for k in listed if k["role"] == "partner"]
    assert api_key.startswith(row["key_prefix"])
    assert row["scope"]["partner_id"] == partner["id"]
    assert row["revoked_at"] is None


async def test_a_revoked_key_stops_at_once(client: httpx.AsyncClient) -> None:
    """After DELETE /v1/keys/{id} the very next request with that key is 401; the list shows it revoked."""
    partner = await builders.partner(client)
    api_key = await builders.key(client, "partner", partner_id=partner["id"])
    assert (await client.get("/v1/partners", headers=bearer(api_key))).status_code == 200
    (row,) = [
        k for k in (await client.get("/v1/keys", headers=ADMIN)).json()["items"] if k["role"] == "partner"
    ]
    assert (await client.delete(f"/v1/keys/{row['id']}", headers=ADMIN)).status_code == 204
    response = await client.get("/v1/partners", headers=bearer(api_key))
    assert (response.status_code, error_of(response)["code"]) == (401, "unauthenticated")
    listed = (await client.get("/v1/keys", headers=ADMIN)).json()["items"]
    assert [k["revoked_at"] is not None for k in listed if k["id"] == row["id"]] == [True]
    missing = await client.delete("/v1/keys/00000000-0000-4000-8000-000000000000", headers=ADMIN)
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")


async def test_malformed_authorization_is_unauthenticated(client: httpx.AsyncClient) -> None:
    """A wrong scheme, an empty token, an unknown key or an overlong one are all 401 with WWW-Authenticate."""
    for header in ["Basic abc", "Bearer ", "Bearer hub_adm_unknown", "Bearer " + "x" * 500]:
        response = await client.get("/v1/programs", headers={"Authorization": header})
        assert (response.status_code, error_of(response)["code"]) == (401, "unauthenticated"), header
        assert response.headers["www-authenticate"].startswith("Bearer")
