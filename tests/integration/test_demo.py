"""``commandpost demo`` plays its whole scenario to the end, in each of the example rotation's four weeks.

Who is primary and secondary decides who acks and who is offered IC; in one week of four the secondary
is the team lead @yuta, and the demo once offered IC to the read-only @sato, whose Accept was refused.
The demo runs as a person runs it (the console script, a fresh throw-away database), with ``--start``
pinning its clock to a Wednesday of each rotation week and ``--speed 600`` so an hour plays in 6 s.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")
ROTATION_START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # Monday 10:00 Asia/Tokyo, the example's handoff
PRIMARY = ["yuta", "hana", "ken", "mei"]
SECONDARY = ["hana", "ken", "mei", "yuta"]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("week", range(4))
def test_demo_plays_to_the_postmortem_draft_in_every_rotation_week(week: int, tmp_path: Path) -> None:
    start = ROTATION_START + timedelta(weeks=48 + week, days=2, hours=2)
    argv = [str(COMMANDPOST), "demo", "--port", "0", "--speed", "600", "--history-days", "2", "--exit",
            "--database", str(tmp_path / "demo.db"),
            "--start", start.strftime("%Y-%m-%dT%H:%M:%S%z")]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=220, env={"COLUMNS": "200", "PATH": ""}
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    primary, secondary = PRIMARY[week], SECONDARY[week]
    assert f"@{primary} (primary on-call) is paged" in out, out
    assert f"@{secondary} acknowledges and becomes IC" in out, out
    assert "accepts: IC now" in out and "@sato accepts" not in out, out
    assert "postmortem draft" in out, out
    assert "Wheel of Misfortune: @mei starts a drill of INC-" in out and "scorecard so far" in out, out
    assert ":8080/" not in out, "a notice linked to the default port, not to the demo's own server"
