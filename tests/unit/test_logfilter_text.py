"""Every log line, not only the access log, masks intake keys, feed secrets and tokens — in the
message and in the traceback (the "unhandled error … on POST /api/v1/intake/alertmanager/<key>" line
printed the live key)."""

from __future__ import annotations

import io
import logging

from commandpost.logfilter import MASK, SecretFilter, mask_text

KEY = "0559ab12cd34ef560559ab12cd34ef56"
TOKEN = "cp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"


def test_mask_text_masks_paths_tokens_and_query_tokens_anywhere_in_a_line() -> None:
    line = (
        f"unhandled error 1a2b on POST /api/v1/intake/alertmanager/{KEY} by {TOKEN} "
        "/ical/cpf_abcdefghijklmnopqrstu.ics x?token=s3cr3t"
    )
    masked = mask_text(line)
    assert KEY not in masked and TOKEN not in masked and "s3cr3t" not in masked and "cpf_abcdef" not in masked
    assert f"/api/v1/intake/alertmanager/{MASK}" in masked and "unhandled error 1a2b on POST" in masked
    assert mask_text("nothing secret here: INC-7 paged @hana") == "nothing secret here: INC-7 paged @hana"


def test_an_error_logged_with_a_traceback_is_masked_by_the_handlers_filter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter())
    logger = logging.Logger("test.secretfilter")
    logger.addHandler(handler)
    try:
        raise RuntimeError(f"boom with {TOKEN}")
    except RuntimeError:
        logger.exception("unhandled error %s on POST %s", "ref1", f"/api/v1/intake/alertmanager/{KEY}")
    out = stream.getvalue()
    assert KEY not in out and TOKEN not in out and "RuntimeError: boom with cp_" in out and MASK in out


def test_a_heartbeat_ping_url_in_any_line_is_masked() -> None:
    masked = mask_text(f"unhandled error 9f on GET /api/v1/heartbeats/{KEY} (from cron)")
    assert KEY not in masked and f"/api/v1/heartbeats/{MASK}" in masked
