"""The access-log filter: tokens in query strings and secret paths are masked, nothing else changes."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from commandpost.deps import QUERY_TOKEN_NAMES
from commandpost.logfilter import ACCESS_LOGGER, MASK, AccessLogSecretFilter, mask_url, uvicorn_log_config

M = MASK


@pytest.mark.parametrize(
    ("sent", "logged"),
    [
        ("/api/v1/incidents?token=s3cr3t", f"/api/v1/incidents?token={M}"),
        ("/api/v1/incidents?access_token=s3cr3t&limit=5", f"/api/v1/incidents?access_token={M}&limit=5"),
        ("/api/v1/incidents?limit=5&api_key=s3cr3t&x=1", f"/api/v1/incidents?limit=5&api_key={M}&x=1"),
        ("/api/v1/incidents?apikey=s3cr3t", f"/api/v1/incidents?apikey={M}"),
        ("/x?TOKEN=s3cr3t", f"/x?TOKEN={M}"),  # any case
        ("/x?%74oken=s3cr3t", f"/x?%74oken={M}"),  # a percent-encoded name
        ("/x?a=1;token=s3cr3t", f"/x?a=1;token={M}"),  # `;` as a separator
        ("/x?token=a&token=b", f"/x?token={M}&token={M}"),
        ("/x?token=", "/x?token="),  # nothing to hide
        ("/x?token", "/x?token"),
        ("/x?tokens=1&my_token=2&q=token%3Dx", "/x?tokens=1&my_token=2&q=token%3Dx"),  # other names
        ("/ical/cpf_s3cr3t.ics", f"/ical/{M}.ics"),
        ("/ical/cpf_s3cr3t.ics?token=s3cr3t", f"/ical/{M}.ics?token={M}"),
        ("/ical/cpf_s3cr3t", f"/ical/{M}"),  # a mistyped feed URL still holds the secret
        ("/ical/a.ics.ics", f"/ical/{M}.ics"),
        ("/api/v1/intake/alertmanager/0123abcd", f"/api/v1/intake/alertmanager/{M}"),
        ("/api/v1/intake/generic/0123abcd?dry=1", f"/api/v1/intake/generic/{M}?dry=1"),
        ("/api/v1/incidents?limit=5", "/api/v1/incidents?limit=5"),
        ("/v2/enqueue", "/v2/enqueue"),
        ("/", "/"),
    ],
)
def test_mask_url(sent: str, logged: str) -> None:
    assert mask_url(sent) == logged


def test_every_refused_query_name_is_masked() -> None:
    for name in QUERY_TOKEN_NAMES:
        assert mask_url(f"/x?{name}=s3cr3t") == f"/x?{name}={M}"


def _access_line(path: str) -> str:
    """A record as uvicorn's protocols log it, through a logger with the filter and uvicorn's formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    fmt = '%(client_addr)s - "%(request_line)s" %(status_code)s'  # uvicorn's default access format
    handler.setFormatter(AccessFormatter(fmt, use_colors=False))
    logger = logging.Logger("access-test")
    logger.addHandler(handler)
    logger.addFilter(AccessLogSecretFilter())
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 401)
    return stream.getvalue()


def test_the_filter_masks_uvicorns_access_record() -> None:
    line = _access_line("/api/v1/incidents?token=s3cr3t")
    assert line == f'127.0.0.1:5000 - "GET /api/v1/incidents?token={M} HTTP/1.1" 401 Unauthorized\n'


def test_the_filter_lets_other_records_through_unchanged() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("text",), None)
    assert AccessLogSecretFilter().filter(record) is True
    assert record.getMessage() == "plain text"


def test_uvicorn_log_config_puts_the_filter_on_the_access_logger() -> None:
    config = uvicorn_log_config()
    assert config["loggers"][ACCESS_LOGGER]["filters"] == ["mask_secrets"]
    assert config["filters"]["mask_secrets"]["()"] is AccessLogSecretFilter
    from uvicorn.config import LOGGING_CONFIG

    assert "filters" not in LOGGING_CONFIG["loggers"][ACCESS_LOGGER]  # uvicorn's own dict is left alone
