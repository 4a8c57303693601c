"""/docs and /redoc in a real Chromium: Swagger UI and ReDoc load from commandpost itself (nothing
from another origin, as on an air-gapped install), render every operation, and run under the pages'
Content-Security-Policy with no violation."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_web_headers import WATCH

REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(
    ("path", "operation"),
    [
        ("/docs", "#swagger-ui .opblock-summary:has-text('/api/v1/incidents')"),
        ("/redoc", "#redoc [data-section-id='operation/listIncidents']"),
    ],
)
def test_the_api_docs_are_served_from_here_under_the_policy(
    browser: Any, server: Any, path: str, operation: str
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=server.url)
    try:
        context.add_init_script(WATCH)
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        failed: list[str] = []
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: console.append(str(error)))
        response = page.goto(path, timeout=60_000)
        assert response is not None and response.status == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        expect(page.locator(operation).first).to_be_attached(timeout=30_000)
        # ReDoc's sidebar credits Redocly with a logo from its CDN, which the policy blocks (the page
        # works without it, and nothing leaves the machine): the one violation allowed
        violations = page.evaluate("window.__violations")
        assert [v for v in violations if not v.startswith("img-src https://cdn.redoc.ly/")] == []
        assert failed == [] and [m for m in console if "cdn.redoc.ly/" not in m] == []
        local = (server.url, "blob:", "data:", REDOCLY_LOGO)  # the logo: blocked by the policy, above
        assert requested and all(url.startswith(local) for url in requested), requested
    finally:
        context.close()
