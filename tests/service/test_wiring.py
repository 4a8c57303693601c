"""The composition root: a process that wires it pages; one that forgets it fails loudly, storing nothing.

Each case runs in a fresh interpreter, so nothing this test process imported or wired can help it.
"""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from commandpost import seams, wiring
from commandpost.alerts import hooks as alert_hooks
from commandpost.incidents import hooks as incident_hooks
from commandpost.incidents.models import Incident
from commandpost.policy import hooks as policy_hooks
from commandpost.settings import Settings
from tests.conftest import REPO

OPEN_AND_RUN_A_PASS = """
import sys
from datetime import datetime, UTC
from sqlalchemy import select
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.engine.runner import Runner
from commandpost.clock import FrozenClock
from commandpost.notify.models import OutgoingMessage
from commandpost.settings import Settings
from tests.paging_support import open_alert

url, wire = sys.argv[1], sys.argv[2] == "wire"
settings = Settings(database_url=url, engine_enabled=False)
if wire:
    from commandpost import wiring
    wiring.wire(settings)
sessions = make_session_factory(create_db_engine(url))
clock = FrozenClock(datetime(2026, 6, 24, 3, 0, tzinfo=UTC))
with transaction(sessions) as s:
    incident = open_alert(s, severity="SEV1", title="checkout down", now=clock.now(), group="g")
from commandpost import wiring
Runner(sessions, clock, settings=settings, processors=wiring.engine_plan(settings).sequence()).run_once()
with sessions() as s:
    keys = s.scalars(select(OutgoingMessage.key).where(OutgoingMessage.key.startswith("page/"))).all()
print(len(keys))
"""


def _run(db_url: str, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPEN_AND_RUN_A_PASS, db_url, mode],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_process_that_wires_the_root_pages_the_incident_it_opens(db_url, applied_ops, session):
    done = _run(db_url, "wire")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 0  # the SEV1 page went out to the on-call's contact methods
    assert session.scalar(select(func.count()).select_from(Incident)) == 1


def test_a_process_that_forgets_the_root_fails_loudly_and_opens_nothing(db_url, applied_ops, session):
    done = _run(db_url, "forget")
    assert done.returncode != 0
    assert "NotWired" in done.stderr and "seam 'incidents." in done.stderr, done.stderr
    assert "commandpost.wiring.wire()" in done.stderr
    assert session.scalar(select(func.count()).select_from(Incident)) == 0  # rolled back, not half-open


def test_the_root_connects_every_seam_of_every_domain():
    wiring.wire(Settings(engine_enabled=False))
    every = [
        value
        for module in (incident_hooks, alert_hooks, policy_hooks)
        for value in vars(module).values()
        if isinstance(value, seams.Seam)
    ]
    assert len(every) == 12
    for seam in every:
        seam.targets  # raises NotWired if the root left it out  # noqa: B018


def test_the_engine_plan_names_each_processor_once_pages_first():
    plan = wiring.engine_plan(Settings(engine_enabled=False))
    listed = [*plan.pages, *plan.decide, *plan.send]
    assert len({id(p) for p in listed}) == len(listed)
    names = [p.name for p in plan.sequence()]
    assert names[:2] == ["paging.escalations", "notify-sender"]
    assert names[-2:] == ["paging.escalations", "notify-sender"]
