"""One aiohttp session per process, behind the egress guard.

Connector and token URLs are chosen by tenants, so every outbound request could be an SSRF. The
guard has three layers, each checking addresses against one EgressPolicy:

- check_url, when a URL is saved: the scheme, no userinfo, the host's spelling, and every address
  the name resolves to;
- GuardedResolver, at connect time: every address a name resolves to is checked again, so a name
  that resolved to a public address when it was saved and to 127.0.0.1 now (DNS rebinding) fails;
- the connector's socket factory, just before connect(): the address actually dialled is checked.
  aiohttp never calls the resolver for a literal-IP URL, so this is what guards those (and anything
  else that reaches a socket without the resolver, such as a per-request proxy).

Redirects are never followed: callers pass allow_redirects=False and handle the 3xx themselves.
aiohttp has no session-wide default for that, so a request that forgets it fails with
RedirectRefusedError instead of following. Proxy environment variables are ignored and no cookies
are kept (one session serves every tenant).

    EgressUrlRefusedError (InvalidInputError, 422 egress_refused)   check_url refused a URL
    EgressRefusedError (OSError)             connect time; aiohttp wraps it in ClientConnectorError
    RedirectRefusedError (aiohttp.ClientError)   a 3xx met a request without allow_redirects=False
"""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any
from urllib.parse import SplitResult, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from hub.config import Settings, parse_egress_entry
from hub.errors import InvalidInputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOWED_SCHEMES = frozenset({"http", "https"})
ALLOW_HINT = "add its network to HUB_EGRESS_ALLOW to allow it"

_V4_CLASSES: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(cidr), name)
    for cidr, name in (
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT (CGNAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.169.254/32", "a link-local address (the cloud metadata service)"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "a reserved (IETF protocol assignment) address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a reserved (6to4 relay anycast) address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)
_V6_CLASSES: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(cidr), name)
    for cidr, name in (
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001:db8::/32", "a documentation address"),
        ("fc00::/7", "a unique-local address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Spellings inet_aton accepts: one to four parts, each decimal, octal (leading 0) or hex (0x).
_NUMERIC_HOST = re.compile(r"(?:0[xX][0-9a-fA-F]*|[0-9]+)(?:\.(?:0[xX][0-9a-fA-F]*|[0-9]+)){0,3}")


class EgressUrlRefusedError(InvalidInputError):
    code = "egress_refused"
    default_message = "This URL points somewhere the hub may not send requests."


class EgressRefusedError(OSError):
    """The egress guard refused an address at connect time."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EACCES, message)


class RedirectRefusedError(aiohttp.ClientError):
    """A response redirected a request that did not pass allow_redirects=False."""


def parse_address(address: str | IPAddress) -> IPAddress:
    """An address from a resolver, a socket or a URL host: brackets and an IPv6 zone are dropped."""
    if not isinstance(address, str):
        return address
    return ipaddress.ip_address(address.strip("[]").split("%", 1)[0])


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, tuple[ipaddress.IPv4Address, ...], bool] | None:
    """The IPv4 addresses an IPv6 form carries, its name, and whether it only translates to them."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return "an IPv4-mapped IPv6 address", (ip.ipv4_mapped,), True
    if ip in _IPV4_TRANSLATED:
        return "an IPv4-translated IPv6 address", (low32,), True
    if ip in _NAT64:
        return "a NAT64 address", (low32,), True
    if ip.sixtofour is not None:
        return "a 6to4 address", (ip.sixtofour,), True
    if ip.teredo is not None:
        server, client = ip.teredo
        return "a Teredo address", (client, server), False
    if ip in _IPV4_COMPATIBLE:
        return "an IPv4-compatible IPv6 address", (low32,), False
    return None


def address_class(ip: IPAddress) -> str | None:
    """What kind of non-public address this is ("a loopback address"), or None when it is public."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _table_class(ip, _V4_CLASSES)
    if ip in _V6_CLASSES[0][0] or ip in _V6_CLASSES[1][0]:  # :: and ::1 also sit inside ::/96
        return _table_class(ip, _V6_CLASSES)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        form, inner, is_translation = embedded
        for v4 in inner:
            inner_class = address_class(v4)
            if inner_class is not None:
                return f"{form} embedding {v4}, {inner_class}"
        if is_translation:
            return None
    return _table_class(ip, _V6_CLASSES)


def _table_class(ip: IPAddress, table: Iterable[tuple[Any, str]]) -> str | None:
    for network, name in table:
        if ip in network:
            return str(name)
    return None if ip.is_global else "a reserved (not globally reachable) address"


class EgressPolicy:
    """Which addresses outbound requests may reach: public ones, plus the networks in allow (an entry
    with a port, `10.1.2.3/32:443`, allows that port only)."""

    def __init__(self, allow: tuple[str, ...] = ()) -> None:
        self.allow = allow
        self._networks = tuple(parse_egress_entry(entry) for entry in allow)

    @classmethod
    def from_settings(cls, settings: Settings) -> EgressPolicy:
        return cls(settings.egress_allow)

    def __repr__(self) -> str:
        return f"EgressPolicy(allow={self.allow!r})"

    def refusal(self, address: str | IPAddress, port: int | None = None) -> str | None:
        """Why this address (on this port, when known) is refused ("a loopback address"), or None when
        it is allowed; an entry with a port never allows an unknown one."""
        try:
            ip = parse_address(address)
        except ValueError:
            return "not an IP address"
        ports = self._allowed_ports(ip)
        if None in ports or (port is not None and port in ports):
            return None
        refusal = address_class(ip)
        if refusal is not None and ports:
            listed = ", ".join(str(p) for p in sorted(p for p in ports if p is not None))
            return f"{refusal} (HUB_EGRESS_ALLOW allows it on port {listed} only)"
        return refusal

    def is_allowed_address(self, address: str | IPAddress, port: int | None = None) -> bool:
        return self.refusal(address, port) is None

    def _allowed_ports(self, ip: IPAddress) -> set[int | None]:
        """The ports the allow list opens for this address (None: every port)."""
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
            candidates.extend(embedded[1])
        return {port for network, port in self._networks for c in candidates if c in network}


def _refuse(message: str, **details: Any) -> EgressUrlRefusedError:
    return EgressUrlRefusedError(message, **details)


def _split_url(url: str) -> SplitResult:
    """The URL's parts, after refusing what never belongs in a connector URL."""
    if any(char.isspace() or ord(char) < 0x20 or char in "\\\x7f" for char in url):
        raise _refuse("The URL contains whitespace, a control character or a backslash.")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        raise _refuse("The URL is not valid.") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme!r}" if scheme else "none"
        raise _refuse(f"URL scheme {shown} is not allowed; use http or https.", scheme=scheme)
    if "@" in parts.netloc:
        raise _refuse("The URL carries credentials (user:password@); put them in the connector's auth.")
    if not parts.hostname:
        raise _refuse("The URL has no host.")
    return parts


def _literal_address(host: str) -> tuple[IPAddress, bool] | None:
    """The address a literal host denotes, and whether it is spelled the canonical way."""
    try:
        return parse_address(host), True
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host) is None:
        return None
    try:
        # inet_aton is what getaddrinfo applies to numeric hosts: 2130706433, 0x7f.1, 0177.0.0.1
        return ipaddress.IPv4Address(socket.inet_aton(host)), False
    except OSError:
        return None


