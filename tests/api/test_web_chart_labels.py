"""/insights with alert names that look like TeX (issue 14, item 9), through intake and the page, on
SQLite and PostgreSQL: the page answers 200 and draws each name exactly as the alert sent it."""

from __future__ import annotations

import html
import re

import pytest

from tests.alert_support import keys
from tests.api.test_web_auth import login
from tests.api.test_web_pages import hana  # noqa: F401  (the fixture)

NAMES = (r"Cost $\undefinedmacro{x}$ p99", "Price $5 and $6 off")


def drawn(page: str, chart: str) -> list[str]:
    """The strings one chart's SVG draws (its <section data-chart=…>)."""
    section = re.search(rf'data-chart="{re.escape(chart)}">(.*?)</section>', page, re.S)
    assert section, f"no chart {chart!r} on the page"
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", section.group(1))]


@pytest.fixture
def tex_alerts(client, sessions, applied_ops, clock):  # type: ignore[no-untyped-def]
    """Each name fires twice without an incident (unrouted, so noisy) through the generic intake."""
    key = keys(sessions)["generic"]
    for n, name in enumerate(NAMES):
        for _ in range(2):
            r = client.post(
                f"/api/v1/intake/generic/{key}",
                json={"dedup_key": f"tex-{n}", "summary": f"{name} firing", "alertname": name},
            )
            assert r.status_code == 202, r.text
            r = client.post(
                f"/api/v1/intake/generic/{key}", json={"dedup_key": f"tex-{n}", "status": "resolved"}
            )
            assert r.status_code == 202, r.text
    clock.advance(minutes=5)  # the page counts alerts first seen before now


def test_insights_draws_tex_looking_alert_names_as_plain_text(client, hana, tex_alerts, clock):  # noqa: F811
    r = client.get("/insights")
    assert r.status_code == 200, r.text[:500]
    noisy = drawn(r.text, "Noisy alerts (30 days)")
    for name in NAMES:
        assert any(t.endswith(f"/{name}") for t in noisy), (name, noisy)
    clock.advance(days=29)  # the alerts still count: the page keeps working for the whole window
    login(client, "hana")  # the session of 29 days ago has expired
    r = client.get("/insights")
    assert r.status_code == 200 and any(
        t.endswith(f"/{NAMES[0]}") for t in drawn(r.text, "Noisy alerts (30 days)")
    )
