"""The public status page's times in a real Chromium (issue 18): in the org's timezone, which the page
names; a browser elsewhere also shows each time in its own zone, in brackets (static/status-time.js),
and keeps doing so after live.js replaces the region; a browser in the org's zone adds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from commandpost.clock import SystemClock
from commandpost.db.engine import make_session_factory, transaction
from commandpost.incidents import maintenance
from commandpost.policy import service as policy_service
from commandpost.security.rules import Principal


def _next_winter() -> datetime:
    """The next 15 January, 01:00 UTC (10:00 JST, 02:00 CET: Berlin off summer time), within a year."""
    now = SystemClock().now()
    year = now.year + (1 if (now.month, now.day) >= (1, 15) else 0)
    return datetime(year, 1, 15, 1, 0, tzinfo=UTC)


STARTS = _next_winter()
DAY, NEXT = f"{STARTS:%Y-%m-%d}", f"{STARTS + timedelta(days=1):%Y-%m-%d}"


def _window(server: Any, title: str = "Database upgrade", starts: datetime = STARTS) -> None:
    now = SystemClock().now()
    with transaction(make_session_factory(server.engine)) as session:
        maintenance.schedule(
            session,
            config=policy_service.current_config(session),
            principal=Principal(person="yuta", scope="admin"),
            title=title,
            message="Card payments may be slow for a few minutes.",
            services=["payment-platform"],
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            now=now,
        )


def _open(browser: Any, server: Any, zone: str) -> Any:
    context = browser.new_context(base_url=server.url, timezone_id=zone)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/status")
    return page


def test_the_org_zone_is_named_and_a_reader_elsewhere_also_sees_their_own(browser, server):
    _window(server)
    berlin = _open(browser, server, "Europe/Berlin")
    zone = berlin.locator(".status-zone")
    expect(zone).to_have_text("Times are in Asia/Tokyo (JST). Your own (Europe/Berlin) in brackets.")
    when = berlin.locator(".maintenance-window p").first
    expect(when).to_have_text(
        f"{DAY} 10:00 JST [{DAY} 02:00 your time] – {DAY} 11:00 JST [{DAY} 03:00 your time]"
    )
    # a change reaches the page through live.js (the server's copy, without brackets): they come back
    _window(server, "Cache flush", STARTS + timedelta(days=1))
    expect(berlin.locator(".maintenance-window")).to_have_count(2, timeout=15_000)
    expect(berlin.locator(".maintenance-window").nth(1).locator("p").first).to_have_text(
        f"{NEXT} 10:00 JST [{NEXT} 02:00 your time] – {NEXT} 11:00 JST [{NEXT} 03:00 your time]"
    )
    expect(berlin.locator(".status-zone .yours")).to_have_count(1)
    berlin.context.close()

    tokyo = _open(browser, server, "Asia/Tokyo")
    expect(tokyo.locator(".status-zone")).to_have_text("Times are in Asia/Tokyo (JST).")
    expect(tokyo.locator(".maintenance-window p").first).to_have_text(f"{DAY} 10:00 JST – {DAY} 11:00 JST")
    expect(tokyo.locator(".yours")).to_have_count(0)
    tokyo.context.close()