def _check_literal(host: str, ip: IPAddress, is_canonical: bool, policy: EgressPolicy, port: int) -> None:
    refusal = policy.refusal(ip, port)
    if refusal is not None:
        verb = "is" if is_canonical else "spells"
        raise _refuse(f"{host} {verb} {ip}, {refusal}; {ALLOW_HINT}.", host=host, address=str(ip))
    if not is_canonical:
        raise _refuse(
            f"{host} is {ip} written in a non-standard form; write it as {ip}.", host=host, address=str(ip)
        )


async def _resolve(host: str, port: int, resolver: AbstractResolver | None) -> list[str]:
    own = resolver is None
    active = aiohttp.ThreadedResolver() if resolver is None else resolver
    try:
        return [result["host"] for result in await active.resolve(host, port, family=socket.AF_UNSPEC)]
    except OSError:
        return []
    finally:
        if own:
            await active.close()


async def check_url(url: str, policy: EgressPolicy, *, resolver: AbstractResolver | None = None) -> None:
    """Refuse a connector or token URL the hub must not call; run when the URL is saved."""
    parts = _split_url(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    literal = _literal_address(host)
    if literal is not None:
        _check_literal(host, *literal, policy, port)
        return
    addresses = await _resolve(host, port, resolver)
    if not addresses:
        raise _refuse(f"{host} does not resolve to any address.", host=host)
    for address in addresses:
        refusal = policy.refusal(address, port)
        if refusal is not None:
            raise _refuse(
                f"{host} resolves to {address}, {refusal}; {ALLOW_HINT}.", host=host, address=address
            )


class GuardedResolver(AbstractResolver):
    """Resolves through an inner resolver and refuses a name if any address it got is refused."""

    def __init__(self, policy: EgressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        # the threaded resolver is getaddrinfo, so names resolve here as they did in check_url
        self._inner = inner if inner is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            refusal = self._policy.refusal(result["host"], result["port"] or port or None)
            if refusal is not None:
                raise EgressRefusedError(
                    f"egress refused: {host} resolves to {result['host']}, {refusal}; {ALLOW_HINT}"
                )
        return results

    async def close(self) -> None:
        await self._inner.close()


class GuardedSocketFactory:
    """Creates the socket for one connection attempt, after checking the address it will dial."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy

    def __call__(self, addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        refusal = self._policy.refusal(str(sockaddr[0]), int(sockaddr[1]))
        if refusal is not None:
            raise EgressRefusedError(f"egress refused: {sockaddr[0]} is {refusal}; {ALLOW_HINT}")
        return socket.socket(family=family, type=type_, proto=proto)


async def _refuse_redirect(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestRedirectParams
) -> None:
    params.response.close()
    raise RedirectRefusedError(
        f"{params.method} {params.url.origin()} answered {params.response.status}; the hub never"
        " follows redirects: pass allow_redirects=False and handle the 3xx"
    )


def is_egress_refusal(exc: BaseException) -> bool:
    """True when a request failed because the egress guard refused its address (no retry helps)."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, EgressRefusedError):
            return True
        if isinstance(current, aiohttp.ClientConnectorError) and isinstance(
            current.os_error, EgressRefusedError
        ):
            return True
        current = current.__cause__
    return False


def create_http_session(
    policy: EgressPolicy,
    *,
    timeout_seconds: float = 30,
    user_agent: str = "coalition-hub",
    resolver: AbstractResolver | None = None,
    limit: int = 100,
    limit_per_host: int = 0,
) -> aiohttp.ClientSession:
    """The process's one session; call inside the running loop and pass allow_redirects=False."""
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy, resolver),
        socket_factory=GuardedSocketFactory(policy),
        limit=limit,
        # per-connector concurrency caps live in the dispatcher; this only bounds the process
        limit_per_host=limit_per_host,
    )
    redirects = aiohttp.TraceConfig()
    redirects.on_request_redirect.append(_refuse_redirect)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout_seconds, sock_connect=min(timeout_seconds, 10)),
        headers={"User-Agent": user_agent},
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        trace_configs=[redirects],
    )
