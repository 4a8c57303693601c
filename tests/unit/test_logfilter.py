"""The access-log filter: tokens in query strings and secret paths are masked, nothing else changes."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from commandpost.deps import QUERY_TOKEN_NAMES
from commandpost.logfilter import MASK, AccessFormatter, AccessLogSecretFilter, mask_url

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
        ("/api/v1/heartbeats/0123abcd", f"/api/v1/heartbeats/{M}"),  # a heartbeat's ping URL
        ("/api/v1/heartbeats/0123abcd?x=1", f"/api/v1/heartbeats/{M}?x=1"),
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
    handler.setFormatter(UvicornAccessFormatter(fmt, use_colors=False))
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


@pytest.mark.parametrize("status", [200, 202, 401, 422, 599])
def test_the_cheap_access_format_writes_uvicorns_line(status: int) -> None:
    """``serve`` formats access lines itself (off the event loop, without copying the record):
    the same line as uvicorn's formatter, uncoloured — an unknown status too."""
    args = ("127.0.0.1:5000", "POST", "/v2/enqueue?x=1", "1.1", status)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    fmt = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'  # uvicorn's default
    assert AccessFormatter().format(record) == UvicornAccessFormatter(fmt, use_colors=False).format(record)
