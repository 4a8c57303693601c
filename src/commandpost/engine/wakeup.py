"""Wake the engine when new work is committed, so it need not wait for its next due time.

A service that decided something the engine should act on at once (an escalation started,
a page escalated by hand) calls :func:`request` with its session; once that session's
transaction *commits*, every registered listener runs (the runner registers its ``wake``).
A rollback drops the request. Services stay free of any app or runner import, and a wake-up
never precedes the commit it is about.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("commandpost.engine")

_KEY = "commandpost.engine.wake"
_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()


def register(listener: Callable[[], None]) -> None:
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def unregister(listener: Callable[[], None]) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def request(session: Session) -> None:
    """Wake the engine after this session's transaction commits."""
    session.info[_KEY] = True


def notify() -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener()
        except Exception:  # a wake-up is an optimisation; the due-time poll still runs
            log.exception("engine wake-up listener failed")


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_KEY, False):
        notify()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
