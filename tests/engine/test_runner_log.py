"""Each engine pass is logged with its duration: at INFO when it did work (what each processor did),
at DEBUG when idle, so a quiet system writes nothing at the default level."""

from __future__ import annotations

import logging
import re
from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from commandpost.engine.runner import Runner


class Worker:
    def __init__(self, name: str, done: int) -> None:
        self.name, self.done = name, done

    def has_work(self, session: Session, now: datetime) -> bool:
        return self.done > 0

    def run(self, session: Session, now: datetime) -> int:
        return self.done

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return None


def _pass_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.getMessage().startswith("engine pass")]


def test_a_pass_that_did_work_is_one_info_line_with_its_duration(sessions, clock, settings, caplog):
    runner = Runner(
        sessions,
        clock,
        settings=settings,
        processors=[Worker("escalate", 3), Worker("idle", 0), Worker("notify", 9)],
    )
    with caplog.at_level(logging.INFO, logger="commandpost.engine"):
        assert runner.run_once() == 12
    [(level, line)] = _pass_lines(caplog)
    assert level == logging.INFO
    assert re.fullmatch(r"engine pass: 12 items in \d+\.\d{3}s \(escalate 3, notify 9\)", line), line


def test_an_idle_pass_is_debug_only(sessions, clock, settings, caplog):
    runner = Runner(sessions, clock, settings=settings, processors=[Worker("idle", 0)])
    with caplog.at_level(logging.INFO, logger="commandpost.engine"):
        assert runner.run_once() == 0
    assert _pass_lines(caplog) == []
    with caplog.at_level(logging.DEBUG, logger="commandpost.engine"):
        runner.run_once()
    [(level, line)] = _pass_lines(caplog)
    assert level == logging.DEBUG and re.fullmatch(r"engine pass: idle in \d+\.\d{3}s", line), line
