"""The systemd unit and its environment file (issue 20, item 3), checked by systemd's own tools.

``systemd-analyze verify`` loads the unit as systemd would and prints every key it cannot parse or
does not know (its exit code stays 0 for those, so the test requires silence), and ``systemd-analyze
security --offline`` scores the sandbox. This machine has no systemd running as PID 1, so the unit is
verified here, not started: docs/deploy.md says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from commandpost.settings import Settings
from tests.conftest import REPO

UNIT = REPO / "deploy" / "commandpost.service"
ENV_EXAMPLE = REPO / "deploy" / "commandpost.env.example"
DEPLOY_DOC = REPO / "docs" / "deploy.md"
VENV_COMMAND = "/opt/commandpost/venv/bin/commandpost"
MAX_EXPOSURE = (
    20  # tenths, as --threshold takes it: 2.0 of systemd-analyze security's 0 (sealed) to 10 (open)
)
# Settings of other programs the unit may set: uvicorn's trusted proxies, Python.
OTHER_VARIABLES = {"FORWARDED_ALLOW_IPS", "PYTHONDONTWRITEBYTECODE"}


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail(
            "systemd-analyze is missing: it checks deploy/commandpost.service. Install Debian's package "
            "`systemd` (apt-get install systemd; .ci/run does)",
            pytrace=False,
        )
    return found


def _directives() -> list[tuple[str, str]]:
    """(key, value) of every directive in the unit, in order (a key may repeat, as Environment= does)."""
    lines = UNIT.read_text(encoding="utf-8").splitlines()
    return [
        (key.strip(), value.strip())
        for key, sep, value in (line.partition("=") for line in lines)
        if sep and not key.startswith(("#", ";", "["))
    ]


def _checkable(tmp_path: Path, text: str | None = None) -> Path:
    """The unit as it would be installed, its ExecStart pointing at this venv's real `commandpost`
    (verify requires the program to exist; /opt/commandpost/venv is where docs/deploy.md puts it)."""
    text = UNIT.read_text(encoding="utf-8") if text is None else text
    copy = tmp_path / "commandpost.service"
    copy.write_text(text.replace(VENV_COMMAND, str(Path(sys.executable).with_name("commandpost"))))
    return copy


def _analyze(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_systemd_analyze(), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    done = _analyze(tmp_path, "verify", "--man=no", str(_checkable(tmp_path)))
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_verify_would_catch_a_mistyped_or_misvalued_key(tmp_path):
    broken = UNIT.read_text(encoding="utf-8").replace("ProtectSystem=strict", "ProtectSystem=strickt")
    broken = broken.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    done = _analyze(tmp_path, "verify", "--man=no", str(_checkable(tmp_path, broken)))
    said = done.stdout + done.stderr
    assert "Failed to parse protect system value" in said and "Unknown key 'NoNewPrivilege'" in said


def test_the_sandbox_scores_below_the_threshold(tmp_path):
    unit = _checkable(tmp_path)
    done = _analyze(
        tmp_path, "security", "--offline=true", f"--threshold={MAX_EXPOSURE}", "--no-pager", str(unit)
    )
    overall = re.search(r"Overall exposure level for commandpost\.service: ([\d.]+)", done.stdout)
    assert overall, done.stdout + done.stderr
    assert done.returncode == 0, f"exposure {overall.group(1)} > {MAX_EXPOSURE / 10}"


def test_the_unit_has_the_hardening_and_lifecycle_the_deploy_doc_promises():
    directives = _directives()
    settings = dict(directives)
    required = {
        "DynamicUser": "yes",
        "StateDirectory": "commandpost",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter": "@system-service",
        "Restart": "on-failure",
        "EnvironmentFile": "/etc/commandpost/commandpost.env",
        "ExecStart": f"{VENV_COMMAND} serve --ops /etc/commandpost/ops",
    }
    assert {key: settings.get(key) for key in required} == required
    environment = [value for key, value in directives if key == "Environment"]
    named = {value.partition("=")[0] for value in environment}
    # the database lives in the state directory unless the environment file says otherwise
    assert "COMMANDPOST_DATABASE_URL=sqlite:///%S/commandpost/commandpost.db" in environment
    assert [n for n in named if not _known(n)] == []
    # Environment= lines come before EnvironmentFile=, which systemd reads after them (it overrides)
    keys = [key for key, _value in directives]
    assert max(i for i, k in enumerate(keys) if k == "Environment") < keys.index("EnvironmentFile")


def _known(name: str) -> bool:
    """A variable commandpost's Settings reads (COMMANDPOST_ + a field) or one of another program's."""
    field = name.removeprefix("COMMANDPOST_").lower()
    return name in OTHER_VARIABLES or (name.startswith("COMMANDPOST_") and field in Settings.model_fields)


def test_the_environment_file_names_only_real_settings():
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    names = re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)
    assert len(names) >= 10
    assert [name for name in names if not _known(name)] == []
    assert "COMMANDPOST_PUBLIC_URL=https://" in text  # set, not commented: links must be https


def test_the_deploy_doc_names_the_paths_the_unit_uses():
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    for path in (
        VENV_COMMAND,
        "/etc/commandpost/commandpost.env",
        "/etc/commandpost/ops",
        "deploy/commandpost.service",
    ):
        assert path in doc, path
