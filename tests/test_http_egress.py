"""The egress guard: the address policy, check_url, and the session against a real loopback server.

Nothing here connects beyond loopback: public addresses are only ever classified, never dialled.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from connectors.errors import PermanentError, TransientError
from connectors.transport import error_for_exception
from hub.config import ConfigError, load_settings
from hub.errors import InvalidInputError
from hub.http import (
    EgressPolicy,
    EgressRefusedError,
    EgressUrlRefusedError,
    GuardedResolver,
    RedirectRefusedError,
    check_url,
    create_http_session,
    is_egress_refusal,
)

DEFAULT = EgressPolicy(())
LOOPBACK_ALLOWED = EgressPolicy(("127.0.0.0/8",))
PUBLIC = "93.184.215.14"
UNSPECIFIED = "0.0.0.0"  # noqa: S104  # an address under test, never bound


# --- resolvers: seams we own, standing in for DNS, which the tests cannot use -------------------


def _results(host: str, port: int, addresses: Sequence[str]) -> list[ResolveResult]:
    return [
        ResolveResult(
            hostname=host,
            host=address,
            port=port,
            family=socket.AF_INET6 if ":" in address else socket.AF_INET,
            proto=0,
            flags=0,
        )
        for address in addresses
    ]


class StaticResolver(AbstractResolver):
    """Answers every name with the same addresses."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return _results(host, port, self.addresses)

    async def close(self) -> None:
        return None


