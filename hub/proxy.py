"""Behind a proxy: the client address and scheme come from X-Forwarded-* only when a trusted proxy sent them.

HUB_TRUSTED_PROXIES lists the proxies' networks (none by default: the headers are ignored and the
peer is the client). From a trusted peer, X-Forwarded-For is read from the right, skipping trusted
hops, so the first untrusted address is the client (whatever a client prepends cannot be chosen);
X-Forwarded-Proto gives the scheme, so cookies are Secure and HSTS is sent when the original
request was HTTPS. The resolved address is what failed-authentication throttling and the request
log use (`client_address`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
HSTS = "max-age=31536000; includeSubDomains"
UNKNOWN = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def is_trusted(peer: str | None, trusted: Iterable[Network]) -> bool:
    address = _address(peer) if peer else None
    return address is not None and any(address in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The first address from the right of X-Forwarded-For that is not a trusted proxy (pure)."""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a malformed chain: keep the peer, never a made-up value
        if not is_trusted(hop, trusted):
            return str(_address(hop))
    return str(_address(hops[0])) if hops else peer


def client_address(scope: Scope) -> str:
    """The client's address as resolved for this request (the peer unless a trusted proxy said)."""
    client = scope.get("client")
    return client[0] if client else UNKNOWN


class ProxyHeadersMiddleware:
    """Outermost: rewrites the scope's client and scheme from a trusted proxy's headers; adds HSTS."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...], *, hsts: bool) -> None:
        self.app = app
        self.trusted = trusted
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = client[0] if client else None
        if peer is not None and self.trusted and is_trusted(peer, self.trusted):
            headers = Headers.from_scope(scope)
            if forwarded_for := headers.get("x-forwarded-for"):
                scope["client"] = (forwarded_client(peer, forwarded_for, self.trusted), 0)
            proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        if not (self.hsts and scope.get("scheme") == "https"):
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)["strict-transport-security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_hsts)
