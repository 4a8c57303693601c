"""The container image, built and run with podman as docs/deploy.md says.

``deploy/container/build-image.sh`` makes the Debian base with mmdebstrap (once: skipped when the
base image exists) and builds the repository's Containerfile on it; the image then runs under runc
with the flags these machines need (host network, explicit ulimits). The test checks what an
operator relies on: ``/readyz`` answers, the HEALTHCHECK passes, the server is not root, one
Alertmanager alert through intake opens an incident, SIGTERM stops it cleanly, and the SQLite
database in the volume outlives the container. Every step that cannot work here fails with what
was run and what it printed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alert_support import free_port
from tests.conftest import EXAMPLE_OPS, REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]  # mmdebstrap + a pip install: minutes

BUILD = REPO / "deploy" / "container" / "build-image.sh"
IMAGE = "localhost/commandpost:test"
# runc rather than crun, the host network and explicit ulimits: crun cannot set cgroups up in
# hybrid mode here, and runc's defaults fail setrlimit (docs/deploy.md, "Container image").
RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=1024:1024"]
RUN_FLAGS += ["--network", "host"]
READY_TIMEOUT = 120.0
TOKEN = re.compile(r"COMMANDPOST_TOKEN=(cp_[\w-]{43})")


def tool(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        pytest.fail(
            f"{name} is not installed: the container test builds and runs the image with podman "
            f"(.ci/run installs it: apt-get install {package})",
            pytrace=False,
        )
    return path


def run(argv: list[str], what: str, timeout: float = 120, **env: str) -> str:
    """Run a command; the test fails saying which step, the command and its output if it fails."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, env={**os.environ, **env}
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{what}: timed out after {timeout:g}s: {' '.join(argv)}\n{exc.stdout!r}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {done.returncode}, after {time.monotonic() - started:.0f}s): "
            f"{' '.join(argv)}\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}",
            pytrace=False,
        )
    return done.stdout


@pytest.fixture(scope="module")
def image() -> str:
    for name, package in (("podman", "podman"), ("runc", "runc"), ("mmdebstrap", "mmdebstrap")):
        tool(name, package)
    run([str(BUILD)], "building the image (deploy/container/build-image.sh)", timeout=2100, IMAGE=IMAGE)
    return IMAGE


class Container:
    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.base = f"http://127.0.0.1:{port}"

    def logs(self) -> str:
        done = subprocess.run(["podman", "logs", self.name], capture_output=True, text=True, check=False)
        return done.stdout + done.stderr

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            state = subprocess.run(
                ["podman", "inspect", "--format", "{{.State.Status}}", self.name],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            if state not in ("running", "created", "configured"):
                pytest.fail(f"the container stopped ({state}) before /readyz:\n{self.logs()}", pytrace=False)
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        pytest.fail(f"/readyz was not 200 within {READY_TIMEOUT:.0f}s:\n{self.logs()}", pytrace=False)


def webhook() -> dict[str, Any]:
    """Alertmanager's webhook (version 4) for one paging alert of the example ops' payment-platform."""
    labels = {"alertname": "WebhookBacklogHigh", "service": "payment-platform", "severity": "page"}
    alert = {
        "status": "firing",
        "labels": {**labels, "instance": "worker-1"},
        "annotations": {
            "summary": "Payment webhook backlog 1500 > 1000 on worker-1",
            "runbook_url": "https://runbooks.internal/payment-webhook-backlog",
        },
        "startsAt": datetime.now(UTC).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=backlog",
        "fingerprint": "5f1e3c2a9b7d4e60",
    }
    return {
        "receiver": "commandpost",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {"alertname": "WebhookBacklogHigh"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": '{}:{alertname="WebhookBacklogHigh"}',
        "truncatedAlerts": 0,
    }


@pytest.fixture
def start(image: str) -> Iterator[Callable[[str], Container]]:
    """``start(volume)`` runs the image on a free port with the example ops mounted read-only and
    ``volume`` at /var/lib/commandpost; every container and volume is removed after the test."""
    names: list[str] = []
    volumes: set[str] = set()

    def start_one(volume: str) -> Container:
        name = f"commandpost-test-{uuid.uuid4().hex[:8]}"
        port = free_port()
        names.append(name)
        volumes.add(volume)
        argv = ["podman", "run", "--detach", "--name", name, *RUN_FLAGS]
        argv += [
            "--env",
            f"COMMANDPOST_PORT={port}",
            "--env",
            f"COMMANDPOST_PUBLIC_URL=http://127.0.0.1:{port}",
        ]
        argv += [
            "--volume",
            f"{EXAMPLE_OPS}:/etc/commandpost/ops:ro",
            "--volume",
            f"{volume}:/var/lib/commandpost",
        ]
        argv += [image, "commandpost", "serve", "--ops", "/etc/commandpost/ops", "--first-run-token"]
        run(argv, "starting the container (podman run)")
        container = Container(name, port)
        container.wait_ready()
        return container

    yield start_one
    for name in names:
        subprocess.run(["podman", "rm", "--force", "--time", "5", name], capture_output=True, check=False)
    for volume in volumes:
        subprocess.run(["podman", "volume", "rm", "--force", volume], capture_output=True, check=False)


def test_image_serves_takes_an_alert_and_keeps_its_database(start: Callable[[str], Container]) -> None:
    volume = f"commandpost-test-{uuid.uuid4().hex[:8]}"
    first = start(volume)

    # the HEALTHCHECK (kept: the image is built in docker format) passes, and the server is not root
    run(["podman", "healthcheck", "run", first.name], "the image's HEALTHCHECK")
    assert run(["podman", "exec", first.name, "id", "-u"], "id -u in the container").strip() == "10001"
    config = run(
        ["podman", "image", "inspect", "--format", "{{.Config.User}} {{.Config.Cmd}}", IMAGE], "inspect"
    )
    assert config.split() == ["commandpost", "[commandpost", "serve]"]

    # serve printed the first-run token and the intake URL of each integration
    logs = first.logs()
    tokens = TOKEN.findall(logs)
    assert len(tokens) == 1, logs
    bearer = {"Authorization": f"Bearer {tokens[0]}"}
    [intake] = re.findall(r"\(alertmanager, payment-platform\): (http://\S+)", logs)
    assert intake.startswith(f"{first.base}/api/v1/intake/alertmanager/")

    # one Alertmanager webhook through intake opens an incident
    accepted = httpx.post(intake, json=webhook(), timeout=10)
    assert accepted.status_code in (200, 202), accepted.text
    incidents = httpx.get(f"{first.base}/api/v1/incidents", headers=bearer, timeout=10)
    assert incidents.status_code == 200, incidents.text
    [opened] = incidents.json()
    assert opened["number"] == "INC-1" and opened["service"] == "payment-platform"

    # SIGTERM: uvicorn finishes and serve exits as it does under systemd, 128 + 15 (not 137: killed)
    run(["podman", "stop", "--time", "30", first.name], "podman stop")
    code = run(["podman", "inspect", "--format", "{{.State.ExitCode}}", first.name], "inspect").strip()
    assert code == "143", first.logs()
    assert "Finished server process" in first.logs()

    # a new container on the same volume finds the incident and the token in the SQLite database
    second = start(volume)
    again = httpx.get(f"{second.base}/api/v1/incidents", headers=bearer, timeout=10)
    assert again.status_code == 200, again.text
    assert [i["number"] for i in again.json()] == ["INC-1"]
    assert "admin token" not in second.logs()  # not a first run any more
