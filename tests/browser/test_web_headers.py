"""The security headers in a real Chromium (issue 14, item 8): every page, its script, stylesheet,
charts and background posts work under the Content-Security-Policy with no violation, and a page
on another local port cannot frame an incident."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import expect

from tests.browser.test_web_pages import PAGES, seed

# Recorded before any page script runs (Playwright's init script is not subject to the page's CSP).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def test_every_page_works_under_the_content_security_policy(browser, login, server):
    seed(server)
    yuta = login("yuta")
    yuta.context.add_init_script(WATCH)
    console: list[str] = []
    yuta.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    yuta.on("pageerror", lambda error: console.append(str(error)))
    for path, _name, selector in PAGES:
        response = yuta.goto(path, timeout=60_000)
        assert response is not None and response.status == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        expect(yuta.locator(selector).first).to_be_visible()
        # the stylesheet applied (the top bar is dark) and the script ran ("time since" is live)
        assert yuta.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor") != (
            "rgba(0, 0, 0, 0)"
        )
        assert yuta.evaluate("window.__violations") == [], path

    # the charts' inline SVG keeps its colours (presentation attributes, no inline style needed)
    yuta.goto("/insights", timeout=60_000)
    bar = yuta.locator("[data-chart=toil] svg rect.bar").first
    expect(bar).to_have_css("fill", "rgb(36, 86, 214)")

    # background posts (fetch) and the live timeline (polling) on the incident page
    yuta.goto("/declare")
    yuta.fill("input[name=title]", "Webhooks slow")
    yuta.check("input[name=severity][value=SEV3]")
    yuta.click("button:has-text('Declare')")
    yuta.wait_for_url(re.compile(r".*/incidents/INC-3$"))
    yuta.fill("form.entry-form input[name=text]", "looking at the consumer lag")
    yuta.locator("form.entry-form input[name=text]").press("Enter")
    expect(yuta.locator(".timeline .entry").first).to_contain_text("looking at the consumer lag")
    assert yuta.evaluate("window.__violations") == []
    assert [m for m in console if "Content Security Policy" in m or "Refused" in m] == []
    assert console == []


@contextmanager
def another_local_site(html: str) -> Iterator[str]:
    """A page served from another port of 127.0.0.1 (a real server: Chromium's local-network checks
    refuse a frame from a page that came from nowhere)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_page_on_another_local_port_cannot_frame_an_incident(browser, login, server):
    seed(server)
    yuta = login("yuta")
    failed: list[str] = []
    yuta.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
    bait = f'<h1>win a prize</h1><iframe src="{server.url}/incidents/INC-1" width=800 height=600></iframe>'
    with another_local_site(bait) as evil:
        yuta.goto(evil)
        expect(yuta.locator("h1")).to_have_text("win a prize")
        yuta.wait_for_load_state("load")
        frame = next(f for f in yuta.frames if f is not yuta.main_frame)
        assert frame.locator("text=Payment webhooks piling up").count() == 0
        assert frame.locator("form[action$='/ack'], button").count() == 0
    # refused by the browser for the page's own headers, not by its local-network checks
    assert not any("LOCAL_NETWORK" in f for f in failed), failed
