"""Member import: CSV over HTTP and from the command line, an upsert by card number that reports each bad
row and changes nothing when run again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec
from sqlalchemy import select

from hub.config import parse_secret_keys
from hub.crypto import Keyring, generate_secret_key
from hub.db import Database
from hub.db.migrate import upgrade
from partners import services
from partners.members import decrypt_phone
from partners.models import Member
from partners.schemas import ProgramCreate
from tests import builders
from tests.conftest import ADMIN, error_of

Obj = dict[str, Any]
CSV_HEADERS = {**ADMIN, "Content-Type": "text/csv"}
GOOD = (
    "card_number,phone,name,tier_code\n"
    "771,+79160000001,Anna,silver\n"
    "772,8 916 000-00-02,Boris,gold\n"
    "773,+79160000003,,\n"
)


async def _import(client: httpx.AsyncClient, program: Obj, body: str | bytes) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return await client.post(
        f"/v1/programs/{program['id']}/members/import", content=content, headers=CSV_HEADERS
    )


async def _members(client: httpx.AsyncClient, program: Obj) -> list[Obj]:
    response = await client.get(f"/v1/programs/{program['id']}/members", params={"limit": 500}, headers=ADMIN)
    assert response.status_code == 200
    items: list[Obj] = response.json()["items"]
    return sorted(items, key=lambda m: m["card_number"])


async def _stored(db: Database) -> list[tuple[Any, ...]]:
    """Every member row as stored, ciphertext and timestamps included."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(Member.__table__).order_by(Member.__table__.c.card_number))
        return [tuple(r) for r in rows]


async def test_import_creates_members(client: httpx.AsyncClient) -> None:
    """Three good rows make three members with normalised phones, names and tiers (the first by default)."""
    program = await builders.program(client)
    response = await _import(client, program, GOOD)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0, "rejected": []}
    members = await _members(client, program)
    assert [(m["card_number"], m["name"], m["tier_code"]) for m in members] == [
        ("771", "Anna", "silver"),
        ("772", "Boris", "gold"),
        ("773", None, "silver"),
    ]
    assert members[1]["phone_masked"] == "+7 *** ***-00-02"


async def test_running_the_same_file_again_changes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    """A second run reports every row unchanged and leaves every stored byte as it was."""
    program = await builders.program(client)
    assert (await _import(client, program, GOOD)).status_code == 200
    before = await _stored(db)
    response = await _import(client, program, GOOD)
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 3, "rejected": []}
    assert await _stored(db) == before


async def test_changed_rows_are_updated(client: httpx.AsyncClient) -> None:
    """A new phone, name or tier updates that member; a new card is created; the rest are unchanged."""
    program = await builders.program(client)
    await _import(client, program, GOOD)
    changed = (
        "card_number,phone,name,tier_code\n"
        "771,+79169999999,Anna,silver\n"
        "772,+79160000002,Boris B.,gold\n"
        "773,+79160000003,,gold\n"
        "774,+79160000004,Dina,\n"
    )
    response = await _import(client, program, changed)
    assert response.json() == {"created": 1, "updated": 3, "unchanged": 0, "rejected": []}
    again = await _import(client, program, changed)
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 4, "rejected": []}
    members = {m["card_number"]: m for m in await _members(client, program)}
    assert members["771"]["phone_masked"] == "+7 *** ***-99-99"
    assert (members["772"]["name"], members["773"]["tier_code"]) == ("Boris B.", "gold")
    found = await client.get(
        f"/v1/programs/{program['id']}/members", params={"phone": "+79169999999"}, headers=ADMIN
    )
    assert [m["card_number"] for m in found.json()["items"]] == ["771"]


async def test_each_bad_row_is_reported_and_the_others_go_in(client: httpx.AsyncClient) -> None:
    """Bad card, bad phone, unknown tier and a repeated card are each reported with their line and code;
    the good rows around them, after a blank line too, are imported."""
    program = await builders.program(client)
    body = (
        "card_number,phone,name,tier_code\n"  # line 1
        "771,+79160000001,Anna,\n"  # 2 good
        "77 1!,+79160000002,Bad card,\n"  # 3
        "772,not a phone,Bad phone,\n"  # 4
        "\n"  # 5 blank: skipped, still counted
        "773,+79160000003,Bad tier,bronze\n"  # 6
        "771,+79160000009,Again,\n"  # 7 repeats line 2
        "774,+79160000004,Dina,gold\n"  # 8 good
    )
    response = await _import(client, program, body)
    assert response.status_code == 200
    report = response.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert [(r["line"], r["code"]) for r in report["rejected"]] == [
        (3, "card_number_invalid"),
        (4, "phone_invalid"),
        (6, "tier_invalid"),
        (7, "duplicate_in_file"),
    ]
    assert all(r["message"] for r in report["rejected"])
    assert "line 2" in report["rejected"][3]["message"]
    assert [(m["card_number"], m["name"]) for m in await _members(client, program)] == [
        ("771", "Anna"),
        ("774", "Dina"),
    ]


