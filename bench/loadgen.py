"""A small HTTP/1.1 load generator for loopback benchmarks, run as its own process.

Keep-alive connections each send pre-encoded requests (round robin over the given bodies) and
time every response. Two modes: *closed loop* (each connection sends its next request as soon
as the previous one is answered: throughput) and *open loop* (requests are scheduled at a fixed
rate and latency is measured from the scheduled time, so a stall is not hidden — no coordinated
omission). Bounded both by a request count and by a duration. Prints one JSON line.

    python -m bench.loadgen --url http://127.0.0.1:8080/v2/enqueue --bodies FILE [--rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit


def encode(url: str, bodies: list[bytes]) -> list[bytes]:
    parts = urlsplit(url)
    head = (
        f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\nConnection: keep-alive\r\n"
    )
    return [(head + f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies]


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    if length:
        await reader.readexactly(length)
    return status


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}

    def add(self, status: int, seconds: float) -> None:
        self.latencies.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1


async def closed_loop(
    host: str, port: int, requests: list[bytes], conns: int, total: int, seconds: float
) -> tuple[Stats, float]:
    stats = Stats()
    sent = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection(host, port)
        i = offset
        try:
            while sent < total and time.perf_counter() < deadline:
                sent += 1
                started = time.perf_counter()
                writer.write(requests[i % len(requests)])
                status = await read_response(reader)
                stats.add(status, time.perf_counter() - started)
                i += conns
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(conns)))
    return stats, time.perf_counter() - start


async def open_loop(
    host: str, port: int, requests: list[bytes], conns: int, rate: float, seconds: float
) -> tuple[Stats, float]:
    """``rate`` requests per second for ``seconds``, spread over ``conns`` connections."""
    stats = Stats()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    per_conn = [list(range(n, total, conns)) for n in range(conns)]

    async def worker(slots: list[int]) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in slots:
                due = start + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(requests[n % len(requests)])
                status = await read_response(reader)
                stats.add(status, time.perf_counter() - due)  # from when it should have been sent
        finally:
            writer.close()

    await asyncio.gather(*(worker(s) for s in per_conn))
    return stats, time.perf_counter() - start


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, type=Path, help="one JSON body per line")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop at this many requests/s")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    bodies = [line for line in args.bodies.read_bytes().splitlines() if line.strip()]
    requests = encode(args.url, bodies)
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if args.rate:
        stats, elapsed = asyncio.run(
            open_loop(host, port, requests, args.connections, args.rate, args.seconds)
        )
    else:
        stats, elapsed = asyncio.run(
            closed_loop(host, port, requests, args.connections, args.requests, args.seconds)
        )
    ok = sum(n for s, n in stats.statuses.items() if 200 <= s < 300)
    json.dump(
        {
            "requests": len(stats.latencies),
            "ok": ok,
            "statuses": stats.statuses,
            "seconds": elapsed,
            "rps": ok / elapsed if elapsed else 0.0,
            "p50_ms": percentile(stats.latencies, 50) * 1000,
            "p99_ms": percentile(stats.latencies, 99) * 1000,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
