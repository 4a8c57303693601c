"""``commandpost serve``: apply ops, upgrade the schema, print what a person needs, run uvicorn."""

from __future__ import annotations

import gc
import signal
import socket

import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost import prefork, public_url
from commandpost.app import create_app
from commandpost.clock import SystemClock
from commandpost.console import err_console
from commandpost.db import migrate
from commandpost.db.engine import create_db_engine, make_session_factory, transaction
from commandpost.http_protocol import OneWriteHttpProtocol
from commandpost.logfilter import ServerLog
from commandpost.policy import service as policy_service
from commandpost.security import redact
from commandpost.security import service as security_service
from commandpost.security.models import ApiToken
from commandpost.settings import Settings


def run_server(settings: Settings, *, first_run_token: bool = False, workers: int = 1) -> None:
    """``workers`` > 1: that many processes on one socket (PostgreSQL only, :mod:`commandpost.prefork`)."""
    problem = prefork.check_workers(workers, settings.database_url)
    if problem is not None:
        raise ValueError(f"--workers {problem}")
    log = ServerLog(settings.log_level, log_format=settings.log_format)  # secrets never reach a log line
    log.install()
    engine = create_db_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    before = migrate.current_revisions(engine)
    migrate.upgrade_in_child(engine, settings.database_url)  # raises unless the schema is now at HEADS
    if before != migrate.HEADS:
        was, now = ", ".join(sorted(before)) or "empty", ", ".join(sorted(migrate.HEADS))
        _say(f"schema: upgraded from {was} to {now}")
    sessions = make_session_factory(engine)
    clock = SystemClock()
    # One public URL for every link and intake URL: the app's settings carry it, and the database
    # too, for the processes that do not serve (the CLI, notifications decided elsewhere).
    settings = public_url.settle(settings)
    base = settings.base_url()
    with transaction(sessions) as session:
        public_url.record(session, base, now=clock.now())

    if settings.ops_dir is not None:
        with transaction(sessions) as session:
            result = policy_service.apply_folder(
                session, path=settings.ops_dir, now=clock.now(), actor="serve"
            )
        _say(
            f"ops: {'applied new revision' if result.created else 'unchanged, revision'} "
            f"{result.revision.id} from {settings.ops_dir}"
        )

    if first_run_token:
        with transaction(sessions) as session:
            if session.scalar(select(func.count()).select_from(ApiToken)) == 0:
                person = _first_person(session)
                _row, plaintext = security_service.create_token(
                    session,
                    person=person,
                    scope="admin",
                    name="first run",
                    now=clock.now(),
                    people=policy_service.people_handles(session),
                )
                _say(f"admin token for @{person} (shown once; save it):")
                _say(f"  export COMMANDPOST_URL={base} COMMANDPOST_TOKEN={plaintext}")

    with sessions() as session:
        for key in policy_service.list_integrations(session):
            _say(policy_service.intake_line(base, key))
    redact.warm_up()  # load the secret detectors now, not on the first alert
    err_console.print(
        f"[bold green]commandpost[/] serving on {base}  (health: {base}/healthz)",
        soft_wrap=True,
        highlight=False,
    )
    if workers > 1:
        engine.dispose()  # each worker opens its own connections after the fork
        sock = prefork.bind(settings.host, settings.port)
        raise SystemExit(
            prefork.run_workers(workers, lambda: _serve_worker(settings, clock, log, sock), _say)
        )
    app = create_app(settings, clock=clock, engine=engine)
    tune_gc()
    signal.signal(signal.SIGTERM, _leave_on_sigterm)
    with log.off_the_loop():  # the event loop queues its log records; a thread writes them
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            log_config=None,  # ServerLog's handlers, not uvicorn's (which write on the event loop)
            http=OneWriteHttpProtocol,
        )


def _serve_worker(settings: Settings, clock: SystemClock, log: ServerLog, sock: socket.socket) -> int:
    """One of ``--workers``' processes, after the fork: its own app (database pool, engine thread) and
    log listener thread, serving the inherited socket; as a single ``serve`` from there on."""
    signal.signal(signal.SIGTERM, _leave_on_sigterm)  # a SIGTERM while starting exits cleanly too
    app = create_app(settings, clock=clock)
    tune_gc()
    config = uvicorn.Config(
        app, log_level=settings.log_level.lower(), log_config=None, http=OneWriteHttpProtocol
    )
    server = uvicorn.Server(config)
    with log.off_the_loop():
        server.run(sockets=[sock])
    return 0 if server.started else 3  # uvicorn's STARTUP_FAILURE


def _leave_on_sigterm(signum: int, _frame: object) -> None:
    """uvicorn shuts down on SIGTERM, then raises it again for the handler it found — this one. The
    default would end the process on the spot, before the last queued log lines are written
    ("Finished server process" among them); an exit unwinds through ``off_the_loop``, which writes
    them. Same exit status as the default (128 + 15)."""
    raise SystemExit(128 + signum)


def _say(line: str) -> None:
    """One start-up line on stderr, exactly as given: never wrapped at the console's width (a token or
    an intake URL cut in two is copy-pasted broken), no markup, no highlighting."""
    err_console.print(line, soft_wrap=True, markup=False, highlight=False)


def tune_gc() -> None:
    """Keep the garbage collector off the request path, once the app is built.

    Everything built at startup (modules, the ops config, SQLAlchemy's mappers, the secret
    detectors) lives as long as the process: frozen, the collector stops walking it again and
    again. The youngest generation is collected when allocations of container objects outnumber
    their deallocations by the first threshold; the objects of the requests in flight are all
    alive (32 webhooks of 50 alerts: ~9,000 events, links and row tuples), so at 700, and still at
    10,000, every group commit's peak set off a collection that walked them, found nothing to free
    (requests make no reference cycles) and moved them on to the older generations. At 50,000 the
    peak stays below; what still adds up (objects kept, cyclic garbage of closed connections and
    engine passes, ~130 objects a second) is collected every minute or two of full load, so memory
    stays bounded. Measured on ``serve`` under the webhook bench (wrk -c32, 9 alternating
    fresh-process rounds, load 2-10 on 2 cores): at 10,000, 3-19 young collections a second (up to
    12 ms each) and a full one every 10-25 s (up to 19 ms), 1.6-2.9 µs CPU per alert in the
    collector (~6 %); at 50,000 one young collection in 150 s (18 ms, 19,890 objects freed), peak
    RSS 152-156 -> 158-160 MB, and 38 -> 30 µs CPU per alert in all (medians, noisy).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)


def _first_person(session: Session) -> str:
    """The first team lead of the applied ops (else the first person): who the first-run token speaks for.
    Before any ops are applied there is nobody: the service account ``svc:admin``."""
    try:
        config = policy_service.current_config(session)
    except Exception:
        return "svc:admin"
    for team in config.teams:
        if team.lead:
            return team.lead
    return config.people[0].handle
