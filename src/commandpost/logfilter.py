"""Secrets never reach the access log: uvicorn writes each request's path and query string as sent.

A token in a query string is refused (401, :data:`commandpost.deps.QUERY_TOKEN_NAMES`), but uvicorn
has logged the request line by then. Some paths are secrets themselves: an iCal feed's URL
(``/ical/{secret}.ics``) and an alert intake URL (``/api/v1/intake/{source}/{key}``), whose key
anyone could post alerts with. :class:`AccessLogSecretFilter` replaces those values with
:data:`MASK` before the line is formatted; ``commandpost serve`` installs it on the
``uvicorn.access`` logger through :func:`uvicorn_log_config`.

Every other log line goes through :class:`SecretFilter` on the handlers: an error logged while
handling ``POST /api/v1/intake/alertmanager/<key>`` names the path, and an exception's text may
quote a token; the filter masks intake keys, feed secrets and tokens in the message and in the
formatted traceback before any handler writes them.
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
_ICAL_IN_TEXT = re.compile(r"(/ical/)[^/?\s\"']+?(\.ics)?(?=[/?\s\"']|$)")
_TOKENS = re.compile(r"\b(cpf?_)[A-Za-z0-9_-]{16,}")
_QUERY_IN_TEXT = re.compile(
    r"([?&;](?:" + "|".join(map(re.escape, sorted(_QUERY_NAMES))) + r")=)[^&;\s\"']+", re.IGNORECASE
)


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


def mask_text(text: str) -> str:
    """Any log text with intake keys, feed secrets, API tokens and query-string tokens masked."""
    text = _INTAKE.sub(lambda m: f"{m[1]}{MASK}", text)
    text = _ICAL_IN_TEXT.sub(lambda m: f"{m[1]}{MASK}{m[2] or ''}", text)
    text = _QUERY_IN_TEXT.sub(lambda m: f"{m[1]}{MASK}", text)
    return _TOKENS.sub(lambda m: f"{m[1]}{MASK}", text)


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message and traceback (every handler but the access log's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == ACCESS_LOGGER:
            return True  # its arguments are masked by AccessLogSecretFilter; uvicorn formats them itself
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def install_secret_filter(logger: logging.Logger | None = None) -> None:
    """Put :class:`SecretFilter` on every handler of ``logger`` (the root logger by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())


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
    filters = config.setdefault("filters", {})
    filters["mask_secrets"] = {"()": AccessLogSecretFilter}
    filters["mask_secrets_in_text"] = {"()": SecretFilter}
    access = config["loggers"][ACCESS_LOGGER]
    access["filters"] = [*access.get("filters", []), "mask_secrets"]
    for name, handler in config["handlers"].items():
        if name != "access":
            handler["filters"] = [*handler.get("filters", []), "mask_secrets_in_text"]
    return config
