"""The member import in a program whose tiers promote automatically: the tier column cannot move anyone."""

from __future__ import annotations

from typing import Any

import httpx

from tests import builders
from tests.conftest import ADMIN

Obj = dict[str, Any]
AUTO_TIERS = [
    {"code": "base", "name": "Базовый", "discount_percent": 5},
    {
        "code": "vip",
        "name": "VIP Гость",
        "discount_percent": 10,
        "promote_when": {"metric": "visits", "over": 3, "period_days": 90},
    },
]


async def _import(client: httpx.AsyncClient, program: Obj, body: str) -> Obj:
    response = await client.post(
        f"/v1/programs/{program['id']}/members/import",
        content=body.encode(),
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    report: Obj = response.json()
    return report


async def _tiers(client: httpx.AsyncClient, program: Obj) -> dict[str, str]:
    listed = await client.get(f"/v1/programs/{program['id']}/members", params={"limit": 500}, headers=ADMIN)
    return {m["card_number"]: m["tier_code"] for m in listed.json()["items"]}


async def test_the_tier_column_cannot_move_members_of_an_auto_promoting_program(
    client: httpx.AsyncClient,
) -> None:
    """An existing member's row naming another tier, or a new member's naming any tier but the entry one,
    is rejected tier_auto_promoted; rows with the entry tier, the member's own tier or no tier go in."""
    program = await builders.program(client, tiers=AUTO_TIERS)
    await builders.member(client, program, card_number="5501", tier_code="base", name="Анна")
    report = await _import(
        client,
        program,
        "card_number,phone,name,tier_code\n"
        "5501,+79160000001,Анна Петрова,vip\n"  # existing, another tier: rejected
        "5502,+79160000002,Борис,vip\n"  # new, not the entry tier: rejected
        "5503,+79160000003,Вероника,base\n"  # new, entry tier
        "5504,+79160000004,Глеб,\n",  # new, no tier: the entry tier
    )
    assert (report["created"], report["updated"]) == (2, 0)
    assert [(r["line"], r["code"]) for r in report["rejected"]] == [
        (2, "tier_auto_promoted"),
        (3, "tier_auto_promoted"),
    ]
    assert "automatically" in report["rejected"][0]["message"]
    assert await _tiers(client, program) == {"5501": "base", "5503": "base", "5504": "base"}


async def test_a_manual_program_still_takes_the_tier_column(client: httpx.AsyncClient) -> None:
    """Without auto-promotion the tier column sets the tier of new and existing members alike."""
    program = await builders.program(
        client, tiers=[{k: v for k, v in t.items() if k != "promote_when"} for t in AUTO_TIERS]
    )
    await builders.member(client, program, card_number="5601", tier_code="base")
    report = await _import(
        client, program, "card_number,phone,tier_code\n5601,+79160000011,vip\n5602,+79160000012,vip\n"
    )
    assert (report["created"], report["updated"], report["rejected"]) == (1, 1, [])
    assert await _tiers(client, program) == {"5601": "vip", "5602": "vip"}
