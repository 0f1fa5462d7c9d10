"""The development SMS inbox: the last PIN messages of the console gateway (only when it is in use)."""

from __future__ import annotations

import html

from litestar import Request, get
from litestar.datastructures import State
from litestar.response import Response

from hub.errors import NotFoundError
from pin.sms.base import SmsMessage
from pin.sms.console import ConsoleGateway


def _inbox(state: State) -> list[SmsMessage]:
    gateway = state.flow.gateway
    if not isinstance(gateway, ConsoleGateway) or state.settings.is_production:
        raise NotFoundError("The SMS inbox exists only on the console gateway in development.")
    return gateway.recent()


def _page(messages: list[SmsMessage]) -> str:
    rows = (
        "".join(
            f"<tr><td>{m.sent_at:%H:%M:%S}</td><td>{html.escape(m.to)}</td><td>{html.escape(m.text)}</td></tr>"
            for m in messages
        )
        or '<tr><td colspan="3">No messages yet: scan a coalition card.</td></tr>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SMS inbox (development)</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font:16px system-ui;margin:1rem}td,th{padding:.3rem .6rem;text-align:left}</style>"
        "</head>"
        "<body><h1>SMS inbox</h1><p>The console gateway's last messages, newest first.</p>"
        f"<table><thead><tr><th>time</th><th>to</th><th>text</th></tr></thead><tbody>{rows}</tbody></table>"
        "</body></html>"
    )


@get(
    "/dev/sms",
    tags=["development"],
    summary="The console gateway's SMS inbox",
    exclude_from_auth=True,
    include_in_schema=False,
)
async def sms_inbox(request: Request[object, object, State], state: State) -> Response[object]:
    messages = _inbox(state)
    if "application/json" in request.headers.get("accept", ""):
        return Response(
            [{"to": m.to, "text": m.text, "message_id": m.message_id, "sent_at": m.sent_at} for m in messages]
        )
    return Response(_page(messages), media_type="text/html")
