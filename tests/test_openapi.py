"""The checked-in OpenAPI document is what the code generates, and the app serves it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from hub.cli import openapi_document

CHECKED_IN = Path(__file__).parent.parent / "openapi" / "hub.json"


def test_the_checked_in_document_is_current() -> None:
    """openapi/hub.json equals the export; if not, run `coalition-hub openapi export` and commit it."""
    assert CHECKED_IN.read_text() == openapi_document(), "openapi/hub.json is stale"


def test_the_document_names_the_contract() -> None:
    """The registry paths of the contract are in it, with bearer auth and the typed errors' shape."""
    document = json.loads(openapi_document())
    assert document["info"]["title"] == "Coalition Hub API"
    for path in ["/v1/programs", "/v1/partners", "/v1/venues", "/v1/offers", "/v1/keys"]:
        assert "post" in document["paths"][path], path
    assert "/v1/programs/{program_id}/members/import" in document["paths"]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


async def test_the_app_serves_the_document(client: httpx.AsyncClient) -> None:
    """/schema/openapi.json answers without a key with the same paths as the export."""
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert set(response.json()["paths"]) == set(json.loads(openapi_document())["paths"])
    assert (await client.get("/schema")).status_code == 200
