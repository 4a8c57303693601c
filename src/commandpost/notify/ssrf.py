"""The outbound address guard: webhooks reach only public addresses unless the operator allowlisted them.

A webhook URL comes from configuration (people.yaml, a team channel) that many people can edit;
without this guard it would be a way to make the server call its own admin ports, the cloud
metadata service (169.254.169.254) or anything on the private network.

Rules: the scheme is http or https; the host is resolved and EVERY address it resolves to must be
public (not loopback, link-local, private, unique-local, shared, reserved, multicast or
unspecified; IPv4 inside IPv6 is unwrapped), or be allowlisted (``outbound_allowlist``: host
names, IPs or CIDRs). The caller connects to the address checked here, never resolving again,
so DNS rebinding between check and connect is impossible. A redirect is followed only to an
allowlisted target. The check runs before any connection is made.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """The guard will not let this request out; retrying cannot change that."""


class Unresolvable(Exception):
    """The host did not resolve (possibly a passing DNS failure): worth another try later."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the addresses to connect to (in resolver order)."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def host_is_ip(self) -> bool:
        return _parse_ip(self.host) is not None


def display(url: str) -> str:
    """A URL safe to show in an error: scheme, host and port only (webhook paths are credentials)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or '?'}{port}/…"
    except ValueError:
        return "<unparseable URL>"


def blocked_reason(address: IPAddress) -> str | None:
    """Why an address is not public, or None when it is."""
    for ip in (*_embedded(address), address):
        if ip.is_loopback:
            return "loopback"
        if ip.is_link_local:
            return "link-local (the cloud metadata range)"
        if ip.is_unspecified:
            return "unspecified"
        if ip.is_multicast:
            return "multicast"
        if ip.is_private:
            return "private"
        if ip.is_reserved:
            return "reserved"
        if not ip.is_global:
            return "non-public"
    return None


def _embedded(address: IPAddress) -> list[IPAddress]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo client): judged as themselves."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
    return [ip for ip in found if ip is not None]


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class Allowlist:
    """Host names (exact, case-insensitive), IP addresses and CIDR blocks the operator trusts."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or ":" in entry:
                    raise ValueError(
                        f"outbound_allowlist entry {raw!r} is neither a host name nor a CIDR"
                    ) from None
                self.hosts.add(entry.rstrip("."))

    def host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def address(self, address: IPAddress) -> bool:
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return any(
            ip.version == net.version and ip in net for ip in (address, mapped) if ip for net in self.networks
        )


class OutboundGuard:
    def __init__(self, allowlist: Iterable[str] = (), *, resolver: Resolver = system_resolver) -> None:
        self.allowlist = Allowlist(allowlist)
        self.resolver = resolver

    def check(self, url: str, *, redirect: bool = False) -> Target:
        """The target to connect to, or :class:`Refused` / :class:`Unresolvable`. Makes no connection."""
        shown = display(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise Refused(f"{shown}: not a valid URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise Refused(f"{shown}: scheme {scheme or '(none)'!r} refused; webhooks are http or https only")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise Refused(f"{shown}: the URL has no host")
        port = port or DEFAULT_PORTS[scheme]
        host_allowed = self.allowlist.host(host)
        try:
            resolved = [host] if _parse_ip(host) is not None else self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"{shown}: cannot resolve {host!r} ({exc})") from None
        if not resolved:
            raise Unresolvable(f"{shown}: {host!r} resolved to no address")
        for text in resolved:
            address = _parse_ip(text)
            if address is None:
                raise Refused(f"{shown}: {host!r} resolved to {text!r}, which is not an IP address")
            if host_allowed or self.allowlist.address(address):
                continue
            if redirect:
                raise Refused(
                    f"redirect to {shown} refused: {text} is not in outbound_allowlist "
                    "(redirects are followed only to allowlisted hosts)"
                )
            reason = blocked_reason(address)
            if reason is not None:
                raise Refused(
                    f"{shown} refused: {host!r} resolves to {text}, a {reason} address; outbound webhooks "
                    "go only to public addresses unless allowlisted (COMMANDPOST_OUTBOUND_ALLOWLIST)"
                )
        return Target(url=url, scheme=scheme, host=host, port=port, addresses=tuple(resolved))
