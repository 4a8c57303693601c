"""``commandpost serve`` takes each of its options from the environment too, as the container and the
systemd unit's EnvironmentFile set them: ``COMMANDPOST_OPS_DIR`` was read into the settings and then
overwritten by ``--ops``'s empty default, so the folder was silently never applied."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_the_ops_folder_comes_from_commandpost_ops_dir(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ops"
    env = {
        **os.environ,
        "COMMANDPOST_OPS_DIR": str(missing),
        "COMMANDPOST_DATABASE_URL": f"sqlite:///{tmp_path / 'cp.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "commandpost", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # it tried to apply the folder the environment named (and refused to serve without it)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    said = done.stderr.replace("\n", "")  # the error console folds its lines at 80 columns
    assert f"{missing}:0: not a directory" in said, done.stderr
