"""The outbound address guard, with a fake resolver: nothing here touches DNS or the network."""

from __future__ import annotations

import ipaddress

import pytest

from commandpost.notify.ssrf import Allowlist, OutboundGuard, Refused, Unresolvable, blocked_reason

DNS = {
    "hooks.example.com": ["93.184.215.14"],
    "metadata.attacker.example": ["169.254.169.254"],
    "mixed.attacker.example": ["93.184.215.14", "10.0.0.7"],  # one bad address is enough to refuse
    "v6.attacker.example": ["fd00::1"],
    "mapped.attacker.example": ["::ffff:127.0.0.1"],
    "internal.corp": ["10.1.2.3"],
}


def resolver(host: str, port: int) -> list[str]:
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    if host not in DNS:
        raise OSError(f"[Errno -2] Name or service not known: {host}")
    return DNS[host]


@pytest.fixture
def guard() -> OutboundGuard:
    return OutboundGuard(["internal.corp", "192.0.2.0/24"], resolver=resolver)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost.:1/", "cannot resolve"),  # not in our fake DNS: unresolvable, not allowed
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://metadata.attacker.example/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "non-public"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[fd00::1]/", "private"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://mapped.attacker.example/", "loopback"),
        ("http://v6.attacker.example/", "private"),
        ("http://mixed.attacker.example/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://hooks.example.com/", "scheme 'gopher'"),
        ("ftp://hooks.example.com/", "scheme 'ftp'"),
        ("hooks.example.com/path", "scheme"),
        ("http:///nohost", "no host"),
    ],
)
def test_refused_destinations(guard, url, reason):
    with pytest.raises((Refused, Unresolvable)) as caught:
        guard.check(url)
    assert reason in str(caught.value)


def test_an_unresolvable_host_is_worth_retrying_but_a_refusal_is_not(guard):
    with pytest.raises(Unresolvable):
        guard.check("https://nowhere.example/")
    with pytest.raises(Refused):
        guard.check("http://10.0.0.1/")


def test_public_and_allowlisted_destinations_pass(guard):
    target = guard.check("https://hooks.example.com/services/T/B/x")
    assert (target.scheme, target.host, target.port, target.addresses) == (
        "https",
        "hooks.example.com",
        443,
        ("93.184.215.14",),
    )
    assert target.host_header == "hooks.example.com"
    assert guard.check("http://internal.corp:8080/x").addresses == ("10.1.2.3",)  # host allowlisted
    assert guard.check("http://internal.corp:8080/x").host_header == "internal.corp:8080"
    assert guard.check("http://192.0.2.10/x").addresses == ("192.0.2.10",)  # CIDR allowlisted


def test_redirects_go_only_to_allowlisted_targets(guard):
    with pytest.raises(Refused, match="redirects are followed only to allowlisted"):
        guard.check("https://hooks.example.com/elsewhere", redirect=True)  # public is not enough
    assert guard.check("http://internal.corp/x", redirect=True).host == "internal.corp"


def test_errors_never_show_the_url_path(guard):
    with pytest.raises(Refused) as caught:
        guard.check("http://10.0.0.1/services/T000/B000/SECRET")
    assert "SECRET" not in str(caught.value)
    assert "http://10.0.0.1/…" in str(caught.value)


def test_blocked_reason_and_allowlist_parsing():
    assert blocked_reason(ipaddress.ip_address("8.8.8.8")) is None
    assert blocked_reason(ipaddress.ip_address("2606:4700::1111")) is None
    assert blocked_reason(ipaddress.ip_address("2002:a00:1::")) == "private"  # 6to4 wrapping 10.0.0.1
    allow = Allowlist(["127.0.0.1", " Hooks.Local. ", "10.0.0.0/8", "::1"])
    assert allow.host("hooks.local") and allow.host("HOOKS.LOCAL.")
    assert allow.address(ipaddress.ip_address("10.9.9.9")) and allow.address(ipaddress.ip_address("::1"))
    assert not allow.address(ipaddress.ip_address("11.0.0.1"))
    with pytest.raises(ValueError, match="neither a host name nor a CIDR"):
        Allowlist(["10.0.0.0/33"])
