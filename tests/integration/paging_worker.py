"""One engine process for the replica tests: the real Runner (lease on SQLite, SKIP LOCKED on PostgreSQL)
with the escalation processor and the sender, on the system clock, until SIGTERM (or SIGKILL).

    python -m tests.integration.paging_worker DATABASE_URL OWNER
"""

from __future__ import annotations

import io
import signal
import sys
import threading

from commandpost import wiring
from commandpost.clock import SystemClock
from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.engine.runner import Runner
from commandpost.notify.channels import Channels
from commandpost.notify.sender import NotificationSender
from commandpost.paging.processors import EscalationsDue
from commandpost.settings import Settings


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        public_url="https://cp.example",
        engine_lease_seconds=2.0,
        engine_max_sleep_seconds=0.2,
        notify_backoff_base_seconds=0.2,
        notify_backoff_cap_seconds=1.0,
        notify_max_attempts=50,
        # The receiver shares a loaded CI box with the test: a send that times out after the receiver
        # took it is resent (at-least-once), which would count as a duplicate here.
        notify_timeout_seconds=30.0,
        outbound_allowlist=["127.0.0.1"],
        slack_min_interval_seconds=0.0,
    )


def main(url: str, owner: str) -> None:
    settings = settings_for(url)
    wiring.wire(settings)
    sessions = make_session_factory(create_db_engine(url))
    channels = Channels(settings, console_stream=io.StringIO())
    sender = NotificationSender(settings, channels=channels, owner=owner)
    runner = Runner(
        sessions, SystemClock(), settings=settings, processors=[EscalationsDue(settings), sender], owner=owner
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    runner.start()
    print("started", flush=True)
    done.wait()
    runner.stop()
    sender.drain(timeout=10)
    sender.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
