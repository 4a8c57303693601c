"""Redaction for alert payloads, memoized: the same strings arrive again and again.

Alert bodies repeat themselves (the same summary, label values and annotations on every
re-send and across the alerts of one group), and running every detector over a string costs
~0.1–0.2 ms. :func:`scrub` applies exactly the rules of :func:`commandpost.security.redact.redact_data`
— every string through ``redact_text``, a secret-named key's value replaced, numbers decided by
the security module — but remembers the redacted form of short strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from commandpost.security.redact import SECRET_KEY_KIND, is_secret_key, marker, redact_data, redact_text

CACHED_LENGTH = 512
_SECRET = marker(SECRET_KEY_KIND)


@lru_cache(maxsize=65_536)
def _cached_text(value: str) -> str:
    return redact_text(value)


@lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return is_secret_key(key)


def text(value: str) -> str:
    return _cached_text(value) if len(value) <= CACHED_LENGTH else redact_text(value)


def scrub(obj: Any) -> Any:
    """A redacted copy of a JSON-like value (see module docstring)."""
    if isinstance(obj, str):
        return text(obj)
    if isinstance(obj, Mapping):
        return {
            k: (
                _SECRET
                if isinstance(k, str) and _secret_key(k) and v is not None and not isinstance(v, bool)
                else scrub(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return type(obj)(scrub(v) for v in obj)
    return redact_data(obj)
