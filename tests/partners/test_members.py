"""Members: created and changed over HTTP, found by card or phone, the phone encrypted at rest and bound
to its row."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from hub.crypto import DecryptionError
from hub.db import Database
from partners.members import decrypt_phone
from partners.models import Member
from tests import builders
from tests.conftest import ADMIN, TEST_KEYRING, error_of

Obj = dict[str, Any]


async def _raw_member(db: Database, member_id: str) -> Obj:
    """The stored columns as the database holds them, read past the ORM."""
    table = Member.__table__
    query = select(table.c.phone_ciphertext, table.c.phone_index, table.c.phone_masked).where(
        table.c.id == uuid.UUID(member_id)
    )
    async with db.engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return dict(row._mapping)


async def _load(db: Database, member_id: str) -> Member:
    async with db.sessionmaker() as session:
        member = await session.scalar(select(Member).where(Member.id == uuid.UUID(member_id)))
        assert member is not None
        return member


async def _find(client: httpx.AsyncClient, program: Obj, **query: str) -> list[str]:
    response = await client.get(f"/v1/programs/{program['id']}/members", params=query, headers=ADMIN)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["items"]]


async def test_create_normalises_and_masks(client: httpx.AsyncClient) -> None:
    """The card is upper-cased, the phone normalised and shown masked, the tier defaults to the first."""
    program = await builders.program(client)
    member = await builders.member(client, program, card_number="77ab-1", phone="8 (916) 123-45-67")
    assert member["card_number"] == "77AB-1"
    assert member["phone_masked"] == "+7 *** ***-45-67"
    assert (member["tier_code"], member["status"], member["name"]) == ("silver", "active", "Guest")
    assert "phone" not in member
    read = (await client.get(f"/v1/members/{member['id']}", headers=ADMIN)).json()
    assert {field: read[field] for field in member} == member  # the profile adds totals and favourites


async def test_card_numbers_are_unique_per_program(client: httpx.AsyncClient) -> None:
    """The same card (in any case) twice in one program is 409 card_number_taken; another program may
    hold it."""
    first, second = await builders.program(client), await builders.program(client)
    await builders.member(client, first, card_number="77CARD")
    response = await client.post(
        f"/v1/programs/{first['id']}/members",
        json={"card_number": "77card", "phone": "+79160000001"},
        headers=ADMIN,
    )
    assert (response.status_code, error_of(response)["code"]) == (409, "card_number_taken")
    await builders.member(client, second, card_number="77CARD")
    assert len(await _find(client, first)) == 1


async def test_an_unknown_tier_is_refused(client: httpx.AsyncClient) -> None:
    """A tier the program does not have is 422 on tier_code, and no member is made."""
    program = await builders.program(client)
    response = await client.post(
        f"/v1/programs/{program['id']}/members",
        json={"card_number": "771", "phone": "+79160000001", "tier_code": "bronze"},
        headers=ADMIN,
    )
    assert (response.status_code, error_of(response)["details"]["field"]) == (422, "tier_code")
    assert await _find(client, program) == []


async def test_find_by_card_or_by_phone_in_any_format(client: httpx.AsyncClient) -> None:
    """?card_number= matches ignoring case; ?phone= matches however the number is written."""
    program = await builders.program(client)
    wanted = await builders.member(client, program, card_number="77ABC", phone="+79161112233")
    await builders.member(client, program, card_number="77XYZ", phone="+79164445566")
    assert await _find(client, program, card_number="77abc") == [wanted["id"]]
    assert await _find(client, program, phone="8 916 111-22-33") == [wanted["id"]]
    assert await _find(client, program, phone="+7 (916) 111 22 33") == [wanted["id"]]
    assert await _find(client, program, phone="+79169999999") == []
    response = await client.get(
        f"/v1/programs/{program['id']}/members", params={"phone": "12"}, headers=ADMIN
    )
    assert (response.status_code, error_of(response)["code"]) == (422, "phone_invalid")


async def test_the_phone_search_stays_inside_the_program(client: httpx.AsyncClient) -> None:
    """A phone known in another program finds nothing here."""
    first, second = await builders.program(client), await builders.program(client)
    await builders.member(client, first, phone="+79161112233")
    assert await _find(client, second, phone="+79161112233") == []


async def test_update_changes_phone_name_tier_and_status(client: httpx.AsyncClient) -> None:
    """PATCH re-encrypts a new phone (the old one no longer finds the member) and changes the rest."""
    program = await builders.program(client)
    member = await builders.member(client, program, phone="+79161112233")
    response = await client.patch(
        f"/v1/members/{member['id']}",
        json={"phone": "+7 903 000-11-22", "name": None, "tier_code": "gold", "status": "blocked"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["phone_masked"] == "+7 *** ***-11-22"
    assert (changed["name"], changed["tier_code"], changed["status"]) == (None, "gold", "blocked")
    assert await _find(client, program, phone="+79030001122") == [member["id"]]
    assert await _find(client, program, phone="+79161112233") == []


async def test_update_refuses_bad_values_and_changes_nothing(client: httpx.AsyncClient) -> None:
    """An invalid phone or an unknown tier in a PATCH is 422 and the member stays as it was."""
    program = await builders.program(client)
    member = await builders.member(client, program, phone="+79161112233")
    for body, field in [({"phone": "+7 000", "name": "X"}, "phone"), ({"tier_code": "bronze"}, "tier_code")]:
        response = await client.patch(f"/v1/members/{member['id']}", json=body, headers=ADMIN)
        assert (response.status_code, error_of(response)["details"]["field"]) == (422, field)
    read = (await client.get(f"/v1/members/{member['id']}", headers=ADMIN)).json()
    assert {field: read[field] for field in member} == member


async def test_phone_is_encrypted_at_rest(client: httpx.AsyncClient, db: Database) -> None:
    """The stored row holds no readable phone: a ciphertext, a keyed index and the mask only."""
    program = await builders.program(client)
    member = await builders.member(client, program, phone="+79161234567")
    raw = await _raw_member(db, member["id"])
    ciphertext = bytes(raw["phone_ciphertext"])
    for form in (b"+79161234567", b"79161234567", b"9161234567", b"1234567"):
        assert form not in ciphertext
    assert "1234567" not in raw["phone_index"]
    assert raw["phone_index"] == TEST_KEYRING.blind_index("+79161234567")
    assert raw["phone_masked"] == "+7 *** ***-45-67"
    assert decrypt_phone(TEST_KEYRING, await _load(db, member["id"])) == "+79161234567"


async def test_a_ciphertext_copied_to_another_row_does_not_decrypt(
    client: httpx.AsyncClient, db: Database
) -> None:
    """The row id is the associated data: the first member's ciphertext on the second's row fails."""
    program = await builders.program(client)
    first = await builders.member(client, program, phone="+79161234567")
    second = await builders.member(client, program, phone="+79035550011")
    stolen = (await _load(db, first["id"])).phone_ciphertext
    async with db.transaction() as session:
        await session.execute(
            update(Member).where(Member.id == uuid.UUID(second["id"])).values(phone_ciphertext=stolen)
        )
    moved = await _load(db, second["id"])
    assert moved.phone_ciphertext == stolen
    with pytest.raises(DecryptionError):
        decrypt_phone(TEST_KEYRING, moved)
    assert decrypt_phone(TEST_KEYRING, await _load(db, first["id"])) == "+79161234567"
