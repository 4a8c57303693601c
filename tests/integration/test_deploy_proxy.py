"""Behind a TLS-terminating reverse proxy (docs/deploy.md): ``commandpost serve`` believes the proxy's
``X-Forwarded-Proto`` only from the addresses uvicorn trusts — 127.0.0.1 unless ``FORWARDED_ALLOW_IPS``
names others — so cookies get ``Secure`` behind an https proxy and a client cannot claim https itself.

The real server, started as the systemd unit starts it (settings from the environment), on SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.alert_support import free_port, stop_serve, wait_ready
from tests.conftest import EXAMPLE_OPS, REPO

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")


@contextmanager
def _serve(tmp_path: Path, **env: str) -> Iterator[str]:
    """``commandpost serve`` configured through its environment, as the unit does; yields its URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    clean.pop("FORWARDED_ALLOW_IPS", None)
    clean |= {
        "COMMANDPOST_DATABASE_URL": f"sqlite:///{tmp_path / 'commandpost.db'}",
        "COMMANDPOST_HOST": "127.0.0.1",
        "COMMANDPOST_PORT": str(port),
        **env,
    }
    err = tmp_path / "stderr.log"
    argv = [str(COMMANDPOST), "serve", "--ops", str(EXAMPLE_OPS), "--no-engine"]
    with (tmp_path / "stdout.log").open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=clean, stdout=stdout, stderr=stderr)
    try:
        wait_ready(proc, base, err)
        yield base
    finally:
        stop_serve(proc)


def _login_cookie(base: str, headers: dict[str, str]) -> str:
    response = httpx.get(f"{base}/login", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.headers["set-cookie"]


def test_forwarded_proto_from_the_local_proxy_makes_cookies_secure(tmp_path: Path) -> None:
    with _serve(tmp_path) as base:
        assert "secure" in _login_cookie(base, {"X-Forwarded-Proto": "https"}).lower()
        assert "secure" not in _login_cookie(base, {}).lower()


def test_forwarded_proto_from_an_untrusted_address_is_ignored(tmp_path: Path) -> None:
    with _serve(tmp_path, FORWARDED_ALLOW_IPS="192.0.2.10") as base:  # the proxy is elsewhere
        assert "secure" not in _login_cookie(base, {"X-Forwarded-Proto": "https"}).lower()


def test_an_https_public_url_makes_cookies_secure_whatever_the_headers(tmp_path: Path) -> None:
    with _serve(tmp_path, COMMANDPOST_PUBLIC_URL="https://commandpost.example.org") as base:
        assert "secure" in _login_cookie(base, {}).lower()
    # and the intake URLs a person copies into Alertmanager are the proxy's, not the loopback's
    assert (
        "https://commandpost.example.org/api/v1/intake/alertmanager/" in (tmp_path / "stderr.log").read_text()
    )
