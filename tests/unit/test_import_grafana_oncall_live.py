"""``commandpost import grafana-oncall --token … --api-url …``: the live read against a local stand-in
of OnCall's public API (tests/standins/grafana_oncall_rest.py), and the command end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from commandpost.errors import BadRequest, Unauthorized, Unavailable
from commandpost.importers import grafana_oncall
from commandpost.importers.source import LiveAPI, SavedResponses, next_link
from tests.cli_support import run_cli
from tests.standins.grafana_oncall_rest import GrafanaOnCallStandIn, start_grafana_oncall
from tests.unit.test_import_grafana_oncall import FIXTURES, NOW, TOKENS

TOKEN = "oncall-api-key-8c1f0e2d9b7a"
SA_TOKEN = "glsa_Zm9vYmFyYmF6cXV4cXV1eGNvcmdl_3f9a1c2b"
STACK = "https://your-stack.grafana.net"


def _saved() -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}

    def page(path: Path) -> tuple[str, int]:
        parts = path.name.split(".")
        return parts[0], int(parts[1]) if len(parts) == 3 else 1

    for path in sorted(FIXTURES.glob("*.json"), key=page):
        endpoint = path.name.split(".")[0]
        out.setdefault(endpoint, []).extend(json.loads(path.read_text())["results"])
    return out


@pytest.fixture
def oncall() -> Iterator[GrafanaOnCallStandIn]:
    standin = start_grafana_oncall(TOKEN, _saved())
    yield standin
    standin.close()


def test_a_live_read_equals_the_saved_responses(oncall: GrafanaOnCallStandIn) -> None:
    oncall.max_page = 2  # many pages: every list is followed through its absolute 'next' links
    oncall.fail("schedules", 429, 503)
    waits: list[float] = []
    source = grafana_oncall.live(TOKEN, base_url=oncall.url, sleep=waits.append)
    live = grafana_oncall.read(source, now=NOW)
    saved = grafana_oncall.read(SavedResponses(FIXTURES), now=NOW)
    assert live.schedules == saved.schedules
    assert live.people == saved.people and live.teams == saved.teams
    assert live.escalation == saved.escalation and live.services == saved.services
    assert live.overrides == saved.overrides
    assert sorted(map(str, live.unmapped)) == sorted(map(str, saved.unmapped))
    assert waits == [1.0, 2.0]  # no Retry-After from OnCall: the reader backs off by itself
    paths = [path for path, _ in oncall.requests]
    assert all(p.startswith("/api/v1/") and p.split("?")[0].endswith("/") for p in paths)
    assert sum(p.startswith("/api/v1/on_call_shifts/") for p in paths) == 8  # 16 shifts, 2 a page
    assert {headers["Authorization"] for _, headers in oncall.requests} == {TOKEN}  # no 'Bearer'


def test_a_rate_limited_key_waits_out_a_whole_window(oncall: GrafanaOnCallStandIn) -> None:
    oncall.fail("users", *[429] * 10)
    waits: list[float] = []
    source = grafana_oncall.live(TOKEN, base_url=oncall.url, sleep=waits.append)
    assert len(grafana_oncall.read(source, now=NOW).people) == 5
    assert len(waits) == 10 and sum(waits) >= 300  # OnCall's window is 5 minutes


def test_an_api_url_given_with_its_api_v1_suffix_works_too(oncall: GrafanaOnCallStandIn) -> None:
    source = grafana_oncall.live(TOKEN, base_url=f"{oncall.url}/api/v1/")
    assert len(grafana_oncall.read(source, now=NOW).people) == 5


def test_a_refused_key_says_so_without_showing_it(oncall: GrafanaOnCallStandIn) -> None:
    source = grafana_oncall.live("wrong-key-123456", base_url=oncall.url)
    with pytest.raises(Unauthorized, match="HTTP 403 — the token was refused: Invalid token") as caught:
        grafana_oncall.read(source, now=NOW)
    assert "wrong-key" not in str(caught.value)


def test_live_mode_needs_the_api_url() -> None:
    with pytest.raises(BadRequest, match="--api-url is required"):
        grafana_oncall.live(TOKEN, base_url=None)


def test_the_command_imports_saved_responses_and_the_folder_passes_check(tmp_path: Path) -> None:
    out = tmp_path / "ops"
    done = run_cli(["import", "grafana-oncall", str(FIXTURES), "--out", str(out)])
    assert done.returncode == 0, done.stderr
    assert "passes check" in done.stderr
    assert sorted(p.name for p in (out / "schedules").iterdir()) == [
        "database.yaml",
        "pairs.yaml",
        "payments-follow-the-sun.yaml",
        "platform-primary.yaml",
    ]
    report = json.loads((out / ".import" / "report.json").read_text())
    assert report["vendor"] == "grafana-oncall" and report["counts"]["services"] == 4
    assert run_cli(["check", str(out)]).returncode == 0


def test_the_command_reads_live_with_the_token_from_the_environment(
    oncall: GrafanaOnCallStandIn, tmp_path: Path
) -> None:
    out = tmp_path / "ops"
    args = ["import", "grafana-oncall", "--out", str(out), "--api-url", oncall.url]
    done = run_cli(args, env={"COMMANDPOST_IMPORT_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert (out / "escalation" / "prometheus.yaml").is_file()
    everything = done.stdout + done.stderr + "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert TOKEN not in everything and not [t for t in TOKENS if t in everything]
    done = run_cli(
        ["import", "grafana-oncall", "--out", str(tmp_path / "o2")], env={"COMMANDPOST_IMPORT_TOKEN": TOKEN}
    )
    assert done.returncode == 2 and "--api-url is required" in done.stderr
    done = run_cli([*args, "--force"], env={"COMMANDPOST_IMPORT_TOKEN": "bad"})
    assert (
        done.returncode != 0 and "the token was refused" in done.stderr and "bad" not in done.stderr.split()
    )


@pytest.fixture
def cloud() -> Iterator[GrafanaOnCallStandIn]:
    """OnCall answering a Grafana service-account token of the stack at STACK."""
    standin = start_grafana_oncall(SA_TOKEN, _saved(), grafana_url=STACK)
    yield standin
    standin.close()


def test_a_service_account_token_is_sent_with_the_stacks_url(cloud: GrafanaOnCallStandIn) -> None:
    source = grafana_oncall.live(SA_TOKEN, base_url=cloud.url, grafana_url=f"{STACK}/")
    live = grafana_oncall.read(source, now=NOW)
    saved = grafana_oncall.read(SavedResponses(FIXTURES), now=NOW)
    assert live.schedules == saved.schedules and live.escalation == saved.escalation
    sent = {(h["Authorization"], h["X-Grafana-URL"]) for _, h in cloud.requests}
    assert sent == {(SA_TOKEN, STACK)}  # on every request; the trailing slash dropped, as OnCall does
    # personal notification rules are an API key's only: people get the default, and the report says so
    assert [p["handle"] for p in live.people] == [p["handle"] for p in saved.people]
    assert not any("notification_rules" in p for p in live.people)
    assert any("notification_rules" in p for p in saved.people)
    refused = [u for u in live.unmapped if u.source_id == "personal_notification_rules"]
    assert len(refused) == 1 and "a service-account token cannot" in refused[0].reason


def test_the_standin_refuses_a_service_account_token_without_the_stacks_url(
    cloud: GrafanaOnCallStandIn,
) -> None:
    """What OnCall answers the request live() never sends: the token alone (our own LiveAPI, bare)."""
    bare = LiveAPI(
        base_url=f"{cloud.url}/api/v1", headers={"Authorization": SA_TOKEN}, paginate=next_link("next")
    )
    with pytest.raises(Unauthorized, match="HTTP 403 — the token was refused: Missing X-Grafana-Instance-ID"):
        next(bare.pages("users/"))
    with pytest.raises(BadRequest, match="needs --grafana-url") as caught:
        grafana_oncall.live(SA_TOKEN, base_url=cloud.url)
    assert SA_TOKEN not in str(caught.value) and not cloud.requests[1:]  # live() asked nothing


def test_another_stacks_url_ends_with_what_oncall_said(cloud: GrafanaOnCallStandIn) -> None:
    waits: list[float] = []
    other = "https://someone-else.grafana.net"
    source = grafana_oncall.live(SA_TOKEN, base_url=cloud.url, grafana_url=other, sleep=waits.append)
    with pytest.raises(Unavailable, match="HTTP 429 after 11 tries: Organization being synced") as caught:
        grafana_oncall.read(source, now=NOW)
    assert len(waits) == 10 and SA_TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "your-stack.grafana.net",  # no scheme
        "http://your-stack.grafana.net",  # OnCall sends the token on to it: https only
        "ftp://your-stack.grafana.net",
        "https://",
        "https://admin:s3cr3t-pass@your-stack.grafana.net",
        "https://your-stack.grafana.net/?orgId=1",
        "https://your-stack.grafana.net:99999",
        "https://your-stack.grafana.net\r\nX-Injected: 1",
        "",
    ],
)
def test_a_bad_grafana_url_is_refused_naming_the_option(cloud: GrafanaOnCallStandIn, url: str) -> None:
    with pytest.raises(
        BadRequest, match=r"--grafana-url \(COMMANDPOST_IMPORT_GRAFANA_URL\) must be"
    ) as caught:
        grafana_oncall.live(SA_TOKEN, base_url=cloud.url, grafana_url=url)
    assert SA_TOKEN not in str(caught.value) and "s3cr3t" not in str(caught.value)
    assert cloud.requests == []


def test_the_command_reads_live_with_a_service_account_token(
    cloud: GrafanaOnCallStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    args = ["import", "grafana-oncall", "--api-url", cloud.url]
    env = {"COMMANDPOST_IMPORT_TOKEN": SA_TOKEN, "COMMANDPOST_IMPORT_GRAFANA_URL": STACK}
    done = run_cli([*args, "--out", str(tmp_path / "ops")], env=env)
    assert done.returncode == 0, done.stderr
    assert {h["X-Grafana-URL"] for _, h in cloud.requests} == {STACK}
    given = run_cli(
        [*args, "--out", str(tmp_path / "o2"), "--grafana-url", STACK],
        env={**env, "COMMANDPOST_IMPORT_GRAFANA_URL": None},
    )
    assert given.returncode == 0, given.stderr
    missing = run_cli(
        [*args, "--out", str(tmp_path / "o3")], env={**env, "COMMANDPOST_IMPORT_GRAFANA_URL": None}
    )
    assert missing.returncode == 2 and "needs --grafana-url" in missing.stderr
    bad = run_cli([*args, "--out", str(tmp_path / "o4"), "--grafana-url", "http://stack.example"], env=env)
    assert bad.returncode == 2 and "--grafana-url" in bad.stderr
    saved = run_cli(
        ["import", "grafana-oncall", str(FIXTURES), "--out", str(tmp_path / "o5"), "--grafana-url", STACK]
    )
    assert saved.returncode == 2 and "--grafana-url goes with grafana-oncall and --token" in saved.stderr
    printed = "".join(r.stdout + r.stderr for r in (done, given, missing, bad, saved)) + caplog.text
    written = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert SA_TOKEN not in printed + written
