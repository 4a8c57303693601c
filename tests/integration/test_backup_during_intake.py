"""``commandpost backup`` of a SQLite database while ``commandpost serve`` takes 1,000 events/s.

The load is the benchmark's (bench/loadgen.py, open loop: requests sent on schedule whatever the
answers) of PagerDuty Events v2 triggers over 1,000 dedup keys. The backup runs in the middle of it;
restored into a new database it must be whole (integrity and foreign keys), hold every event
committed before the backup began and none committed after it ended, and export like the backup file.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bench import ingest

from commandpost.backup import service
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine
from tests.alert_support import free_port, wait_ready
from tests.cli_support import run_cli

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")
RATE, SECONDS = 1000, 12


def test_a_backup_taken_during_1000_events_per_second_restores_consistent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    keys = ingest.apply_ops(url)  # examples/ops, its intake rate limit out of the way
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    err = tmp_path / "serve.log"
    argv = [str(COMMANDPOST), "serve", "--database-url", url, "--port", str(port), "--no-engine"]
    with err.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
    backup = tmp_path / "during.backup"
    try:
        wait_ready(proc, base, err)
        load: dict[str, Any] = {}
        bodies = ingest.pd_bodies(keys["pagerduty"])
        sender = threading.Thread(
            target=lambda: load.update(
                ingest.loadgen(f"{base}/v2/enqueue", bodies, seconds=SECONDS, rate=RATE)
            )
        )
        sender.start()
        deadline = time.monotonic() + 30
        while ingest.stored_events(url) < RATE and time.monotonic() < deadline:  # a second of load in
            time.sleep(0.2)
        before = ingest.stored_events(url)
        started = time.monotonic()
        done = subprocess.run(
            [str(COMMANDPOST), "backup", str(backup), "--database-url", url],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.monotonic() - started
        after = ingest.stored_events(url)
        sender.join()
        final = ingest.stored_events(url)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert done.returncode == 0, done.stderr
    assert before >= RATE, f"the load never started: {err.read_text()[-2000:]}"
    assert after > before, "no event was taken while the backup ran"
    # the load was what it says: (almost) every request on schedule accepted, at about 1,000/s
    assert load["ok"] >= 0.98 * RATE * SECONDS, load
    assert load["rps"] >= 0.9 * RATE, load
    assert final == load["ok"], (final, load)  # every accepted event stored
    print(f"'commandpost backup' ran {took:.2f} s (start to exit) at {load['rps']:.0f} events/s")

    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        in_backup = conn.execute("SELECT COALESCE(SUM(count), 0) FROM alert").fetchone()[0]
    assert before <= in_backup <= after  # a snapshot from within the backup's run

    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = run_cli(["restore", str(backup), "--database-url", restored_url])
    assert restored.returncode == 0, restored.stderr
    assert ingest.stored_events(restored_url) == in_backup
    restored_engine = create_db_engine(restored_url)
    with restored_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    assert migrate.is_current(restored_engine)
    as_restored = service.export_data(restored_engine, password_hashes=True)
    assert as_restored == service.read_file(backup)
    restored_engine.dispose()
