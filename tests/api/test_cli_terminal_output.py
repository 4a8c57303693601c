"""What the CLI prints when user or alert text is hostile (issue 14, item 3), and how its ``--json``
prints times (item 18): every command as a person runs it — a subprocess talking to a real uvicorn
server, on both databases — once piped and once on a terminal (``FORCE_COLOR``: Rich's styled tables).

The hostile text is what an alert can carry: ``Disk 95% full on [/var/lib/postgresql]`` is Rich markup
(a closing tag that was never opened: ``MarkupError``), ``ESC ] 52 ; c ; … ESC \\`` sets the reader's
clipboard, ``CSI 2 J`` (the one-byte C1 form) clears the screen and ``CR`` overwrites what was printed.
Printed, the text must appear literally, with each control character shown as ``\\x1b``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from commandpost.db.engine import transaction
from commandpost.incidents.models import Incident
from commandpost.notify import service as notify_service
from commandpost.notify.models import DEAD
from tests.alert_support import keys, serve

MARKUP = "Disk 95% full on [/var/lib/postgresql]"
HOSTILE = f"\x1b]52;c;c2hlbGw=\x1b\\\x9b2J\r{MARKUP}"  # 59 characters: whole where a column cuts at 60
# What a person must see: the markup literally, every control character escaped.
SHOWN = ("[/var/lib/postgresql]", "\\x1b]52;c;c2hlbGw=\\x1b\\", "\\x9b2J", "\\x0dDisk 95%")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # Rich's own colours on a terminal
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
LOOKS_LIKE_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")

Run = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.integration  # every command as a subprocess, on a terminal and piped


def env_for(url: str, token: str, home: Path, *, terminal: bool) -> dict[str, str]:
    env = {
        "COMMANDPOST_URL": url,
        "COMMANDPOST_TOKEN": token,
        "COMMANDPOST_CONFIG_FILE": str(home / "absent.toml"),
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TZ": "UTC",
        "COLUMNS": "1000",  # no wrapping: the escaped text is found whole
    }
    if "PYTHONPATH" in os.environ:  # the code under test, as in this process
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    if terminal:
        env.update(FORCE_COLOR="1", TERM="xterm-256color")
    return env


def problems(result: subprocess.CompletedProcess[str], *, terminal: bool, shows: bool = True) -> list[str]:
    """What is wrong with one command's output (empty: nothing)."""
    found = []
    if result.returncode != 0:
        found.append(f"exit {result.returncode}: {result.stderr[-400:]!r}")
    if "Traceback" in result.stderr or "MarkupError" in result.stderr:
        found.append(f"traceback: {result.stderr[-400:]!r}")
    for name, stream in (("stdout", result.stdout), ("stderr", result.stderr)):
        plain = SGR.sub("", stream) if terminal else stream
        raw = sorted(set(RAW_CONTROL.findall(plain)))
        if raw:
            found.append(f"raw control characters on {name}: {raw!r}")
    if shows:
        missing = [s for s in SHOWN if s not in SGR.sub("", result.stdout)]
        if missing:
            found.append(f"not shown literally: {missing!r} in {result.stdout[-600:]!r}")
    return found