class FailingResolver(AbstractResolver):
    """Fails every lookup, as a name that does not exist would."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        return None


class RebindingResolver(AbstractResolver):
    """Answers `first` on the first lookup and `then` on every later one."""

    def __init__(self, *, first: str, then: str) -> None:
        self.first = first
        self.then = then
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls += 1
        return _results(host, port, [self.first if self.calls == 1 else self.then])

    async def close(self) -> None:
        return None


REFUSED_ADDRESSES = [
    ("10.0.0.1", "a private address"),
    ("10.255.255.255", "a private address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.254", "a private address"),
    ("192.168.1.1", "a private address"),
    ("127.0.0.1", "a loopback address"),
    ("127.255.255.254", "a loopback address"),
    ("::1", "a loopback address"),
    ("169.254.169.254", "the cloud metadata service"),
    ("169.254.1.1", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("fe80::1%eth0", "a link-local address"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    (UNSPECIFIED, "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "an unspecified address"),
    ("224.0.0.1", "a multicast address"),
    ("239.255.255.250", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("255.255.255.255", "the broadcast address"),
    ("240.0.0.1", "a reserved address"),
    ("192.0.0.8", "IETF protocol assignment"),
    ("192.88.99.1", "6to4 relay anycast"),
    ("198.18.0.1", "a benchmarking address"),
    ("198.19.255.254", "a benchmarking address"),
    ("192.0.2.1", "a documentation address"),
    ("198.51.100.7", "a documentation address"),
    ("203.0.113.9", "a documentation address"),
    ("2001:db8::1", "a documentation address"),
    ("100::1", "a discard-only address"),
    ("fc00::1", "a unique-local address"),
    ("fd12:3456:789a::1", "a unique-local address"),
    ("fec0::1", "a site-local address"),
    ("::ffff:127.0.0.1", "IPv4-mapped IPv6 address embedding 127.0.0.1, a loopback address"),
    ("::ffff:10.0.0.1", "IPv4-mapped IPv6 address embedding 10.0.0.1, a private address"),
    ("::ffff:169.254.169.254", "embedding 169.254.169.254, a link-local address (the cloud metadata"),
    ("::ffff:0:127.0.0.1", "IPv4-translated IPv6 address embedding 127.0.0.1"),
    ("::127.0.0.1", "IPv4-compatible IPv6 address embedding 127.0.0.1, a loopback address"),
    ("::a9fe:a9fe", "IPv4-compatible IPv6 address embedding 169.254.169.254"),
    ("64:ff9b::127.0.0.1", "NAT64 address embedding 127.0.0.1, a loopback address"),
    ("64:ff9b::a9fe:a9fe", "NAT64 address embedding 169.254.169.254"),
    ("64:ff9b:1::1", "a local-use NAT64 address"),
    ("2002:7f00:1::", "6to4 address embedding 127.0.0.1, a loopback address"),
    ("2002:c0a8:101::1", "6to4 address embedding 192.168.1.1, a private address"),
    ("2002:a9fe:a9fe::1", "6to4 address embedding 169.254.169.254"),
    # Teredo: server 65.54.227.120, client 127.0.0.1 stored inverted (0x80fffffe)
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo address embedding 127.0.0.1, a loopback address"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo address embedding 10.0.0.1, a private address"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo address embedding 192.0.2.45"),
    ("not-an-address", "not an IP address"),
]

ALLOWED_ADDRESSES = [
    "8.8.8.8",
    "1.1.1.1",
    PUBLIC,
    "172.32.0.1",
    "172.15.255.254",
    "100.128.0.1",
    "100.63.255.254",
    "169.255.0.1",
    "192.169.0.1",
    "11.0.0.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]

ALLOW_LIST_CASES = [
    ("127.0.0.1", ("127.0.0.0/8",), True),
    ("::ffff:127.0.0.1", ("127.0.0.0/8",), True),
    ("10.1.2.3", ("10.1.0.0/16",), True),
    ("10.2.0.1", ("10.1.0.0/16",), False),
    ("192.168.5.5", ("10.0.0.0/8", "192.168.5.0/24"), True),
    ("fd00::5", ("fd00::/8",), True),
    ("fe80::1%eth0", ("fe80::/10",), True),
    ("169.254.169.254", ("10.0.0.0/8",), False),
    ("::1", ("127.0.0.0/8",), False),
    ("127.0.0.1", ("::1/128",), False),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED_ADDRESSES)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    """Each non-public address class, including IPv4 hidden in IPv6 forms, is refused and named."""
    assert not DEFAULT.is_allowed_address(address)
    refusal = DEFAULT.refusal(address)
    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize("address", ALLOWED_ADDRESSES)
def test_public_addresses_are_allowed(address: str) -> None:
    """Globally routable addresses, and IPv6 forms that only translate to one, are allowed."""
    assert DEFAULT.is_allowed_address(address)
    assert DEFAULT.refusal(address) is None


@pytest.mark.parametrize(("address", "allow", "expected"), ALLOW_LIST_CASES)
def test_allow_list_admits_its_networks_only(address: str, allow: tuple[str, ...], expected: bool) -> None:
    """An address inside an HUB_EGRESS_ALLOW network is allowed; the rest of its class is not."""
    assert EgressPolicy(allow).is_allowed_address(address) is expected


def test_policy_reads_the_settings_allow_list() -> None:
    """from_settings takes the CIDRs parsed from HUB_EGRESS_ALLOW."""
    settings = load_settings({"HUB_EGRESS_ALLOW": "10.0.0.0/8, 192.168.1.7"})

    policy = EgressPolicy.from_settings(settings)

    assert policy.is_allowed_address("10.9.9.9")
    assert policy.is_allowed_address("192.168.1.7")
    assert not policy.is_allowed_address("192.168.1.8")


REFUSED_URLS = [
    ("file:///etc/passwd", "scheme 'file' is not allowed"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher' is not allowed"),
    ("ftp://ftp.example.com/", "scheme 'ftp' is not allowed"),
    ("data:text/plain,hello", "scheme 'data' is not allowed"),
    ("dict://127.0.0.1:11211/stats", "scheme 'dict' is not allowed"),
    ("ldap://127.0.0.1/", "scheme 'ldap' is not allowed"),
    ("javascript:alert(1)", "scheme 'javascript' is not allowed"),
    ("crm.example.com/hook", "scheme none is not allowed"),
    ("http://user:secret@crm.example.com/", "carries credentials"),
    ("http://user@127.0.0.1/", "carries credentials"),
    ("https://:token@crm.example.com/", "carries credentials"),
    ("http:///hook", "has no host"),
    ("http://crm.example.com:99999/", "not valid"),
    ("http://127.0.0.1\\@crm.example.com/", "backslash"),
    ("http://crm.example.com /hook", "whitespace"),
    ("http://crm.example.com/\r\nX-Injected: 1", "control character"),
    ("http://127.0.0.1/", "127.0.0.1 is 127.0.0.1, a loopback address"),
    ("HTTP://127.0.0.1:8080/hook", "a loopback address"),
    ("http://[::1]:8080/", "a loopback address"),
    ("http://2130706433/", "2130706433 spells 127.0.0.1, a loopback address"),
    ("http://0x7f.1/", "0x7f.1 spells 127.0.0.1, a loopback address"),
    ("http://017700000001/", "017700000001 spells 127.0.0.1, a loopback address"),
    ("http://0177.0.0.1/", "spells 127.0.0.1, a loopback address"),
    ("http://0x7f000001/", "spells 127.0.0.1, a loopback address"),
    ("http://127.1/", "spells 127.0.0.1, a loopback address"),
    ("http://0/", "spells 0.0.0.0, an unspecified"),
    ("http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/", "spells 169.254.169.254"),
    ("http://169.254.169.254/latest/meta-data/", "the cloud metadata service"),
    ("http://[::ffff:169.254.169.254]/latest/meta-data/", "the cloud metadata service"),
    ("http://[::ffff:7f00:1]/", "IPv4-mapped IPv6 address embedding 127.0.0.1"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 address embedding 127.0.0.1"),
    ("http://[2002:a00:1::1]/", "6to4 address embedding 10.0.0.1"),
    ("http://[fe80::1%25eth0]/", "a link-local address"),
    ("http://[fd00::1]/", "a unique-local address"),
    ("http://10.0.0.1:8080/hook", "a private address"),
    ("https://192.168.0.10/", "a private address"),
    ("https://100.64.1.1/", "CGNAT"),
    ("http://134744072/", "8.8.8.8 written in a non-standard form; write it as 8.8.8.8"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_URLS)
async def test_check_url_refuses(url: str, reason: str) -> None:
    """Wrong schemes, credentials, odd spellings and non-public literal hosts are refused at save time."""
    with pytest.raises(EgressUrlRefusedError) as caught:
        await check_url(url, DEFAULT, resolver=StaticResolver([PUBLIC]))

    assert reason in caught.value.message
    assert caught.value.code == "egress_refused"
    assert caught.value.status_code == 422
    assert isinstance(caught.value, InvalidInputError)


async def test_refusal_message_names_the_class_and_the_setting() -> None:
    """The message says what the address is and which setting would allow it."""
    with pytest.raises(EgressUrlRefusedError) as caught:
        await check_url("http://crm.test/", DEFAULT, resolver=StaticResolver(["127.0.0.1"]))

    assert caught.value.message == (
        "crm.test resolves to 127.0.0.1, a loopback address; add its network to HUB_EGRESS_ALLOW to allow it."
    )
    assert caught.value.details == {"host": "crm.test", "address": "127.0.0.1"}


@pytest.mark.parametrize(
    "url",
    [
        "https://8.8.8.8/hook",
        f"http://{PUBLIC}:8080/events",
        "https://[2606:4700:4700::1111]/hook",
        "https://[::ffff:8.8.8.8]/hook",
    ],
)
async def test_check_url_accepts_public_literals(url: str) -> None:
    """A URL whose host is a public IP literal passes; no resolver is asked."""
    await check_url(url, DEFAULT, resolver=FailingResolver())


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://127.0.0.1:8080/", ("127.0.0.0/8",)),
        ("http://[::1]/", ("::1/128",)),
        ("https://10.20.30.40/hook", ("10.20.0.0/16",)),
        ("http://169.254.169.254/", ("169.254.169.254/32",)),
    ],
)
async def test_check_url_accepts_addresses_in_the_allow_list(url: str, allow: tuple[str, ...]) -> None:
    """A non-public literal inside HUB_EGRESS_ALLOW passes."""
    await check_url(url, EgressPolicy(allow))


async def test_check_url_accepts_a_name_resolving_to_public_addresses() -> None:
    """A name whose every address is public passes."""
    await check_url("https://crm.test/hook", DEFAULT, resolver=StaticResolver([PUBLIC, "2606:4700::1"]))


async def test_check_url_refuses_if_any_resolved_address_is_refused() -> None:
    """One private address among public ones is enough to refuse the name."""
    resolver = StaticResolver([PUBLIC, "10.0.0.5", "8.8.8.8"])

    with pytest.raises(EgressUrlRefusedError, match=r"crm\.test resolves to 10\.0\.0\.5, a private address"):
        await check_url("https://crm.test/hook", DEFAULT, resolver=resolver)


@pytest.mark.parametrize("resolver", [StaticResolver([]), FailingResolver()], ids=["empty", "error"])
async def test_check_url_refuses_a_name_that_does_not_resolve(resolver: AbstractResolver) -> None:
    """A name with no addresses (or a resolver error) is refused rather than waved through."""
    with pytest.raises(EgressUrlRefusedError, match="does not resolve"):
        await check_url("https://nowhere.test/", DEFAULT, resolver=resolver)


async def test_check_url_resolves_names_with_the_system_resolver() -> None:
    """Without a resolver given, names go through getaddrinfo: localhost is refused as loopback."""
    with pytest.raises(EgressUrlRefusedError, match=r"localhost resolves to .*, a loopback address"):
        await check_url("http://localhost:8000/", DEFAULT)


async def test_guarded_resolver_refuses_any_refused_address() -> None:
    """The connect-time resolver raises EgressRefusedError if any address of the name is refused."""
    guarded = GuardedResolver(DEFAULT, StaticResolver([PUBLIC, "169.254.169.254"]))

    with pytest.raises(EgressRefusedError, match=r"crm\.test resolves to 169\.254\.169\.254"):
        await guarded.resolve("crm.test", 443, socket.AF_UNSPEC)


async def test_guarded_resolver_passes_public_answers_through() -> None:
    """Public answers come back unchanged."""
    guarded = GuardedResolver(DEFAULT, StaticResolver([PUBLIC]))

    [result] = await guarded.resolve("crm.test", 443, socket.AF_UNSPEC)

    assert result["host"] == PUBLIC
    assert result["port"] == 443


# --- the session, against a real server on loopback -------------------------------------------


@dataclass
class LoopbackServer:
    port: int
    hits: list[str] = field(default_factory=list)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    """An aiohttp.web server on 127.0.0.1 that records every path it serves."""
    state = LoopbackServer(port=0)

    async def ok(request: web.Request) -> web.Response:
        state.hits.append(request.path)
        return web.Response(text="ok")

    async def redirect(request: web.Request) -> web.Response:
        state.hits.append(request.path)
        raise web.HTTPFound(state.url("/landing"))

    app = web.Application()
    app.router.add_get("/", ok)
    app.router.add_get("/landing", ok)
    app.router.add_get("/redirect", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    try:
        yield state
    finally:
        await runner.cleanup()


async def test_default_policy_refuses_a_loopback_literal(server: LoopbackServer) -> None:
    """A literal 127.0.0.1 URL never reaches the server: the socket factory refuses the address."""
    async with create_http_session(DEFAULT) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(server.url(), allow_redirects=False)

    assert isinstance(caught.value.os_error, EgressRefusedError)
    assert "127.0.0.1 is a loopback address" in str(caught.value.os_error)
    assert is_egress_refusal(caught.value)
    assert server.hits == []


@pytest.mark.parametrize("host", ["[::ffff:127.0.0.1]", "[::1]", UNSPECIFIED])
async def test_default_policy_refuses_other_loopback_literals(server: LoopbackServer, host: str) -> None:
    """Mapped, IPv6 and unspecified literals are refused before any socket connects."""
    async with create_http_session(DEFAULT) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(server.url(host=host), allow_redirects=False)

    assert is_egress_refusal(caught.value)
    assert server.hits == []


async def test_default_policy_refuses_a_name_resolving_to_loopback(server: LoopbackServer) -> None:
    """localhost goes through the guarded resolver, which refuses its loopback answer."""
    async with create_http_session(DEFAULT) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(server.url(host="localhost"), allow_redirects=False)

    assert is_egress_refusal(caught.value)
    assert "localhost resolves to" in str(caught.value.os_error)
    assert server.hits == []


async def test_allow_list_lets_the_request_through(server: LoopbackServer) -> None:
    """With 127.0.0.0/8 in the allow list the same request succeeds, by literal and by name."""
    async with create_http_session(LOOPBACK_ALLOWED) as session:
        async with session.get(server.url(), allow_redirects=False) as response:
            assert response.status == 200
            assert await response.text() == "ok"
        async with session.get(server.url(host="localhost"), allow_redirects=False) as response:
            assert response.status == 200

    assert server.hits == ["/", "/"]


async def test_redirect_comes_back_unfollowed(server: LoopbackServer) -> None:
    """With allow_redirects=False the 3xx is returned as is and its target is never requested."""
    async with (
        create_http_session(LOOPBACK_ALLOWED) as session,
        session.get(server.url("/redirect"), allow_redirects=False) as response,
    ):
        assert response.status == 302
        assert response.headers["Location"] == server.url("/landing")

    assert server.hits == ["/redirect"]


async def test_forgotten_allow_redirects_fails_instead_of_following(server: LoopbackServer) -> None:
    """Leaving allow_redirects at aiohttp's default raises RedirectRefusedError; the target is never hit."""
    async with create_http_session(LOOPBACK_ALLOWED) as session:
        with pytest.raises(RedirectRefusedError, match="answered 302"):
            await session.get(server.url("/redirect"))

    assert server.hits == ["/redirect"]


