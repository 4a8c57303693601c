"""The loopback test of the outbound guard every reliability server runs under (reliability/guarded.py)."""

from __future__ import annotations

import pytest
from reliability.guarded import is_loopback


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", b"127.0.0.1", None, "::ffff:127.0.0.1"]
)
def test_loopback_hosts_pass(host: object) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["10.0.0.1", "169.254.169.254", "8.8.8.8", "hooks.slack.com", "example.com", "fd00::1", "0.0.0.0"]
)
def test_anything_else_is_refused(host: object) -> None:
    assert not is_loopback(host)
