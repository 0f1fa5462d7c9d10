"""Logging: one JSON object per line, the request id and route of the request on every line, secrets redacted.

The request id lives in a context variable set by the HTTP middleware; the outbox copies it onto the
events a request writes, and the dispatcher sends it on to the CRMs as `X-Request-Id`. The redacting
filter is defence in depth: the code never logs a phone, PIN, key or token on purpose, and this filter
blanks anything that still looks like one (E.164 numbers, `hub_…` API keys, `whsec_…` signing secrets,
`Bearer …` tokens), in the message and in the traceback alike.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import secrets
import sys
from typing import Any, TextIO

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
ROUTE: contextvars.ContextVar[str | None] = contextvars.ContextVar("route", default=None)

MAX_REQUEST_ID = 100
_REQUEST_ID_SHAPE = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_REQUEST_ID}}}")
# the fields a log call may pass with `extra=` that the JSON line carries
EXTRA_FIELDS = (
    "method",
    "route",
    "status",
    "duration_ms",
    "client",
    "event_id",
    "delivery_id",
    "connector_kind",
)

REDACTED = "[redacted]"
_SECRETS = (
    re.compile(r"(?i)\bbearer\s+[^\s\"',;]+"),
    re.compile(r"\bhub_[a-z]+_[A-Za-z0-9_-]+"),
    re.compile(r"\bwhsec_[A-Za-z0-9_=+/-]+"),
    re.compile(r"\+\d[\d ()-]{6,18}\d"),  # +7 916 000-00-77, +79160000077
    re.compile(r"(?<![\w.:/-])\d{11,15}(?![\w.:/-])"),  # 79160000077 without its plus
)


def current_request_id() -> str | None:
    return REQUEST_ID.get()


def new_request_id() -> str:
    return secrets.token_hex(8)


def accepted_request_id(raw: str | None) -> str | None:
    """An incoming X-Request-Id if it is ≤ 100 of [A-Za-z0-9._-], else None (a new one is made)."""
    if raw is None or not _REQUEST_ID_SHAPE.fullmatch(raw):
        return None
    return raw


def redact(text: str) -> str:
    for pattern in _SECRETS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Formats the message once and blanks anything that looks like a phone, key or token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the redacted text above replaces it
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request_id, route, the request fields given as extra, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        route = getattr(record, "route", None) or ROUTE.get()
        if route:
            line["route"] = route
        for name in EXTRA_FIELDS:
            if name != "route" and (value := getattr(record, name, None)) is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def json_handler(stream: TextIO | None = None) -> logging.Handler:
    """A handler writing JSON lines, with the redacting filter in front."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    return handler


def configure(level: str, stream: TextIO | None = None) -> None:
    """The root logger writes JSON lines at `level`; library loggers propagate to it."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(json_handler(stream))
    root.setLevel(level)