@pytest.fixture
def stage(app, applied_ops, make_token, sessions, clock, tmp_path) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """A server holding hostile text in every free-text field a command prints; ``run(*args)``."""
    yuta = make_token("responder", person="yuta")
    admin = make_token("admin", person="sato")
    with serve(app) as url:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {yuta}"}, timeout=30)

        def ok(method: str, path: str, body: Any = None) -> Any:
            response = api.request(method, path, json=body)
            assert response.is_success, (path, response.status_code, response.text)
            return response.json()

        hana = {"person": "hana", "scope": "responder", "name": HOSTILE}  # a token named by a person
        created = httpx.post(f"{url}/api/v1/tokens", json=hana, headers={"Authorization": f"Bearer {admin}"})
        assert created.status_code == 201, created.text
        integration = keys(sessions)["generic"]
        alert = {
            "dedup_key": "disk/db-1",
            "summary": HOSTILE,
            "alertname": "WebhookBacklogHigh",
            "labels": {"mount": HOSTILE},
        }
        ok("POST", f"/api/v1/intake/generic/{integration}", alert)  # opens INC-1 (SEV2, pages)
        noisy = {"dedup_key": "noisy", "summary": HOSTILE, "alertname": HOSTILE}
        ok("POST", f"/api/v1/intake/generic/{integration}", noisy)  # recorded, default SEV3
        declared = {
            "title": HOSTILE,
            "severity": "SEV2",
            "service": "payment-platform",
            "summary": HOSTILE,
            "impact": HOSTILE,
        }
        ok("POST", "/api/v1/incidents", declared)  # INC-2
        ok("POST", "/api/v1/incidents/INC-2/timeline", {"kind": "note", "text": HOSTILE})
        ok(
            "POST",
            "/api/v1/incidents/INC-2/comms",
            {"kind": "initial", "audience": "internal", "body": HOSTILE},
        )
        ok("POST", "/api/v1/incidents/INC-2/roles/ops/offer", {"person": "hana"})
        override = {
            "schedule": "payment-platform",
            "layer": "primary",
            "person": "hana",
            "start": (clock.now() + timedelta(hours=1)).isoformat(),
            "end": (clock.now() + timedelta(hours=5)).isoformat(),
            "note": HOSTILE,
        }
        ok("POST", "/api/v1/overrides", override)
        attached = ok("POST", "/api/v1/incidents/INC-2/runbooks", {"slug": "payment-webhook-backlog"})
        step = next(st for sec in attached[0]["sections"] for st in sec["steps"])
        ok(
            "POST",
            f"/api/v1/incidents/INC-2/runbooks/payment-webhook-backlog/steps/{step['id']}",
            {"state": "done", "note": HOSTILE},
        )
        for status in ("mitigated", "resolved"):
            ok("POST", "/api/v1/incidents/INC-2/status", {"status": status, "note": HOSTILE})
        ok("POST", "/api/v1/postmortems/INC-2")
        ok("PATCH", "/api/v1/postmortems/INC-2", {"sections": {"root_cause": f"@ken deleted {HOSTILE}."}})
        item = {
            "title": f"Alert on disk use above 80 % for {HOSTILE}",
            "type": "process",
            "owner": "ken",
            "due": "2026-12-15",
            "ticket": "OPS-7",
        }
        ok("POST", "/api/v1/postmortems/INC-2/action-items", item)
        ok("POST", "/api/v1/drills", {"source": "INC-2", "trainee": "hana", "speed": 60})  # INC-3
        with transaction(sessions) as s:
            for n, status in enumerate(("pending", DEAD)):
                row = notify_service.enqueue(
                    s,
                    key=f"hostile/{n}",
                    channel="webhook",
                    destination=HOSTILE,
                    subject=HOSTILE,
                    body=HOSTILE,
                    severity="SEV2",
                    incident_id=2,
                    person="yuta",
                    now=clock.now(),
                )
                s.flush()
                row.status, row.last_error = status, HOSTILE
            # INC-1 paged without a runbook (what `runbook coverage` lists, with its title)
            s.execute(update(Incident).where(Incident.number == 1).values(runbook=None, no_runbook=True))
        api.close()

        def run(*args: str, terminal: bool = False, token: str = yuta) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "commandpost", *args],
                capture_output=True,
                text=True,
                env=env_for(url, token, tmp_path, terminal=terminal),
                cwd=tmp_path,
                timeout=120,
            )

        yield {"run": run, "url": url, "admin": admin}


# Every command that prints a title, note, label, summary, name or message it was given, and whether
# the hostile text reaches it (False: the command prints only names ops files define, checked too).
READING = [
    (("incidents",), True),
    (("incident", "show", "INC-2"), True),
    (("incident", "show", "INC-1"), True),
    (("timeline", "INC-2"), True),
    (("role", "list", "INC-2"), False),
    (("alerts",), True),
    (("notifications",), True),
    (("notifications", "--failed"), True),
    (("pages", "INC-2"), True),
    (("oncall",), False),
    (("override", "list"), True),
    (("feed", "list"), False),
    (("postmortem", "show", "INC-2"), True),
    (("postmortems",), True),
    (("action", "list", "INC-2"), True),
    (("actions",), True),
    (("runbook", "checklist", "INC-2"), True),
    (("runbook", "coverage"), True),
    (("runbook", "list"), False),
    (("runbook", "show", "payment-webhook-backlog"), False),
    (("metrics", "alerts", "--from", "2026-06-01", "--to", "2026-07-01"), True),
    (("metrics", "response"), False),
    (("metrics", "oncall"), False),
    (("slo", "status"), False),
    (("slo", "targets"), False),
]


def test_every_reading_command_prints_hostile_text_literally_and_inert(stage):
    run: Run = stage["run"]
    jobs = [(args, shows, terminal) for args, shows in READING for terminal in (False, True)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda job: run(*job[0], terminal=job[2]), jobs))
    failures = {
        f"{' '.join(args)} ({'terminal' if terminal else 'piped'})": found
        for (args, shows, terminal), result in zip(jobs, results, strict=True)
        if (found := problems(result, terminal=terminal, shows=shows))
    }
    assert not failures, "\n".join(f"{name}: {found}" for name, found in failures.items())


