"""Checks 7–10 against real servers: the auth matrix over every route, forged SNS and webhook signatures,
secrets through every free-text field, SSRF refusals. Each runs on one database (they test the edges,
not storage): the auth matrix and secrets on PostgreSQL, forgeries and SSRF on SQLite."""

from __future__ import annotations

import pytest
from reliability.figures import failed, report

from reliability import auth, forgery, secrets, ssrf

pytestmark = [pytest.mark.integration, pytest.mark.wallclock]


def test_every_route_refuses_missing_low_query_and_feed_tokens() -> None:
    figures = auth.run("postgresql")
    assert not failed(figures), report(figures)


def test_no_forged_sns_delivery_or_webhook_signature_is_accepted() -> None:
    figures = forgery.run("sqlite")
    assert not failed(figures), report(figures)


def test_no_raw_secret_reaches_the_database_the_log_or_a_notification() -> None:
    figures = secrets.run("postgresql")
    assert not failed(figures), report(figures)


def test_webhooks_to_internal_addresses_and_redirects_there_are_refused() -> None:
    figures = ssrf.run("sqlite")
    assert not failed(figures), report(figures)
