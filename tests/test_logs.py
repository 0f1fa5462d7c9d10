"""Log lines: JSON with the request's id and route, secrets redacted, request ids validated."""

from __future__ import annotations

import io
import json
import logging

import pytest

from hub.logs import REQUEST_ID, ROUTE, accepted_request_id, json_handler, redact


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("SMS to +79160000077: code", "+79160000077"),
        ("phone +7 916 000-00-77 here", "916 000-00-77"),
        ("bare 79160000077 number", "79160000077"),
        ("key hub_adm_AbC-d_ef012 used", "hub_adm_AbC-d_ef012"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi.x.y"),
    ],
)
def test_redact_blanks_secrets(text: str, leaked: str) -> None:
    """Phones (with or without plus), hub keys, signing secrets and bearer tokens are blanked."""
    assert leaked not in redact(text)
    assert "[redacted]" in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20T12:00:00+00:00",
        "scan 0193a1b2-0000-7000-8000-000000000001",
        "took 12.5 ms, 3 rows",
        "+7 916 ***-**-77",
    ],
)
def test_redact_keeps_ordinary_text(text: str) -> None:
    """Times, UUIDs, numbers and masked phones pass unchanged."""
    assert redact(text) == text


@pytest.mark.parametrize(
    ("raw", "accepted"),
    [
        ("abc-123_X.y", "abc-123_X.y"),
        ("a" * 100, "a" * 100),
        ("a" * 101, None),
        ("", None),
        ("has space", None),
        ("semi;colon", None),
        ("\u00e9t\u00e9", None),
        (None, None),
    ],
)
def test_request_id_shape(raw: str | None, accepted: str | None) -> None:
    """An incoming X-Request-Id is kept only if it is 1-100 of [A-Za-z0-9._-]."""
    assert accepted_request_id(raw) == accepted


def test_json_line_has_request_fields_and_redacted_exception() -> None:
    """One JSON object per line: time, level, logger, message, request_id, route, extras, exception."""
    stream = io.StringIO()
    logger = logging.getLogger("tests.logs")
    logger.addHandler(json_handler(stream))
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    id_token, route_token = REQUEST_ID.set("req-1"), ROUTE.set("/v1/scans/{scan_id}/pin")
    try:
        try:
            raise RuntimeError("failed for +79160000077")
        except RuntimeError:
            logger.exception("boom for %s", "hub_term_secretvalue", extra={"status": 500, "duration_ms": 3.5})
    finally:
        REQUEST_ID.reset(id_token)
        ROUTE.reset(route_token)
        logger.handlers.clear()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "route",
        "status",
        "duration_ms",
        "exception",
    } <= set(line)
    assert (line["level"], line["logger"], line["request_id"]) == ("ERROR", "tests.logs", "req-1")
    assert (line["route"], line["status"]) == ("/v1/scans/{scan_id}/pin", 500)
    assert "hub_term_secretvalue" not in lines[0]
    assert "79160000077" not in lines[0]
    assert "RuntimeError" in line["exception"]
