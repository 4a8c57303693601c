"""The lock-free counter and histogram expose exactly what prometheus_client's would after the
same increments: names, HELP, TYPE, labels (escaped), buckets, ``_created`` series."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from commandpost import app, lockfree_metrics
from commandpost.alerts import metrics as alert_metrics

# Today's definitions, as prometheus_client metrics were declared before the lock-free ones.
COUNTERS = {
    "unrunbooked": (
        "commandpost_unrunbooked_pages",
        "Paging alerts that arrived without a runbook (guide §4: every paging alert has one)",
        ["service"],
    ),
    "events": (
        "commandpost_alert_events",
        "Alert events accepted, by source and outcome",
        ["source", "outcome"],
    ),
    "rejected": (
        "commandpost_alert_rejected",
        "Intake requests refused, by source and HTTP status",
        ["source", "status"],
    ),
    "http": ("commandpost_http_requests_total", "HTTP requests answered", ["method", "status_class"]),
}
HISTOGRAMS: dict[str, tuple[str, str, tuple[float, ...] | None]] = {
    "batch": (
        "commandpost_alert_commit_batch_requests",
        "Intake requests committed together in one transaction (group commit)",
        (1, 2, 4, 8, 16, 32, 64, 128, 256),
    ),
    "seconds": ("commandpost_http_request_seconds", "HTTP request latency", None),
}
SHIPPED = {
    "unrunbooked": alert_metrics.UNRUNBOOKED_PAGES,
    "events": alert_metrics.EVENTS,
    "rejected": alert_metrics.REJECTED,
    "batch": alert_metrics.BATCH_SIZE,
    "http": app.HTTP_REQUESTS,
    "seconds": app.HTTP_SECONDS,
}

HOSTILE = [
    'a"b',
    "back\\slash",
    "new\nline",
    '} 1\n# HELP x y\nx{a="',
    "",
    "ünïcødé ☃",
    "M-SEARCH",
    "x" * 500,
]
# Multiples of 2**-10 (and integers): their sums are exact in any order, so threads cannot change them.
SECONDS = [i / 1024 for i in range(0, 12_000, 7)] + [0.005, 0.25, 2.5, 10.0, 11.0, 1e9, math.inf]


def _build(
    counter: Callable[..., Any], histogram: Callable[..., Any]
) -> tuple[CollectorRegistry, dict[str, Any]]:
    registry = CollectorRegistry()
    made = {key: counter(*args, registry=registry) for key, args in COUNTERS.items()}
    for key, (name, doc, buckets) in HISTOGRAMS.items():
        extra = {} if buckets is None else {"buckets": buckets}
        made[key] = histogram(name, doc, registry=registry, **extra)
    return registry, made


def _old() -> tuple[CollectorRegistry, dict[str, Any]]:
    return _build(prometheus_client.Counter, prometheus_client.Histogram)


def _new() -> tuple[CollectorRegistry, dict[str, Any]]:
    return _build(lockfree_metrics.Counter, lockfree_metrics.Histogram)


def _work(made: dict[str, Any], part: int = 0, parts: int = 1) -> None:
    """The same increments on either implementation (``part`` of ``parts``: one thread's share)."""
    for i, seconds in enumerate(SECONDS):
        if i % parts != part:
            continue
        made["seconds"].observe(seconds)
        made["batch"].observe(i % 300)
        made["http"].labels(HOSTILE[i % len(HOSTILE)], f"{2 + i % 4}xx").inc()
        made["events"].labels("pagerduty", ("accepted", "deduplicated")[i % 2]).inc(i % 3)
        made["rejected"].labels("alertmanager", str(400 + i % 30)).inc()
        made["unrunbooked"].labels(HOSTILE[(i * 7) % len(HOSTILE)]).inc(2.5)


_CREATED = re.compile(rb"^(\S+_created(?:\{.*\})?) (\S+)$", re.MULTILINE)


def _exposition(registry: CollectorRegistry, since: float, until: float) -> bytes:
    """The registry's /metrics text, each ``_created`` value (wall time at creation, so different in
    the two implementations) checked to lie in the test's window and replaced by a mark."""
    text = generate_latest(registry)
    for match in _CREATED.finditer(text):
        assert since <= float(match.group(2)) <= until, match.group(0)
    return _CREATED.sub(rb"\1 <created>", text)


def _compare(run: Callable[[dict[str, Any]], None]) -> bytes:
    since = time.time()
    (old_registry, old), (new_registry, new) = _old(), _new()
    run(old)
    run(new)
    until = time.time()
    expected = _exposition(old_registry, since, until)
    assert _exposition(new_registry, since, until) == expected
    return expected


def test_the_same_exposition_after_the_same_increments_with_hostile_label_values() -> None:
    text = _compare(_work)
    assert b'method="new\\nline"' in text and b'method="a\\"b"' in text  # escaped, not raw
    assert b'commandpost_http_request_seconds_bucket{le="0.005"}' in text
    assert text.count(b"_created") > 50  # every labelled series and both histograms


def test_the_same_exposition_before_any_increment() -> None:
    text = _compare(lambda made: None)
    assert b"# TYPE commandpost_alert_events_total counter" in text
    assert b"commandpost_http_request_seconds_count 0.0" in text


def test_the_same_exposition_when_eight_threads_increment() -> None:
    def threaded(made: dict[str, Any]) -> None:
        _work(made)  # every series made first, in one order: the exposition lists them in that order
        start = threading.Barrier(8)

        def share(part: int) -> None:
            start.wait()
            for _ in range(20):
                _work(made, part, 8)

        threads = [threading.Thread(target=share, args=(part,)) for part in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    text = _compare(threaded)
    # every count kept after its thread ended: 1 + 20 rounds of every observation
    assert f"commandpost_http_request_seconds_count {21.0 * len(SECONDS)}".encode() in text


def test_threads_that_ended_are_counted_once_and_their_totals_folded_into_one() -> None:
    """A new commit thread per burst: each one's totals stay counted, once, across scrapes, and are
    not kept per thread once it ended."""
    since = time.time()
    (old_registry, old), (new_registry, new) = _old(), _new()
    for burst in range(3):
        for made in (old, new):
            thread = threading.Thread(target=_work, args=(made, burst, 3))
            thread.start()
            thread.join()
        until = time.time()
        assert _exposition(new_registry, since, until) == _exposition(old_registry, since, until)
    histogram = new["batch"]
    assert isinstance(histogram, lockfree_metrics.Histogram)
    assert histogram._cells._lists == []


def test_nan_is_summed_but_counted_in_no_bucket_as_prometheus_client_does() -> None:
    _compare(lambda made: made["seconds"].observe(math.nan))


def test_without_created_series_when_prometheus_client_is_told_so() -> None:
    prometheus_client.disable_created_metrics()
    try:
        text = _compare(_work)
    finally:
        prometheus_client.enable_created_metrics()
    assert b"_created" not in text


def test_refusals_are_prometheus_clients() -> None:
    _, old = _old()
    _, new = _new()
    for made in (old, new):
        with pytest.raises(ValueError, match=r"^Counters can only be incremented by non-negative amounts\.$"):
            made["events"].labels("pagerduty", "accepted").inc(-1)
        with pytest.raises(ValueError, match=r"^Incorrect label count$"):
            made["events"].labels("pagerduty")
    registry = CollectorRegistry()
    prometheus_client.Counter("commandpost_alert_events", "x", ["source"], registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        lockfree_metrics.Counter("commandpost_alert_events_total", "x", ["source"], registry=registry)


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_the_shipped_metrics_are_declared_as_before(key: str) -> None:
    """Names, HELP, TYPE, label names and buckets of the served metrics are today's."""
    _, old = _old()
    shipped = CollectorRegistry()
    shipped.register(SHIPPED[key])  # a collector can be in several registries
    expected = [(m.name, m.documentation, m.type) for m in old[key].collect()]
    assert [(m.name, m.documentation, m.type) for m in shipped.collect()] == expected
    if key in HISTOGRAMS:
        buckets = [s.labels for s in next(iter(shipped.collect())).samples if s.name.endswith("_bucket")]
        assert buckets == [s.labels for s in old[key].collect()[0].samples if s.name.endswith("_bucket")]
    else:
        counter = SHIPPED[key]
        assert isinstance(counter, lockfree_metrics.Counter)
        assert counter._labelnames == old[key]._labelnames
