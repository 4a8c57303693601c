"""Where the tail of ``commandpost serve`` at a fixed 1,000 events/s comes from (issue 19).

``python -m bench._intake_tail [SECONDS] [nice|fifo]`` starts ``commandpost serve --ops`` as shipped (SQLite,
access log on, engine on; the ops copy of ``bench.ingest``) with instruments added in its own
process by :func:`instrumented_serve`: the start and end (``time.monotonic``, the same clock
as the client's) of every garbage collection (``gc.callbacks``), WAL checkpoint (the thread's
and the writer's), engine pass, group commit (the loop's batch, its size), access-log write on the
listener thread, and every intake request as the app sees it. A paced client
(:func:`paced_client`, a process of its own pinned like ``hey``: 10 keep-alive connections × 100
requests/s, each request sent at its scheduled time) times every request. The report takes the
requests slower than the run's p99 and counts how many overlap each kind of interval, against how
many of all requests do — what coincides with the slow ones more often than chance.

This measures, it does not tune: the server runs the shipped code; the instruments cost a few µs
per interval recorded. ``nice`` or ``fifo`` runs the server and the client ahead of the machine's
other work (``nice -n -15`` or ``chrt -f 1``, as root): a diagnosis of how much of the tail is the
neighbours on a shared machine, never a setting to ship. A module of its own (``_``: not one of
``make bench``'s sections), as its report is a diagnosis, not a figure with a target.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.ingest import _pinned, shipped_server

RATE = 1000
CONNECTIONS = 10


# ---------------------------------------------------------------- inside the server process


def instrumented_serve(out: str, argv: list[str]) -> None:
    """Run ``commandpost serve`` (argv) with the instruments; write the intervals to ``out`` at exit."""
    intervals: list[tuple[str, float, float, Any]] = []
    now = time.monotonic

    def timed(
        kind: str, fn: Callable[..., Any], detail: Callable[..., Any] | None = None
    ) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = now()
            try:
                return fn(*args, **kwargs)
            finally:
                intervals.append((kind, started, now(), detail(*args) if detail else None))

        return wrapper

    gc_started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = now()
        else:
            intervals.append((f"gc{info['generation']}", gc_started[0], now(), info["collected"]))

    gc.callbacks.append(on_gc)
    if os.environ.get("TAIL_SWITCH_INTERVAL"):  # an experiment: the GIL's hand-over interval
        sys.setswitchinterval(float(os.environ["TAIL_SWITCH_INTERVAL"]))

    from commandpost import logfilter
    from commandpost.alerts.intake import committer, front
    from commandpost.db import sqlite_writer
    from commandpost.engine import runner

    committer.GroupCommitter._flush = timed(
        "commit", committer.GroupCommitter._flush, lambda self, loop: len(self._pending.get(loop, ()))
    )
    sqlite_writer.WalCheckpointer._run = timed("wal-thread", sqlite_writer.WalCheckpointer._run)
    sqlite_writer.WalCheckpointer.finish = timed("wal-restart", sqlite_writer.WalCheckpointer.finish)
    runner.Runner.run_once = timed("engine-pass", runner.Runner.run_once)
    runner.Runner.next_wake = timed("engine-next-wake", runner.Runner.next_wake)
    logfilter._Output.emit = timed("log-write", logfilter._Output.emit)

    call = front.IntakeFront.__call__
    watching: list[bool] = []

    async def request(self: Any, scope: Any, receive: Any, send: Any, target: Any) -> None:
        started = now()
        if not watching:
            watching.append(True)
            _watch_loop(asyncio.get_running_loop(), intervals)
        try:
            await call(self, scope, receive, send, target)
        finally:
            intervals.append(("app-request", started, now(), None))

    front.IntakeFront.__call__ = request

    def dump() -> None:
        Path(out).write_text(json.dumps(intervals))

    import atexit

    atexit.register(dump)
    from commandpost.cli_root import main

    sys.argv = ["commandpost", *argv]
    main()


def _schedstat() -> tuple[float, float]:
    """This thread's CPU time and time spent runnable but waiting for a core (ms, Linux schedstat)."""
    ran, waited, _ = Path("/proc/thread-self/schedstat").read_text().split()
    return int(ran) / 1e6, int(waited) / 1e6


