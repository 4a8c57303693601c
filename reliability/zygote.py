"""A pre-imported parent that forks ``commandpost serve`` processes on request.

Importing commandpost (FastAPI, SQLAlchemy, Alembic, the routers, the secret detectors) costs several
CPU seconds, and the checks start dozens of servers — every SIGKILL is followed by a restart. This
process imports it all once, under the :mod:`reliability.guarded` audit hook, then forks one child
per request; the child sets its environment, sends its output to its log and runs the real
``commandpost serve`` (migrate check, ops, uvicorn) from there. A child is a separate process:
SIGKILL ends it exactly as it ends a server started from scratch.

Protocol (stdin/stdout, one JSON document per line): ``{"args": [...], "env": {...}, "log": path}`` →
the child's pid. Children are reaped automatically (SIGCHLD ignored); the zygote exits when its stdin
closes.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from reliability import guarded


def preload() -> None:
    import uvicorn.lifespan.on
    import uvicorn.loops.auto
    import uvicorn.protocols.http.auto  # noqa: F401 - what uvicorn.run would import later

    from commandpost import app, cli, serve, wiring
    from commandpost.security import redact
    from commandpost.web import routes

    cli._register_domains()
    wiring.routers()
    redact.warm_up()
    assert app and serve and routes


def child(spec: dict[str, object]) -> None:
    os.setsid()
    fd = os.open(str(spec["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.environ.update({str(k): str(v) for k, v in dict(spec["env"]).items()})  # type: ignore[call-overload]
    from commandpost.cli import app as typer_app

    code = 0
    try:
        typer_app(list(spec["args"]), standalone_mode=False)  # type: ignore[call-overload]
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main() -> None:
    guarded.install()
    preload()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        spec = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(spec)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
