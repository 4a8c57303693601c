"""Helpers shared by the alert-intake tests: ops variants, integration keys, row counts, a real server.

``serve(app)`` runs the app under a real uvicorn on 127.0.0.1 (a free port) in a thread, over
TLS when given a certificate — what Alertmanager and the PagerDuty client libraries talk to.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts.models import Alert, AlertEvent, ChangeEvent
from commandpost.clock import Clock
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy import service as policy_service

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_OPS = REPO / "examples" / "ops"
PAYLOADS = REPO / "tests" / "fixtures" / "payloads"
SERVICE_FILE = "services/payment-platform.yaml"


def keys(sessions: sessionmaker[Session]) -> dict[str, str]:
    """source → integration key of the applied ops (one integration per source in examples/ops)."""
    with sessions() as s:
        return {k.source: k.key for k in policy_service.list_integrations(s)}


def apply_variant(
    sessions: sessionmaker[Session], clock: Clock, tmp: Path, change: Callable[[dict[str, Any]], None]
) -> dict[str, str]:
    """examples/ops with ``change`` applied to the payment-platform service YAML; returns the keys."""
    folder = tmp / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    path = folder / SERVICE_FILE
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with sessions() as s:
        policy_service.apply_folder(s, path=folder, now=clock.now(), actor="test")
        s.commit()
    return keys(sessions)


def counts(session: Session) -> dict[str, int]:
    """Rows per table the intake writes: compared before/after a refused request."""
    session.rollback()  # a fresh snapshot: SQLite's read transaction would keep showing the old one
    return {
        model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (Alert, AlertEvent, ChangeEvent, Incident, TimelineEntry)
    }


def pd_trigger(routing_key: str, dedup_key: str | None = "k-1", **payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": {
            "summary": "DB connections exhausted",
            "source": "db-1",
            "severity": "critical",
            **payload,
        },
    }
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return body


def load_jsonc(name: str) -> list[Any]:
    """The JSON documents of a ``.jsonc`` sample (``//`` comment lines between them)."""
    import orjson

    docs, lines = [], []
    for line in (PAYLOADS / name).read_text().splitlines():
        if line.lstrip().startswith("//"):
            if lines:
                docs.append(orjson.loads("\n".join(lines)))
                lines = []
            continue
        if line.strip():
            lines.append(line)
    if lines:
        docs.append(orjson.loads("\n".join(lines)))
    return docs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, *, certfile: Path | None = None, keyfile: Path | None = None) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port; yields its base URL; stops it after."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        backlog=2048,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    try:
        yield f"{'https' if certfile else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost and its key, made with ``cryptography``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "commandpost test")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certfile, keyfile


SERVE_START_TIMEOUT = 90.0
"""Seconds a real ``commandpost serve`` may take to answer /readyz (the shared machine can be slow)."""


def wait_ready(proc: Any, base: str, err: Path) -> None:
    """Until ``serve`` (``proc``, its stderr in ``err``) answers /readyz 200; the test fails, with its
    stderr, if it exits or takes longer than :data:`SERVE_START_TIMEOUT`."""
    import httpx
    import pytest

    deadline = time.monotonic() + SERVE_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited ({proc.returncode}) before /readyz:\n{err.read_text()}", pytrace=False)
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"/readyz was not 200 within {SERVE_START_TIMEOUT:.0f} s:\n{err.read_text()}", pytrace=False)


def stop_serve(proc: Any) -> None:
    """Ctrl-C, as a person ends ``make run``; killed if it has not exited within 30 s."""
    import signal
    import subprocess

    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until(found: Callable[[], Any], what: str, seconds: float = 30.0) -> Any:
    """Poll ``found`` until it returns something truthy (returned); fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds:g} s for {what}")


@contextmanager
def running(name: str, argv: list[str], url: str, log_path: Path, seconds: float = 20.0) -> Iterator[str]:
    """A real server binary (Alertmanager, Prometheus) started with its output in ``log_path``, once
    ``{url}/-/ready`` answers 200 (else a failure quoting its log); stopped after."""
    import httpx

    with log_path.open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + seconds
            while True:
                try:
                    if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{name} did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
