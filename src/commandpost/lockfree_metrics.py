"""A Prometheus counter and histogram for the hot path that take no lock per increment.

prometheus_client guards every ``inc``/``observe`` with a mutex (``MutexValue``); on the intake's
hot path its request and event metrics took about 3 % of the event loop's samples under load (issue
19). Here each thread that writes keeps its own running totals, which only that thread changes, and
``/metrics`` sums every thread's: exact under threads, no lock but on a thread's first write and at
collection. The families and samples given to the registry are those prometheus_client's ``Counter``
and ``Histogram`` give (names, HELP, TYPE, labels, ``le`` strings, ``_created`` series), so the
exposition is byte-for-byte the same.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client import metrics as _client_metrics
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric, Sample
from prometheus_client.registry import Collector
from prometheus_client.utils import INF, floatToGoString


class _PerThread:
    """``width`` running totals per writing thread; a thread's first write registers its list. The
    lists of threads that ended are folded into one at collection: the intake's commit thread ends
    when idle and a new one starts with the next burst, so the lists would otherwise grow."""

    __slots__ = ("_ended", "_lists", "_lock", "local")

    def __init__(self, width: int) -> None:
        self.local = threading.local()
        self._lists: list[tuple[threading.Thread, list[float]]] = []
        self._ended = [0.0] * width
        self._lock = threading.Lock()

    def new(self) -> list[float]:
        """This thread's totals (its first write)."""
        mine = [0.0] * len(self._ended)
        with self._lock:
            self._lists.append((threading.current_thread(), mine))
        self.local.cells = mine
        return mine

    def totals(self) -> list[float]:
        """Every thread's totals added up, position by position."""
        with self._lock:
            alive = []
            for thread, cells in self._lists:
                if thread.is_alive():
                    alive.append((thread, cells))
                else:  # it writes no more
                    self._ended = [a + b for a, b in zip(self._ended, cells, strict=True)]
            self._lists = alive
            sums = list(self._ended)
        for _, cells in alive:
            for i, value in enumerate(cells):
                sums[i] += value
        return sums


def _use_created() -> bool:
    """prometheus_client's own switch (``PROMETHEUS_DISABLE_CREATED_SERIES``,
    ``disable_created_metrics``), read at each collection as its metrics read it."""
    return bool(_client_metrics._use_created)


class CounterChild:
    """One labelled series of a :class:`Counter`."""

    __slots__ = ("_cells", "_local", "created")

    def __init__(self) -> None:
        self._cells = _PerThread(1)
        self._local = self._cells.local
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        try:
            self._local.cells[0] += amount
        except AttributeError:
            self._cells.new()[0] += amount

    def value(self) -> float:
        return self._cells.totals()[0]


class Counter(Collector):
    """A labelled counter, registered like prometheus_client's (``name`` without ``_total``)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self._name = name.removesuffix("_total")
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], CounterChild] = {}
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def labels(self, *labelvalues: str) -> CounterChild:
        """The series of these label values (made on first use; ``str()`` of each, as prometheus_client)."""
        child = self._children.get(labelvalues)
        if child is not None:
            return child
        if len(labelvalues) != len(self._labelnames):
            raise ValueError("Incorrect label count")
        key = tuple(str(v) for v in labelvalues)
        with self._lock:
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = CounterChild()
        return child

    def describe(self) -> Iterable[Metric]:
        return [CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterable[Metric]:
        metric = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        with self._lock:
            children = list(self._children.items())
        created = _use_created()
        for labelvalues, child in children:
            metric.add_metric(labelvalues, child.value(), child.created if created else None)
        return [metric]


class Histogram(Collector):
    """An unlabelled histogram, registered like prometheus_client's (same default buckets)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float] = _client_metrics.Histogram.DEFAULT_BUCKETS,
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        bounds = [float(b) for b in buckets]
        if bounds != sorted(bounds):
            raise ValueError("Buckets not in sorted order")
        if bounds[0] < 0:  # prometheus_client would leave out _sum: not needed here
            raise ValueError("Buckets below zero")
        if bounds[-1] != INF:
            bounds.append(INF)
        self._name = name
        self._documentation = documentation
        self._bounds = bounds
        self._les = [floatToGoString(b) for b in bounds]
        # One position per bucket (not cumulative), then the sum.
        self._cells = _PerThread(len(bounds) + 1)
        self._local = self._cells.local
        self._created = time.time()
        if registry is not None:
            registry.register(self)

    def observe(self, amount: float) -> None:
        bounds = self._bounds
        i = bisect_left(bounds, amount)
        try:
            cells = self._local.cells
        except AttributeError:
            cells = self._cells.new()
        if amount <= bounds[i]:  # false for NaN only (bisect gives 0): no bucket, as prometheus_client
            cells[i] += 1
        cells[-1] += amount

    def describe(self) -> Iterable[Metric]:
        return [HistogramMetricFamily(self._name, self._documentation)]

    def collect(self) -> Iterable[Metric]:
        totals = self._cells.totals()
        buckets, acc = [], 0.0
        for le, count in zip(self._les, totals, strict=False):  # totals ends with the sum
            acc += count
            buckets.append((le, acc))
        metric = HistogramMetricFamily(self._name, self._documentation, buckets=buckets, sum_value=totals[-1])
        if _use_created():
            metric.samples.append(Sample(self._name + "_created", {}, self._created))
        return [metric]
