"""Live regions (issue 18, item 8), both databases: ``X-CommandPost-Live: 1`` answers a page's live
block alone with an ETag, 304 while it is unchanged, a new ETag once it changes; a page without a
live block says so (404); without the header the page is whole (no JavaScript needed)."""

# ruff: noqa: F811 (the people fixture imported from test_web_auth is an argument here)
from __future__ import annotations

from tests.api.test_web_auth import login, people  # noqa: F401 (fixture)

LIVE = {"X-CommandPost-Live": "1"}


def _fragment(client, path: str, etag: str | None = None):
    headers = {**LIVE, **({"If-None-Match": etag} if etag else {})}
    return client.get(path, headers=headers, follow_redirects=False)


def test_the_status_region_is_answered_alone_and_304_until_it_changes(client, auth, applied_ops):
    whole = client.get("/status").text
    assert "<html" in whole and "data-live-region" in whole and "/static/live.js" in whole
    r = _fragment(client, "/status")
    assert r.status_code == 200 and r.text.lstrip().startswith(
        '<div data-live-region data-live-every="5000">'
    )
    assert "<html" not in r.text and "All systems operational" in r.text
    etag = r.headers["etag"]
    assert r.headers["cache-control"] == "no-cache"
    again = _fragment(client, "/status", etag)
    assert again.status_code == 304 and again.content == b""
    window = {
        "title": "Database upgrade",
        "message": "Slow for a few minutes.",
        "services": ["payment-platform"],
        "starts_at": "2026-06-24T02:00:00Z",
        "ends_at": "2026-06-24T04:00:00Z",
    }
    assert client.post("/api/v1/status/maintenance", json=window, headers=auth("admin")).status_code == 201
    changed = _fragment(client, "/status", etag)
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert "Maintenance in progress" in changed.text
    assert _fragment(client, "/status", '"forged\x7f"').status_code == 200  # any other tag: the region


def test_the_incident_list_and_on_call_regions_need_the_login_like_their_pages(client, people, auth):
    gone = _fragment(client, "/incidents")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    login(client, "hana")
    r = _fragment(client, "/incidents")
    assert r.status_code == 200 and r.text.lstrip().startswith("<div data-live-region>")
    assert "Filter" not in r.text and "None." in r.text  # the filters form stays outside the region
    etag = r.headers["etag"]
    assert _fragment(client, "/incidents", etag).status_code == 304
    body = {"title": "Webhooks piling up", "severity": "SEV2", "service": "payment-platform"}
    assert (
        client.post("/api/v1/incidents", json=body, headers=auth("responder", person="hana")).status_code
        == 201
    )
    changed = _fragment(client, "/incidents", etag)
    assert changed.status_code == 200 and "Webhooks piling up" in changed.text
    filtered = _fragment(client, "/incidents?status=closed")
    assert filtered.status_code == 200 and "Webhooks piling up" not in filtered.text

    r = _fragment(client, "/oncall")
    assert r.status_code == 200 and r.text.lstrip().startswith('<section class="panel" data-live-region>')
    assert "On call now" in r.text and "Add override" not in r.text
    assert _fragment(client, "/oncall", r.headers["etag"]).status_code == 304


def test_a_page_without_a_live_region_says_so(client, people):
    login(client, "hana")
    r = _fragment(client, "/runbooks")
    assert r.status_code == 404 and "no live region" in r.text
    assert client.get("/runbooks").status_code == 200