def _watch_loop(loop: asyncio.AbstractEventLoop, intervals: list[Any]) -> None:
    """A callback every millisecond; when one comes late by more than 2 ms, the late span is kept with
    how much of it the loop's thread ran (its own work), waited for a core (the machine), and
    neither (waiting for the GIL or in the kernel's I/O)."""
    last = [time.monotonic(), *_schedstat()]

    def tick() -> None:
        t = time.monotonic()
        ran, waited = _schedstat()
        if t - last[0] > 0.003:  # due after 1 ms, came more than 2 ms late
            intervals.append(("loop-late", last[0], t, (ran - last[1], waited - last[2])))
        last[:] = [t, ran, waited]
        loop.call_later(0.001, tick)

    loop.call_later(0.001, tick)


# ---------------------------------------------------------------- the paced client


async def _connection(
    host: str, port: int, path: str, body: bytes, offset: float, period: float, until: float, out: list[Any]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    due = offset
    while due < until:
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        sent = time.monotonic()
        waited = _schedstat()[1]
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        await reader.readexactly(length)
        done = time.monotonic()
        out.append((due, sent, done, int(head[9:12]), _schedstat()[1] - waited))
        due += period
        while due < done:  # a late answer: the missed sends are not sent (hey's behaviour), counted
            out.append((due, None, None, 0, 0.0))
            due += period
    writer.close()


def paced_client(url: str, body_file: str, seconds: float, out: str) -> None:
    host, rest = url.split("://", 1)[1].split(":", 1)
    port_text, path = rest.split("/", 1)
    body = Path(body_file).read_bytes()
    period = CONNECTIONS / RATE
    start = time.monotonic() + 0.2
    results: list[Any] = []

    async def main() -> None:
        await asyncio.gather(
            *(
                _connection(
                    host,
                    int(port_text),
                    "/" + path,
                    body,
                    start + i * period / CONNECTIONS,
                    period,
                    start + seconds,
                    results,
                )
                for i in range(CONNECTIONS)
            )
        )

    asyncio.run(main())
    Path(out).write_text(json.dumps(results))


# ---------------------------------------------------------------- the run and the report


def run(seconds: float, priority: str = "") -> None:
    folder = Path(tempfile.mkdtemp(prefix="cp-bench-tail-"))
    intervals_file, requests_file = folder / "intervals.json", folder / "requests.json"
    first = {"": [], "nice": ["nice", "-n", "-15"], "fifo": ["chrt", "-f", "1"]}[priority]
    wrapper = [
        *first,
        sys.executable,
        "-c",
        "import os, sys; os.environ.get('TAIL_SRC') and sys.path.insert(0, os.environ['TAIL_SRC']); "
        f"import bench._intake_tail as t; t.instrumented_serve({str(intervals_file)!r}, sys.argv[1:])",
    ]
    with shipped_server(f"sqlite:///{folder / 'commandpost.db'}", folder / "serve", command=wrapper) as cp:
        import httpx

        httpx.post(cp.enqueue, content=cp.event, timeout=30).raise_for_status()
        (folder / "body.json").write_bytes(cp.event)
        client = [
            *_pinned(),
            *first,
            sys.executable,
            "-c",
            "import bench._intake_tail as t, sys; "
            "t.paced_client(*sys.argv[1:3], float(sys.argv[3]), sys.argv[4])",
        ]
        subprocess.run(
            [*client, cp.enqueue, str(folder / "body.json"), "3", str(folder / "warm.json")], check=True
        )
        load = os.getloadavg()
        subprocess.run(
            [*client, cp.enqueue, str(folder / "body.json"), f"{seconds:g}", str(requests_file)], check=True
        )
    report(json.loads(intervals_file.read_text()), json.loads(requests_file.read_text()), load)


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(intervals: list[Any], requests: list[Any], load: tuple[float, ...]) -> None:
    answered = [(s, d) for _, s, d, status, _ in requests if s is not None and status == 202]
    client_waits = {(r[1], r[2]): r[4] for r in requests if r[1] is not None}
    missed = sum(1 for r in requests if r[1] is None)
    start, end = min(s for s, _ in answered), max(d for _, d in answered)
    latency = [(d - s) * 1000 for s, d in answered]
    p50, p99 = _q(latency, 0.5), _q(latency, 0.99)
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {len(answered)} answered,"
        f" {missed} sends skipped (late)"
    )
    print(f"garbage collections: {sum(1 for k, *_ in intervals if k.startswith('gc'))} in the whole run")
    print(f"latency p50 {p50:.1f} ms  p90 {_q(latency, 0.9):.1f}  p99 {p99:.1f}  max {max(latency):.1f}")
    slow = [(s, d) for s, d in answered if (d - s) * 1000 >= p99]
    kinds: dict[str, list[tuple[float, float, Any]]] = {}
    for kind, a, b, detail in intervals:
        if b >= start and a <= end:
            kinds.setdefault(kind, []).append((a, b, detail))
    window = end - start
    print(
        f"{'interval':<18}{'count':>7}{'per s':>8}{'median ms':>10}{'p99 ms':>8}{'max ms':>8}"
        f"{'busy %':>7}{'slow hit %':>11}{'all hit %':>10}"
    )
    for kind, spans in sorted(kinds.items()):
        durations = [(b - a) * 1000 for a, b, _ in spans]
        hit_slow = _overlapping(slow, spans)
        hit_all = _overlapping(answered, spans)
        print(
            f"{kind:<18}{len(spans):>7}{len(spans) / window:>8.1f}{statistics.median(durations):>10.2f}"
            f"{_q(durations, 0.99):>8.2f}{max(durations):>8.2f}{sum(durations) / window / 10:>7.1f}"
            f"{100 * hit_slow / max(len(slow), 1):>11.0f}{100 * hit_all / len(answered):>10.0f}"
        )
    late = [(a, b, d) for k, a, b, d in intervals if k == "loop-late" and b >= start and a <= end]
    if late:
        total = sum(b - a for a, b, _ in late) * 1000
        ran = sum(d[0] for _, _, d in late)
        waited = sum(d[1] for _, _, d in late)
        print(
            f"loop late > 2 ms: {len(late)} gaps, {total:.0f} ms in all: the loop's thread ran {ran:.0f} ms,"
            f" waited for a core {waited:.0f} ms, neither (GIL, kernel) {total - ran - waited:.0f} ms"
        )
    slow_client_wait = [client_waits[(s, d)] for s, d in slow]
    print(
        "the client's own wait for a core during the slow requests: median"
        f" {statistics.median(slow_client_wait):.1f} ms, max {max(slow_client_wait):.1f} ms"
        f" (all requests: median {statistics.median(client_waits.values()):.2f})"
    )
    batches = [d for k, _, _, d in intervals if k == "commit" and d]
    if batches:
        print(
            f"commit batch sizes: median {statistics.median(batches)}  p99 {_q(batches, 0.99)}"
            f"  max {max(batches)}"
        )
    # the longest stall the slow requests share: the largest single interval overlapping each
    print("slowest 15 requests: latency ms, and the intervals (kind:ms) overlapping each, longest first")
    for s, d in sorted(slow, key=lambda r: r[0] - r[1])[:15]:
        over = sorted(
            (
                (k, (b - a) * 1000, x)
                for k, spans in kinds.items()
                if k != "app-request"
                for a, b, x in spans
                if a < d and b > s
            ),
            key=lambda x: -x[1],
        )[:4]
        shown = [
            f"{k}:{ms:.1f}" + (f"(ran {x[0]:.1f} waited {x[1]:.1f})" if k == "loop-late" else "")
            for k, ms, x in over
        ]
        print(f"  {(d - s) * 1000:7.1f} (client waited {client_waits[(s, d)]:.1f})  " + ", ".join(shown))


def _overlapping(requests: list[tuple[float, float]], spans: list[tuple[float, float, Any]]) -> int:
    """How many requests overlap at least one span (spans are short beside the run: a window of 200)."""
    ordered = sorted(spans)
    starts = [a for a, _, _ in ordered]
    hits = 0
    for s, d in requests:
        i = bisect.bisect_left(starts, d)
        hits += any(b > s for _, b, _ in ordered[max(0, i - 200) : i])
    return hits


if __name__ == "__main__":
    # SECONDS [nice|fifo]: runs the server and the client ahead of the machine's other work (nice -15,
    # or SCHED_FIFO; root) — a diagnosis of how much of the tail is the neighbours, not a setting to ship
    run(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0, sys.argv[2] if len(sys.argv) > 2 else "")
