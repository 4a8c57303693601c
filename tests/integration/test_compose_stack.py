"""compose.yaml really run: Debian's ``podman-compose`` starts its ``db`` and ``commandpost`` services.

Public registries are out of reach here, so ``POSTGRES_IMAGE`` (compose.yaml's own variable) names
a local stand-in for docker.io/library/postgres:15 built from Debian's postgresql-15
(tests/fixtures/postgres-standin/, a test stand-in with the official image's interface), and
``COMMANDPOST_IMAGE`` the image deploy/container/build-image.sh builds (the same tag as
test_container.py, so a second build reuses its layers). Nothing else is overridden: the services,
their environment, the ``pgdata`` volume, the ``./ops`` bind mount, the published port and the
healthcheck are compose.yaml's. The project folder is a copy of compose.yaml with a copy of the
example ops beside it, as docs/deploy.md tells an operator to lay it out.

Two things of these machines are set outside the compose file, in a containers.conf given to podman
through ``CONTAINERS_CONF`` for this test only: runc with explicit ulimits (crun cannot set cgroups
up here), and the netavark network backend, whose aardvark-dns resolves a service's name (``db``)
on the project's network; podman's default CNI backend on Debian 12 has no DNS plugin.

podman-compose 1.0.3 starts services in ``depends_on`` order but ignores ``condition:
service_healthy``, and podman runs healthchecks from systemd timers, which this host lacks: the test
does what Compose would, running the db service's healthcheck (``podman healthcheck run``, the
command compose.yaml gives) until it passes before it brings commandpost up. Then ``/readyz`` on
the published port, one Alertmanager alert through intake, the incident read back from PostgreSQL
with ``psql`` in the db container, and ``down -v``. Each failing step says which, the command and
its output.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.alert_support import free_port
from tests.conftest import EXAMPLE_OPS, REPO
from tests.integration.test_container import run, tool, webhook

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2700)]  # two image builds: minutes

BUILD = REPO / "deploy" / "container" / "build-image.sh"
COMPOSE = REPO / "compose.yaml"
STANDIN = REPO / "tests" / "fixtures" / "postgres-standin"
IMAGE = "localhost/commandpost:test"
BASE_IMAGE = "localhost/commandpost-base:bookworm"
STANDIN_IMAGE = "localhost/commandpost-postgres-standin:15"
READY_TIMEOUT = 180.0
# podman's settings for this test only (CONTAINERS_CONF replaces /etc/containers/containers.conf).
CONTAINERS_CONF = """\
[network]
network_backend = "netavark"
[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1024:1024"]
"""


@dataclass
class Stack:
    folder: Path
    project: str
    env: dict[str, str]
    port: int
    anonymous: set[str]  # volumes that down -v leaves behind

    def quiet(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A command whose failure is not the test's (logs, retries, clean-up)."""
        env = {**os.environ, **self.env}
        return subprocess.run(list(argv), capture_output=True, text=True, check=False, env=env)

    def compose(self, *args: str, what: str, timeout: float = 180) -> str:
        argv = ["podman-compose", "-p", self.project, "-f", str(self.folder / "compose.yaml"), *args]
        return run(argv, what, timeout=timeout, **self.env)

    def podman(self, *args: str, what: str, timeout: float = 60) -> str:
        return run(["podman", *args], what, timeout=timeout, CONTAINERS_CONF=self.env["CONTAINERS_CONF"])

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"  # podman-compose 1.0.3's naming

    def logs(self, service: str) -> str:
        done = self.quiet("podman", "logs", self.container(service))
        return done.stdout + done.stderr


def timed(timings: dict[str, float], step: str, started: float) -> None:
    timings[step] = time.monotonic() - started


@pytest.fixture(scope="module")
def timings() -> Iterator[dict[str, float]]:
    measured: dict[str, float] = {}
    yield measured
    print("\ncompose stack timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in measured.items()))


@pytest.fixture(scope="module")
def images(timings: dict[str, float]) -> None:
    for name, package in (
        ("podman", "podman"),
        ("runc", "runc"),
        ("mmdebstrap", "mmdebstrap"),
        ("podman-compose", "podman-compose"),
    ):
        tool(name, package)
    for helper, package in (("netavark", "netavark"), ("aardvark-dns", "aardvark-dns")):
        if not Path(f"/usr/lib/podman/{helper}").exists():
            pytest.fail(
                f"/usr/lib/podman/{helper} is missing: the compose test's network resolves service "
                f"names with netavark and aardvark-dns (.ci/run installs it: apt-get install {package})",
                pytrace=False,
            )
    if shutil.which("iptables") is None and not Path("/usr/sbin/iptables").exists():
        pytest.fail(
            "iptables is missing: netavark sets up the project network with it, and without it the db "
            "container never starts (.ci/run installs it: apt-get install iptables)",
            pytrace=False,
        )
    started = time.monotonic()
    # the base too when it is missing (mmdebstrap): the stand-in builds on it
    run(
        [str(BUILD)],
        "building commandpost's image (deploy/container/build-image.sh)",
        timeout=2100,
        IMAGE=IMAGE,
    )
    timed(timings, "commandpost image", started)
    started = time.monotonic()
    argv = ["podman", "--runtime", "runc", "build", "--network", "host", "--build-arg", f"BASE={BASE_IMAGE}"]
    argv += ["--tag", STANDIN_IMAGE, str(STANDIN)]
    run(argv, "building the PostgreSQL stand-in (tests/fixtures/postgres-standin)", timeout=600)
    timed(timings, "stand-in image", started)


@pytest.fixture
def stack(images: None, tmp_path: Path) -> Iterator[Stack]:
    """The project folder (compose.yaml and ./ops), the variables compose.yaml reads, and afterwards
    whatever ``down -v`` leaves: podman-compose 1.0.3 removes neither the project's network nor the
    anonymous volume of commandpost's image (its VOLUME, unused with PostgreSQL)."""
    folder = tmp_path / "commandpost"
    folder.mkdir()
    shutil.copyfile(COMPOSE, folder / "compose.yaml")
    shutil.copytree(EXAMPLE_OPS, folder / "ops")
    password = folder / "db_password"  # as compose.yaml's comment makes it: 0600, for uid 10001
    password.write_text(secrets.token_hex(24) + "\n")
    password.chmod(0o600)
    chown = ["chown"] if os.geteuid() == 0 else ["podman", "unshare", "chown"]
    run([*chown, "10001", str(password)], "giving the password file to commandpost's user (uid 10001)")
    conf = tmp_path / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    port = free_port()
    env = {
        "CONTAINERS_CONF": str(conf),
        # podman-compose 1.0.3 reads a secret's relative path from its working folder, not the project's
        "COMMANDPOST_DB_PASSWORD_FILE": str(password),
        "POSTGRES_IMAGE": STANDIN_IMAGE,
        "COMMANDPOST_IMAGE": IMAGE,
        "COMMANDPOST_PUBLISHED_PORT": str(port),
        "COMMANDPOST_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    made = Stack(folder, f"cptest{uuid.uuid4().hex[:8]}", env, port, set())
    yield made
    made.anonymous |= anonymous_volumes(made)
    made.quiet("podman-compose", "-p", made.project, "-f", str(folder / "compose.yaml"), "down", "-v")
    for volume in made.anonymous:
        made.quiet("podman", "volume", "rm", "--force", volume)
    made.quiet("podman", "network", "rm", "--force", f"{made.project}_default")


def anonymous_volumes(stack: Stack) -> set[str]:
    names = stack.quiet(
        "podman",
        "ps",
        "-a",
        "--filter",
        f"label=io.podman.compose.project={stack.project}",
        "--format",
        "{{.Names}}",
    ).stdout.split()
    if not names:
        return set()
    mounts = stack.quiet("podman", "inspect", "--format", "{{range .Mounts}}{{.Name}} {{end}}", *names).stdout
    return {name for name in mounts.split() if name != f"{stack.project}_pgdata" and len(name) == 64}


def wait_healthy(stack: Stack, service: str, healthcheck: dict[str, Any]) -> None:
    """What Compose does for ``condition: service_healthy``: the service's healthcheck, as often and
    as many times as compose.yaml says (``podman healthcheck run`` runs the command it was given)."""
    interval = float(healthcheck["interval"].rstrip("s"))
    attempts = int(healthcheck["retries"]) * int(interval)  # once a second instead of every interval
    last = ""
    for _ in range(attempts):
        done = stack.quiet("podman", "healthcheck", "run", stack.container(service))
        if done.returncode == 0:
            return
        last = done.stdout + done.stderr
        time.sleep(1)
    pytest.fail(
        f"the {service} service's healthcheck {healthcheck['test']} did not pass in {attempts}s "
        f"(podman healthcheck run {stack.container(service)}): {last}\n{stack.logs(service)}",
        pytrace=False,
    )


def wait_ready(stack: Stack) -> None:
    base = f"http://127.0.0.1:{stack.port}"
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"commandpost's /readyz on the published port {stack.port} was not 200 within "
        f"{READY_TIMEOUT:.0f}s:\n{stack.logs('commandpost')}\n--- db:\n{stack.logs('db')}",
        pytrace=False,
    )


def test_compose_stack_serves_an_alert_into_postgres(stack: Stack, timings: dict[str, float]) -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    # the order compose.yaml asks for: db first, commandpost once db's healthcheck passes
    assert services["commandpost"]["depends_on"] == {"db": {"condition": "service_healthy"}}

    password = (stack.folder / "db_password").read_text().strip()
    started = time.monotonic()
    printed = [stack.compose("up", "-d", "--no-build", "db", what="podman-compose up -d db")]
    wait_healthy(stack, "db", services["db"]["healthcheck"])
    timed(timings, "db healthy", started)

    started = time.monotonic()
    # podman-compose 1.0.3 starts the dependencies again (a no-op: "podman start" of a running one)
    printed.append(
        stack.compose("up", "-d", "--no-build", "commandpost", what="podman-compose up -d commandpost")
    )
    wait_ready(stack)
    timed(timings, "commandpost /readyz", started)
    # the password reached PostgreSQL (commandpost logs in over TCP with scram-sha-256) through the
    # secret alone: on no command line podman-compose printed, in no container's environment or log
    assert all("podman run" in up and ":/run/secrets/db_password:ro" in up for up in printed), printed
    containers = [stack.container("db"), stack.container("commandpost")]
    printed.append(stack.podman("inspect", *containers, what="podman inspect db commandpost"))
    printed += [stack.logs("db"), stack.logs("commandpost")]
    assert not [text for text in printed if password in text]

    # published as compose.yaml says: on the host's loopback only
    published = stack.podman("port", stack.container("commandpost"), what="podman port commandpost")
    assert published.split() == ["8080/tcp", "->", f"127.0.0.1:{stack.port}"]
    # the PostgreSQL data is in the project's pgdata volume
    mounts = stack.podman(
        "inspect",
        "--format",
        "{{range .Mounts}}{{.Name}}={{.Destination}} {{end}}",
        stack.container("db"),
        what="podman inspect db",
    )
    assert f"{stack.project}_pgdata=/var/lib/postgresql/data" in mounts.split()

    # serve applied ./ops and printed the intake URLs with the public URL
    logs = stack.logs("commandpost")
    assert "ops: applied new revision" in logs, logs
    [intake] = [
        line.split(": ", 1)[1] for line in logs.splitlines() if "(alertmanager, payment-platform): " in line
    ]
    assert intake.startswith(f"http://127.0.0.1:{stack.port}/api/v1/intake/alertmanager/")
    accepted = httpx.post(intake, json=webhook(), timeout=10)
    assert accepted.status_code in (200, 202), accepted.text
    assert accepted.json()["outcome"] == "incident_opened", accepted.text

    # the incident is in the db service's PostgreSQL (compose.yaml's user and database)
    query = "SELECT number, service, status, detection FROM incident"
    rows = stack.podman(
        "exec",
        stack.container("db"),
        "psql",
        "-U",
        "commandpost",
        "-d",
        "commandpost",
        "-XAt",
        "-c",
        query,
        what="psql in the db container",
    )
    assert rows.split() == ["1|payment-platform|investigating|automatic"]

    stack.anonymous |= anonymous_volumes(stack)  # commandpost image's VOLUME: down -v leaves it
    started = time.monotonic()
    stack.compose("down", "-v", what="podman-compose down -v")
    timed(timings, "down -v", started)
    left = stack.podman(
        "ps",
        "-a",
        "--filter",
        f"label=io.podman.compose.project={stack.project}",
        "--format",
        "{{.Names}}",
        what="podman ps after down",
    )
    assert left.split() == []
    volumes = stack.podman("volume", "ls", "--format", "{{.Name}}", what="podman volume ls after down")
    assert f"{stack.project}_pgdata" not in volumes.split()
