"""``commandpost serve --workers N``: N server processes taking connections from one listening socket.

One Python process serves from one core. On PostgreSQL several processes on one database are what
several replicas already are (every one runs the engine; work is claimed with ``FOR UPDATE SKIP
LOCKED`` and every page has an idempotency key, so nobody is paged twice), so a host with more cores
can run one per core. The parent binds the socket, forks the workers and then only supervises:

- each worker builds its own app, database pool, engine thread and log listener thread after the
  fork (threads and connections do not survive one), and serves the inherited socket;
- SIGTERM or SIGINT to the parent is passed to every worker, which shuts down as a single ``serve``
  does (last log lines written); the parent exits when all have, with the status a single process
  would have had (128 + the signal);
- a worker that exits on its own (a crash, a failed start-up) stops the others and the parent exits
  with status 1: the service manager (systemd's ``Restart=on-failure``) restarts the whole server
  rather than the parent quietly running with fewer processes than it was asked for.

On SQLite more processes do not serve more: every write takes the one database lock in turn (the
bench measured two processes slower than one), so ``serve`` refuses ``--workers`` above 1 there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable

from sqlalchemy.engine import make_url

SQLITE_REFUSAL = (
    "{n} processes on SQLite would take turns on its one write lock and serve no more alerts than "
    "one; use 1 on SQLite, or PostgreSQL to run several"
)


def check_workers(workers: int, database_url: str) -> str | None:
    """Why ``workers`` processes cannot serve this database (None: they can)."""
    if workers < 1:
        return f"{workers}: at least 1"
    if workers > 1 and make_url(database_url).get_backend_name() == "sqlite":
        return SQLITE_REFUSAL.format(n=workers)
    return None


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The listening socket every worker accepts from (inherited through ``fork``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    sock.set_inheritable(True)
    return sock


def run_workers(workers: int, serve: Callable[[], int], say: Callable[[str], None]) -> int:
    """Fork ``workers`` processes that each run ``serve()`` (its return value is the worker's exit
    status); supervise them as the module says. Returns the parent's exit status."""
    children: dict[int, int] = {}
    stopping: list[int] = []  # the signal that asked us to stop, once one has

    def stop_all(signum: int, _frame: object = None) -> None:
        if not stopping:
            stopping.append(signum)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):  # already gone: os.wait has it
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    sys.stdout.flush()  # or each child would write what the parent had buffered again
    sys.stderr.flush()
    # Until every child has its own handlers, a signal waits: a child running the parent's stop_all
    # would stop its siblings, and the parent must know every child before it stops them.
    held = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        for number in range(1, workers + 1):
            pid = os.fork()
            if pid == 0:
                _worker(serve, held)
            children[pid] = number
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    say(f"workers: {workers} processes ({', '.join(map(str, children))}) serving one socket")
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        number = children.pop(pid, 0)
        if not stopping:
            code = os.waitstatus_to_exitcode(status)
            say(f"worker {number} (pid {pid}) exited with status {code}; stopping the others")
            failed = True
            stop_all(signal.SIGTERM)
    if failed:
        return 1
    return 128 + stopping[0] if stopping else 0


def _worker(serve: Callable[[], int], held: set[signal.Signals]) -> None:
    """The child's life: the default signal handlers (``serve`` sets its own), serve, exit — never
    return into the parent's code."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
        code = serve()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
