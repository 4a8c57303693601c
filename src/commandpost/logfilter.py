"""Secrets never reach the access log: uvicorn writes each request's path and query string as sent.

A token in a query string is refused (401, :data:`commandpost.deps.QUERY_TOKEN_NAMES`), but uvicorn
has logged the request line by then. Some paths are secrets themselves: an iCal feed's URL
(``/ical/{secret}.ics``) and an alert intake URL (``/api/v1/intake/{source}/{key}``), whose key
anyone could post alerts with. :class:`AccessLogSecretFilter` replaces those values with
:data:`MASK` before the line is formatted; ``commandpost serve`` installs it on the
``uvicorn.access`` logger through :func:`uvicorn_log_config`.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from commandpost.deps import QUERY_TOKEN_NAMES

MASK = "[REDACTED]"
ACCESS_LOGGER = "uvicorn.access"

_QUERY_NAMES = frozenset(name.lower() for name in QUERY_TOKEN_NAMES)
_ICAL = re.compile(r"(/ical/)[^/?]+?(\.ics)?(?=[/?]|$)")
_INTAKE = re.compile(r"(/api/v1/intake/[^/?]+/)[^/?]+")
_QUERY_SEPARATOR = re.compile(r"([&;])")


def mask_url(path_and_query: str) -> str:
    """``/ical/cpf_x.ics?token=abc`` → ``/ical/[REDACTED].ics?token=[REDACTED]``; else unchanged.

    A query parameter is masked when its name, percent-decoded and in any case, is one of the
    refused token names; ``;`` separates parameters as well as ``&``, so nothing hides behind it.
    """
    path, sep, query = path_and_query.partition("?")
    path = _ICAL.sub(lambda m: f"{m[1]}{MASK}{m[2] or ''}", path)
    path = _INTAKE.sub(lambda m: f"{m[1]}{MASK}", path)
    if query:
        parts = _QUERY_SEPARATOR.split(query)
        for i in range(0, len(parts), 2):  # even items are parameters, odd ones their separators
            name, eq, value = parts[i].partition("=")
            if eq and value and unquote_plus(name).strip().lower() in _QUERY_NAMES:
                parts[i] = f"{name}={MASK}"
        query = "".join(parts)
    return f"{path}{sep}{query}"


class AccessLogSecretFilter(logging.Filter):
    """Masks the request path of uvicorn's access records (``client, method, path, version, status``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            masked = mask_url(args[2])
            if masked != args[2]:
                record.args = (args[0], args[1], masked, args[3], args[4])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with :class:`AccessLogSecretFilter` on the access logger.

    Given to ``uvicorn.run(log_config=…)`` so the filter is installed by the same ``dictConfig`` that
    sets the logger up (a filter added before would depend on dictConfig leaving it in place).
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["mask_secrets"] = {"()": AccessLogSecretFilter}
    access = config["loggers"][ACCESS_LOGGER]
    access["filters"] = [*access.get("filters", []), "mask_secrets"]
    return config
