"""Per-integration token buckets: a flood from one misconfigured sender cannot starve the others.

The bucket of an integration holds ``rate_limit_per_minute`` tokens (from its ops declaration,
else :data:`DEFAULT_PER_MINUTE`) and refills continuously; each accepted event takes one. The
buckets live in the serving process: with N replicas the effective limit is N times the
configured one — it is a guard against floods, not an exact quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_PER_MINUTE = 60_000
"""Generous: a busy Alertmanager re-sending a few hundred groups stays far below it."""


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    def __init__(
        self, *, default_per_minute: int = DEFAULT_PER_MINUTE, clock: Callable[[], float] | None = None
    ):
        self.default_per_minute = default_per_minute
        self._clock = clock or time.monotonic
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: int, count: int, per_minute: int | None = None) -> float:
        """Take ``count`` tokens: 0.0 when allowed, else the seconds until they would be available.

        A request larger than the whole bucket is allowed when the bucket is full, so a big
        batch is never refused forever.
        """
        capacity = float(per_minute or self.default_per_minute)
        rate = capacity / 60.0
        need = min(float(count), capacity)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= need:
                bucket.tokens -= need
                return 0.0
            return (need - bucket.tokens) / rate


def retry_after_seconds(wait: float) -> int:
    """Retry-After is whole seconds, at least 1."""
    return max(1, math.ceil(wait))