async def test_proxy_environment_is_ignored(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP(S)_PROXY pointing at a dead port changes nothing: the session goes direct."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)

    async with (
        create_http_session(LOOPBACK_ALLOWED) as session,
        session.get(server.url(), allow_redirects=False) as response,
    ):
        assert session.trust_env is False
        assert response.status == 200

    assert server.hits == ["/"]


async def test_dns_rebinding_is_refused_at_connect_time(server: LoopbackServer) -> None:
    """A name public at save time and loopback at connect time is refused when connecting.

    RebindingResolver stands in for a rebinding DNS server (which cannot run without network):
    aiohttp's resolver hook is the seam, and it answers a public address first, 127.0.0.1 after.
    """
    resolver = RebindingResolver(first=PUBLIC, then="127.0.0.1")
    url = server.url(host="rebind.test")

    await check_url(url, DEFAULT, resolver=resolver)  # save time: public, accepted
    async with create_http_session(DEFAULT, resolver=resolver) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(url, allow_redirects=False)

    assert resolver.calls == 2
    assert is_egress_refusal(caught.value)
    assert "rebind.test resolves to 127.0.0.1, a loopback address" in str(caught.value.os_error)
    assert server.hits == []


async def test_rebinding_resolver_reaches_the_server_when_allowed(server: LoopbackServer) -> None:
    """The same rebinding setup connects when loopback is allowed, so the refusal above is the guard's."""
    resolver = RebindingResolver(first="127.0.0.1", then="127.0.0.1")

    async with (
        create_http_session(LOOPBACK_ALLOWED, resolver=resolver) as session,
        session.get(server.url(host="rebind.test"), allow_redirects=False) as response,
    ):
        assert response.status == 200

    assert server.hits == ["/"]


def test_egress_refusal_is_recognised_only_for_the_guard() -> None:
    """is_egress_refusal tells guard refusals from ordinary connection failures."""
    assert is_egress_refusal(EgressRefusedError("egress refused"))
    assert not is_egress_refusal(ConnectionRefusedError(111, "refused"))
    assert not is_egress_refusal(RedirectRefusedError("302"))


# --- allow-list entries with a port ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.1.2.3/32:443", ("10.1.2.3/32:443",)),
        ("10.1.2.3:8443, 10.0.0.0/8", ("10.1.2.3/32:8443", "10.0.0.0/8")),
        ("[fd00::/8]:443, fd00::/8", ("[fd00::/8]:443", "fd00::/8")),
    ],
)
def test_allow_list_entries_may_name_a_port(raw: str, expected: tuple[str, ...]) -> None:
    """HUB_EGRESS_ALLOW takes CIDR:PORT (IPv6 in brackets) beside plain CIDRs."""
    assert load_settings({"HUB_EGRESS_ALLOW": raw}).egress_allow == expected


