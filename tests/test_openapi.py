"""The checked-in OpenAPI document is what the code generates, and the app serves it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from hub.apidoc import DOMAIN_ERRORS
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


def test_every_operation_documents_the_errors_it_can_give() -> None:
    """No Litestar 400 (the hub answers 422); every /v1 operation lists 401, 403, 429 and 503 with the
    typed error body and Retry-After where it applies; a path id adds 404, a body 413 and 422."""
    document = json.loads(openapi_document())
    answers = document["components"]["responses"]
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    assert set(answers["RateLimited"]["headers"]) == {"Retry-After"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "400" not in responses, (method, path)
            if not path.startswith("/v1/"):
                continue
            expected = {"401", "403", "429", "503"}
            expected |= {"404"} if "{" in path else set()
            expected |= {"413", "422"} if "requestBody" in operation else set()
            assert expected <= set(responses), (method, path, sorted(responses))
            for status in expected:
                answer = responses[status]
                if "$ref" in answer:  # the generic answer, or one naming this operation's domain codes
                    answer = answers[answer["$ref"].rsplit("/", 1)[-1]]
                assert answer["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (method, path, status)


async def test_the_served_document_has_the_error_answers_too(client: httpx.AsyncClient) -> None:
    served = (await client.get("/schema/openapi.json")).json()
    assert (
        served["paths"]["/v1/scans"]["post"]["responses"]
        == json.loads(openapi_document())["paths"]["/v1/scans"]["post"]["responses"]
    )
    assert (await client.get("/schema/swagger")).status_code == 200


def test_the_guest_flow_names_its_domain_codes() -> None:
    """What a till integrates lists each domain code under its own status (from the error classes)."""
    document = json.loads(openapi_document())
    assert DOMAIN_ERRORS, "the guest flow's operations are listed"
    for (method, path), errors in DOMAIN_ERRORS.items():
        responses = document["paths"][path][method]["responses"]
        for error in errors:
            answer = responses[str(error.status_code)]
            assert f"`{error.code}`" in answer["description"], (method, path, error.code)
            assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    pin = document["paths"]["/v1/scans/{scan_id}/pin"]["post"]["responses"]
    assert {"409", "410", "422", "423"} <= set(pin)