async def test_columns_may_come_in_any_order_with_a_bom(client: httpx.AsyncClient) -> None:
    """A UTF-8 BOM, upper-case headers and another column order are read; name and tier may be absent."""
    program = await builders.program(client)
    response = await _import(client, program, "\ufeffPHONE,Card_Number\n+79160000001,77a\n".encode())
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0, "rejected": []}
    assert [m["card_number"] for m in await _members(client, program)] == ["77A"]


async def test_a_missing_header_column_is_refused(client: httpx.AsyncClient) -> None:
    """Without a phone column (or without any header) the file is 422 and nothing is imported."""
    program = await builders.program(client)
    for body in ("card_number,name\n771,Anna\n", "771,+79160000001\n", ""):
        response = await _import(client, program, body)
        assert response.status_code == 422, body
        error = error_of(response)
        assert (error["code"], error["details"]["field"]) == ("validation_failed", "body")
    assert await _members(client, program) == []


async def test_a_file_that_is_not_utf8_is_refused(client: httpx.AsyncClient) -> None:
    """A Windows-1251 file is 422 naming UTF-8, and nothing is imported."""
    program = await builders.program(client)
    response = await _import(
        client, program, "card_number,phone,name\n771,+79160000001,Анна\n".encode("cp1251")
    )
    assert response.status_code == 422
    assert "UTF-8" in error_of(response)["message"]
    assert await _members(client, program) == []


# ---- the command line ----


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "coalition-hub"
    return subprocess.run(  # noqa: S603  # our own console script with fixed arguments
        [str(command), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _make_program(url: str) -> uuid.UUID:
    database = Database(url)
    try:
        async with database.transaction() as session:
            body = {
                "name": "CLI",
                "kind": "coalition",
                "currency": "RUB",
                "tiers": [{"code": "s", "name": "S"}],
            }
            program = await services.create_program(session, msgspec.convert(body, ProgramCreate))
    finally:
        await database.dispose()
    return program.id


async def _phones(url: str, keyring: Keyring) -> dict[str, str]:
    database = Database(url)
    try:
        async with database.sessionmaker() as session:
            return {m.card_number: decrypt_phone(keyring, m) for m in await session.scalars(select(Member))}
    finally:
        await database.dispose()


def test_cli_import_reports_and_is_idempotent(tmp_path: Path) -> None:
    """`coalition-hub members import` upserts, prints the counts and each bad line, and a re-run changes
    nothing; phones are stored under HUB_SECRET_KEYS."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    secret = generate_secret_key()
    env = {"HUB_DATABASE_URL": url, "HUB_VAR_DIR": str(tmp_path / "var"), "HUB_SECRET_KEYS": secret}
    upgrade(url)
    program_id = asyncio.run(_make_program(url))
    csv_file = tmp_path / "members.csv"
    csv_file.write_text("card_number,phone,name\n771,+79160000001,Anna\n772,nope,Boris\n773,89160000003,\n")
    first = _cli(["members", "import", str(csv_file), "--program", str(program_id)], env)
    assert first.returncode == 0, first.stderr
    assert "created 2, updated 0, unchanged 0, rejected 1" in first.stderr
    assert "phone_invalid" in first.stderr
    second = _cli(["members", "import", str(csv_file), "--program", str(program_id)], env)
    assert second.returncode == 0, second.stderr
    assert "created 0, updated 0, unchanged 2, rejected 1" in second.stderr
    keyring = Keyring(parse_secret_keys(secret))
    assert asyncio.run(_phones(url, keyring)) == {"771": "+79160000001", "773": "+79160000003"}


def test_cli_import_refuses_bad_input_with_one_line(tmp_path: Path) -> None:
    """An unknown program, a missing column or a non-UTF-8 file exit 1 with a message, not a traceback."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {
        "HUB_DATABASE_URL": url,
        "HUB_VAR_DIR": str(tmp_path / "var"),
        "HUB_SECRET_KEYS": generate_secret_key(),
    }
    upgrade(url)
    program_id = asyncio.run(_make_program(url))
    good = tmp_path / "good.csv"
    good.write_text("card_number,phone\n771,+79160000001\n")
    no_phone = tmp_path / "no_phone.csv"
    no_phone.write_text("card_number,name\n771,Anna\n")
    cp1251 = tmp_path / "cp1251.csv"
    cp1251.write_bytes("card_number,phone,name\n771,+79160000001,Анна\n".encode("cp1251"))
    cases = [
        (good, str(uuid.uuid4()), "not_found"),
        (no_phone, str(program_id), "validation_failed"),
        (cp1251, str(program_id), "UTF-8"),
    ]
    for file, program, expected in cases:
        result = _cli(["members", "import", str(file), "--program", program], env)
        assert result.returncode == 1, (file, result.stderr)
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert asyncio.run(_phones(url, Keyring(parse_secret_keys(env["HUB_SECRET_KEYS"])))) == {}
