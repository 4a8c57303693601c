"""A test on the real clock is either marked ``wallclock`` — so CI runs it in all four weeks of the example
rotation (tests/rotation_week.py) — or listed here with the reason the week cannot change its outcome.
A test that assumed one week once passed three weeks in four and failed CI in the fourth."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
WALL_CLOCK = re.compile(
    r"SystemClock\(\)|datetime\.now\(|time\.time\(\)|^from reliability|^import reliability", re.M
)
MARKED = re.compile(r"pytest\.mark\.wallclock")
INDEPENDENT = {
    "unit/test_core.py": "checks SystemClock itself; nobody is on call",
    "engine/test_alert_channel_notices.py": "the wall clock only bounds a migration timestamp",
    "integration/test_alertmanager_webhook.py": "real time only for Alertmanager's startsAt; clock frozen",
    "integration/test_pagerduty_clients.py": "real time only for the event's timestamp; app clock frozen",
    "integration/test_paging_replicas.py": "each level pages one layer (primary, then secondary): the same "
    "count every week; its ops take the week from the environment all the same",
    "integration/test_slack_serve.py": "real time only signs Slack's requests; the declarer is on no "
    "rotation and the paged on-call is read from the opening message",
    "reliability/test_crash_durability.py": "counts stored events, alerts and incidents, not who is paged",
    "reliability/test_dedup_race.py": "one page to the primary, whoever that is",
    "reliability/test_fuzz.py": "status codes and schemas only",
    "reliability/test_guard.py": "the loopback guard; nobody is paged",
    "reliability/test_notifier_outage.py": "every person's sink fails alike; counts pages, not people",
    "reliability/test_hostile_load.py": "logins, NUL events and a locked database: nobody is paged",
    "api/test_openapi_document.py": "imports the auth matrix's list of public routes; no clock read",
    "integration/test_openapi_honest.py": "the fuzz: status codes and schemas only",
    "integration/test_container.py": "real time only for the alert's startsAt; checks the incident, not who "
    "is paged",
    "integration/test_self_monitoring.py": "real time only dates the SLO counts; rules and metric names, "
    "nobody is paged",
    "unit/test_lockfree_metrics.py": "real time only for the metrics' `_created` stamps it checks; nobody "
    "is paged",
}


def test_every_wall_clock_test_is_marked_or_explained() -> None:
    unmarked = []
    for path in sorted(TESTS.rglob("test_*.py")):
        relative = path.relative_to(TESTS).as_posix()
        text = path.read_text()
        browser = relative.startswith("browser/")  # marked by tests/browser/conftest.py
        if (
            WALL_CLOCK.search(text)
            and not MARKED.search(text)
            and not browser
            and relative not in INDEPENDENT
        ):
            unmarked.append(relative)
    assert not unmarked, (
        "these tests read the real clock: mark them `pytest.mark.wallclock` (and take the ops from "
        f"tests/rotation_week.py), or explain in INDEPENDENT why the rotation week cannot matter: {unmarked}"
    )


def test_the_explained_ones_still_exist() -> None:
    missing = [name for name in INDEPENDENT if not (TESTS / name).exists()]
    assert not missing, f"INDEPENDENT lists tests that no longer exist: {missing}"