@pytest.mark.parametrize("raw", ["10.0.0.0/8:0", "10.0.0.0/8:70000", "10.0.0.0/8:https", "[fd00::/8]443"])
def test_a_bad_port_stops_start_up(raw: str) -> None:
    """A port outside 1-65535, or not a number, names the variable."""
    with pytest.raises(ConfigError, match=r"^HUB_EGRESS_ALLOW: "):
        load_settings({"HUB_EGRESS_ALLOW": raw})


def test_an_entry_with_a_port_allows_that_port_only() -> None:
    """10.1.2.3/32:443 allows 10.1.2.3 on 443, not on 22 nor on an unknown port; the refusal says why."""
    policy = EgressPolicy(("10.1.2.3/32:443",))
    assert policy.is_allowed_address("10.1.2.3", 443)
    assert not policy.is_allowed_address("10.1.2.3", 22)
    assert not policy.is_allowed_address("10.1.2.3")
    assert "port 443 only" in str(policy.refusal("10.1.2.3", 22))
    assert not policy.is_allowed_address("10.1.2.4", 443)


async def test_check_url_and_the_socket_use_the_port(server: LoopbackServer) -> None:
    """With 127.0.0.1/32:<the server's port> the server is reached; the same host on another port is refused
    when saved and when dialled."""
    policy = EgressPolicy((f"127.0.0.1/32:{server.port}",))
    await check_url(server.url(), policy)
    with pytest.raises(EgressUrlRefusedError, match=f"port {server.port} only"):
        await check_url("http://127.0.0.1:9/", policy)
    async with create_http_session(policy) as session:
        async with session.get(server.url(), allow_redirects=False) as response:
            assert response.status == 200
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get("http://127.0.0.1:9/", allow_redirects=False)
    assert is_egress_refusal(caught.value)
    assert server.hits == ["/"]


