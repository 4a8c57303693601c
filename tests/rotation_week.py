"""The wall clock's week of the example rotation, for the tests that run on the real clock.

Tests on a FrozenClock are pinned: they see the same on-call week whenever they run. Tests on the
real clock (a real ``serve``, engine worker processes, the browser's server, the reliability checks)
see whoever the rotation puts on call *this* week — so a test that assumed one week passed three
weeks in four and failed CI in the fourth. ``COMMANDPOST_TEST_WEEKS_AHEAD=N`` (0–3) moves those tests
N weeks ahead: the ops they apply have every rotation started N weeks earlier, which is exactly what
N weeks of real time would do to who is on call (the rotations are weekly). ``.ci/run`` runs the
tests marked ``wallclock`` in all four weeks; run one week by hand with, e.g.,
``COMMANDPOST_TEST_WEEKS_AHEAD=3 .venv/bin/pytest -m wallclock``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_OPS = REPO / "examples" / "ops"


def weeks_ahead() -> int:
    raw = os.environ.get("COMMANDPOST_TEST_WEEKS_AHEAD", "0")
    if raw not in ("0", "1", "2", "3"):
        raise ValueError(
            f"COMMANDPOST_TEST_WEEKS_AHEAD must be 0, 1, 2 or 3 (a week of the rotation), got {raw!r}"
        )
    return int(raw)


def shift_rotations(folder: Path, weeks: int | None = None) -> Path:
    """Start every rotation of the ops folder ``weeks`` weeks earlier (default: the environment's)."""
    weeks = weeks_ahead() if weeks is None else weeks
    if not weeks:
        return folder
    for path in sorted((folder / "schedules").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for layer in data.get("layers", []):
            rotation = layer.get("rotation")
            if rotation and rotation.get("start"):
                start = rotation["start"]
                start = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
                rotation["start"] = (start - dt.timedelta(weeks=weeks)).isoformat()
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return folder


def wall_clock_ops(tmp: Path) -> Path:
    """A copy of examples/ops for a test on the real clock, in the week the environment asks for."""
    folder = tmp / "ops-wall-clock"
    shutil.copytree(EXAMPLE_OPS, folder)
    return shift_rotations(folder)