def test_commands_that_echo_what_they_were_given_print_it_inert(stage, tmp_path):
    run: Run = stage["run"]
    echoed = {
        "declare (piped)": (run("declare", HOSTILE, "--sev", "3"), False),
        "declare (terminal)": (run("declare", HOSTILE, "--sev", "3", terminal=True), True),
        "comms": (run("comms", "INC-2", "update", "--body", HOSTILE), False),
        "postmortem edit-section": (
            run(
                "postmortem",
                "edit-section",
                "INC-2",
                "went_poorly",
                f"@ken deleted {HOSTILE}.",
                terminal=True,
            ),
            True,
        ),
        "postmortem no-action": (run("postmortem", "no-action", "INC-2", HOSTILE), False),
    }
    failures = {
        name: found
        for name, (result, terminal) in echoed.items()
        if (found := problems(result, terminal=terminal))
    }
    assert not failures, "\n".join(f"{name}: {found}" for name, found in failures.items())
    exported = run("incident", "export", "INC-2")
    assert problems(exported, terminal=False) == []


def test_an_error_message_quoting_what_was_typed_is_one_inert_red_line(stage):
    run: Run = stage["run"]
    for terminal in (False, True):
        refused = run("declare", "Disk full", "--sev", "2", "--service", HOSTILE, terminal=terminal)
        assert refused.returncode == 2, refused.stderr
        assert "unknown service" in refused.stderr and "Traceback" not in refused.stderr
        shown = SGR.sub("", refused.stderr)
        assert all(s in shown for s in SHOWN[:2]), shown
        assert RAW_CONTROL.findall(shown) == []


def test_local_admin_listings_print_hostile_text_inert(stage, db_url):
    run: Run = stage["run"]
    for terminal in (False, True):
        tokens = run("token", "list", "--database-url", db_url, terminal=terminal)
        assert problems(tokens, terminal=terminal) == []


# ---------------------------------------------------------------- --json times


def _times(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string of a JSON document that reads as a date and time, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _times(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _times(item, f"{path}[{i}]")
    elif isinstance(value, str) and LOOKS_LIKE_TIME.match(value):
        yield path, value


JSON_LISTINGS = [
    ("incidents", "--json"),
    ("incident", "show", "INC-2", "--json"),
    ("timeline", "INC-2", "--json"),
    ("role", "list", "INC-2", "--json"),
    ("alerts", "--json"),
    ("notifications", "--json"),
    ("pages", "INC-2", "--json"),
    ("oncall", "--json"),
    ("override", "list", "--json"),
    ("oncall", "swap", "list", "--json"),
    ("feed", "list", "--json"),
    ("postmortem", "show", "INC-2", "--format", "json"),
    ("postmortems", "--json"),
    ("postmortem", "revisions", "INC-2", "--json"),
    ("action", "list", "INC-2", "--json"),
    ("actions", "--json"),
    ("runbook", "checklist", "INC-2", "--json"),
    ("runbook", "coverage", "--json"),
    ("runbook", "list", "--json"),
    ("runbook", "show", "payment-webhook-backlog", "--json"),
    ("runbook", "toil", "--json"),
    ("metrics", "alerts", "--json"),
    ("metrics", "response", "--json"),
    ("metrics", "oncall", "--json"),
    ("metrics", "toil", "--json"),
    ("slo", "status", "--json"),
    ("slo", "targets", "--json"),
    ("drill", "list", "--json"),
    ("drill", "scorecard", "INC-3", "--json"),
    ("stars", "--json"),
]


def test_every_json_listing_prints_times_as_iso_8601_utc_with_z(stage, db_url):
    run: Run = stage["run"]
    local = [("token", "list", "--json", "--database-url", db_url)]
    local.append(("integrations", "list", "--json", "--database-url", db_url))
    local.append(("user", "list", "--json", "--database-url", db_url))
    local.append(("slack", "channels", "--json", "--database-url", db_url))
    commands = [*JSON_LISTINGS, *local]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda args: run(*args), commands))
    seen, wrong = 0, {}
    for args, result in zip(commands, results, strict=True):
        assert result.returncode == 0, (args, result.stderr)
        for where, value in _times(json.loads(result.stdout)):
            seen += 1
            if not ISO_UTC.fullmatch(value):
                wrong[f"{' '.join(args[:3])} {where}"] = value
    assert not wrong, "\n".join(f"{where}: {value}" for where, value in wrong.items())
    assert seen > 50  # the listings did carry times


def test_json_shows_control_characters_as_json_escapes(stage):
    run: Run = stage["run"]
    out = run("alerts", "--json", terminal=True)
    assert out.returncode == 0, out.stderr
    assert RAW_CONTROL.findall(out.stdout) == []
    assert "\\u009b2J" in out.stdout and "\\u001b]52" in out.stdout
    assert HOSTILE in [a["summary"] for a in json.loads(out.stdout)]  # the same text, escaped as JSON


def test_alerts_json_numbers_the_matched_rule_from_1(stage):
    rows = json.loads(stage["run"]("alerts", "--json").stdout)
    assert {r["dedup_key"]: r["rule"] for r in rows} == {"disk/db-1": 1, "noisy": None}
