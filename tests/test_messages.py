"""Error messages read right: the article before a role or a kind ("an admin key", "an iiko connector")."""

from __future__ import annotations

import httpx
import pytest

from hub.errors import with_article
from tests import builders
from tests.conftest import ADMIN, error_of


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("admin", "an admin"),
        ("iiko", "an iiko"),
        ("amocrm", "an amocrm"),
        ("venue", "a venue"),
        ("rest", "a rest"),
    ],
)
def test_the_article_fits_the_word(word: str, expected: str) -> None:
    """'an' before a vowel, 'a' before a consonant."""
    assert with_article(word) == expected


async def test_refusals_name_the_role_with_the_right_article(client: httpx.AsyncClient) -> None:
    """An admin key on the guest flow, an admin key with a venue scope, an iiko connector with a bearer token:
    each message reads "An admin …" / "An iiko …", never "A admin"."""
    scan = await client.post("/v1/scans", json={"code": "7700000000001"}, headers=ADMIN)
    assert error_of(scan)["message"].startswith("An admin key may not do this;"), scan.text
    venue = await builders.venue(client, await builders.partner(client, name="Ресторан «Прага»"))
    key = await client.post(
        "/v1/keys", json={"role": "admin", "name": "Ключ", "scope": {"venue_id": venue["id"]}}, headers=ADMIN
    )
    assert error_of(key)["message"] == "An admin key takes no venue_id."
    connector = await client.post(
        "/v1/connectors",
        json={
            "name": "Наш iiko",
            "kind": "iiko",
            "owner": {"venue_id": venue["id"]},
            "url": "https://api-ru.iiko.services",
            "auth": {"type": "bearer", "token": "t"},
        },
        headers=ADMIN,
    )
    assert error_of(connector)["message"].startswith("An iiko connector takes auth of type"), connector.text
    for answer in (scan, key, connector):
        assert " a admin" not in answer.text.lower()
        assert "  " not in error_of(answer)["message"]
