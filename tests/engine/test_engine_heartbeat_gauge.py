"""commandpost's own heartbeat for an outside checker (docs/heartbeats.md): the gauge
``commandpost_engine_last_pass_timestamp_seconds`` moves with every pass in which every processor ran,
and stands still while one fails — a checker comparing it with its clock pages when the engine stalls."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from commandpost.engine.runner import Runner
from tests.engine.test_runner import Recorder

GAUGE = "commandpost_engine_last_pass_timestamp_seconds"


def test_the_gauge_follows_passes_without_a_failure(sessions, clock, settings):
    good, bad = Recorder("good"), Recorder("bad", fail=True)
    Runner(sessions, clock, settings=settings, processors=[good]).run_once()
    passed = clock.now().timestamp()
    assert REGISTRY.get_sample_value(GAUGE) == passed
    assert f"\n{GAUGE} ".encode() in generate_latest()  # on /metrics
    clock.advance(minutes=5)
    Runner(sessions, clock, settings=settings, processors=[good, bad]).run_once()
    assert REGISTRY.get_sample_value(GAUGE) == passed  # a failing processor: no heartbeat
    clock.advance(seconds=5)
    Runner(sessions, clock, settings=settings, processors=[good]).run_once()
    assert REGISTRY.get_sample_value(GAUGE) == clock.now().timestamp()