# --- a refused port and a dropped one look the same in the delivery log ------------------------


@pytest.fixture
def dropping_port() -> Iterator[int]:
    """A loopback port whose accept queue is full, so the kernel drops further SYNs: a connect hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()  # nothing listens there now: a connect is refused at once
    return port


async def _failure(url: str) -> BaseException:
    """What the session raises posting there; connecting may take 0.5 s (the hub's own sessions: 10 s)."""
    limit = aiohttp.ClientTimeout(total=5, sock_connect=0.5)
    async with create_http_session(LOOPBACK_ALLOWED) as session:
        with pytest.raises(aiohttp.ClientError) as caught:
            await session.post(url, allow_redirects=False, timeout=limit)
    return caught.value


async def test_refused_and_dropped_ports_are_one_unreachable_error(
    dropping_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused connection and one whose SYNs are dropped are recorded as the same retried error,
    "unreachable: the destination"; which it was is in the hub's log only."""
    refused = await _failure(f"http://127.0.0.1:{_closed_port()}/events")
    dropped = await _failure(f"http://127.0.0.1:{dropping_port}/events")
    assert type(refused) is not type(dropped)  # the network did answer differently
    with caplog.at_level(logging.WARNING, logger="hub.connectors"):
        errors = [error_for_exception(refused), error_for_exception(dropped)]
    assert [str(e) for e in errors] == ["unreachable: the destination"] * 2
    assert all(type(e) is TransientError for e in errors)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "ConnectionRefusedError" in logged
    assert "ConnectionTimeoutError" in logged


async def test_an_egress_refusal_names_no_address(server: LoopbackServer) -> None:
    """A delivery the guard refused says so, without the address the name resolved to."""
    async with create_http_session(DEFAULT) as session:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            await session.get(server.url(), allow_redirects=False)
    error = error_for_exception(caught.value)
    assert isinstance(error, PermanentError)
    assert "egress guard" in str(error)
    assert "127.0.0.1" not in str(error)
