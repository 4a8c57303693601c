"""Failed-login throttling: after ``limit`` failures within ``window`` for a handle or for a client
address, that key is refused (429 with Retry-After) until its oldest failure leaves the window; a
successful login clears the handle's and the address's failures.

The check runs *before* the password is hashed, so a guessing client costs a dictionary look-up,
not an argon2 verification (64 MiB, tens of milliseconds of CPU that intake and the engine need),
and nothing is written to the database for a failure. It is kept in memory per process: one
replica of several lets ``limit`` guesses through per replica, which bounds guessing all the same.

Hand-written rather than a rate-limit library because it must run on the injected Clock (tests move
time) and needs only a moving window of timestamps; the number of keys is capped so a client
cycling through addresses or handles cannot grow it without bound (the oldest keys are dropped).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import datetime, timedelta


class LoginThrottle:
    def __init__(self, *, limit: int = 5, window: timedelta = timedelta(minutes=15), max_keys: int = 10_000):
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()
        self.verifying = threading.Lock()
        """Held around each password verification: one at a time per process, so a burst of guesses
        queues for one core instead of taking every core from intake (argon2 is tens of ms of CPU and
        64 MiB each; 20 at once stalled intake for a second), and each attempt sees the failures of
        the ones before it."""

    def _recent(self, key: str, now: datetime) -> deque[datetime] | None:
        found = self._failures.get(key)
        if found is None:
            return None
        while found and found[0] <= now - self.window:
            found.popleft()
        if not found:
            del self._failures[key]
            return None
        return found

    def retry_after(self, keys: Iterable[str], now: datetime) -> int | None:
        """Seconds until every key may try again, or None when none of them is throttled."""
        wait = 0.0
        with self._lock:
            for key in keys:
                found = self._recent(key, now)
                if found is not None and len(found) >= self.limit:
                    wait = max(wait, (found[0] + self.window - now).total_seconds())
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, keys: Iterable[str], now: datetime) -> None:
        with self._lock:
            for key in keys:
                found = self._recent(key, now)
                if found is None:
                    found = self._failures[key] = deque(maxlen=self.limit)
                found.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def login_keys(handle: str, address: str | None) -> list[str]:
    """The throttle's keys for one attempt: the handle tried (case- and ``@``-insensitive) and the client."""
    keys = [f"handle:{handle.strip().lstrip('@').lower()}"]
    if address:
        keys.append(f"address:{address}")
    return keys
