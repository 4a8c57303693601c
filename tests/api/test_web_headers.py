"""Security headers (issue 14, item 8) on both databases: every page refuses framing, sniffing and
caching and runs under a Content-Security-Policy; an API 401 says ``WWW-Authenticate: Bearer``."""

from __future__ import annotations

import pytest

from tests.api.test_web_auth import login
from tests.api.test_web_pages import FETCH, declare, hana  # noqa: F401  (the fixture)

PAGES = (
    "/incidents",
    "/incidents/INC-1",
    "/declare",
    "/oncall",
    "/runbooks",
    "/runbooks/payment-webhook-backlog",
    "/postmortems",
    "/action-items",
    "/insights",
    "/settings",
    "/status",
    "/incidents/INC-99",  # an error page
)


def csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """The Content-Security-Policy as directive → sources."""
    value = response.headers.get("content-security-policy", "")
    out = {}
    for part in value.split(";"):
        if part.strip():
            name, *sources = part.split()
            out[name] = sources
    return out


def assert_page_headers(response, *, cache: str = "no-store") -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    policy = csp(response)
    assert policy.get("frame-ancestors") == ["'none'"], policy
    assert policy.get("default-src") == ["'none'"]
    assert policy.get("script-src") == ["'self'"]  # no inline script, no eval, no CDN
    assert policy.get("style-src") == ["'self'"]
    assert policy.get("form-action") == ["'self'"] and policy.get("base-uri") == ["'none'"]
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "same-origin"
    assert headers.get("cache-control") == cache


def test_every_page_refuses_framing_sniffing_and_caching(client, hana):  # noqa: F811
    declare(client, hana)
    for path in PAGES:
        r = client.get(path)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert_page_headers(r, cache="no-cache" if path == "/status" else "no-store")
    live = client.get("/incidents/INC-1/live", params={"after": 0}, headers=FETCH)
    assert live.status_code == 200 and live.headers["x-content-type-options"] == "nosniff"
    assert live.headers["cache-control"] == "no-store"


def test_login_logout_and_redirects_are_not_cached(client, hana):  # noqa: F811
    client.cookies.clear()
    form = client.get("/login")
    assert form.status_code == 200
    assert_page_headers(form)
    redirect = client.get("/incidents/INC-1", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["cache-control"] == "no-store"
    r = login(client, "hana")
    assert r.status_code == 303 and r.headers["cache-control"] == "no-store"


def test_static_files_are_not_sniffed_but_may_be_cached(client):
    r = client.get("/static/app.js")
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in r.headers.get("cache-control", "")


def test_the_api_refuses_framing_and_sniffing_too(client, auth, applied_ops):
    r = client.get("/api/v1/incidents", headers=auth("read"))
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert csp(r).get("frame-ancestors") == ["'none'"]


def test_the_interactive_api_docs_load_their_scripts_from_here(client):
    """/docs and /redoc load Swagger UI and ReDoc from /static/vendor, started from a file: scripts
    from this origin only; styles inline too (ReDoc injects <style> elements)."""
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["x-frame-options"] == "DENY"
        assert csp(r)["script-src"] == ["'self'"] and csp(r)["default-src"] == ["'none'"]
        assert csp(r)["style-src"] == ["'self'", "'unsafe-inline'"]


@pytest.mark.parametrize(
    ("headers", "path", "expected"),
    [
        ({}, "/api/v1/incidents", 'Bearer realm="commandpost"'),
        (
            {"Authorization": "Bearer cp_not-a-real-token"},
            "/api/v1/incidents",
            'Bearer realm="commandpost", error="invalid_token"',
        ),
        ({"Authorization": "Basic aGFuYTpodW50ZXIy"}, "/api/v1/incidents", 'Bearer realm="commandpost"'),
        (
            {"Authorization": "Bearer cp_whatever"},
            "/api/v1/incidents?access_token=x",
            'Bearer realm="commandpost", error="invalid_request"',
        ),
    ],
)
def test_api_401_says_www_authenticate_bearer(client, applied_ops, headers, path, expected):
    r = client.get(path, headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    challenge = r.headers.get("www-authenticate", "")
    assert challenge.startswith(expected), challenge
    if "error=" in expected:
        assert 'error_description="' in challenge


def test_a_revoked_token_is_an_invalid_token(client, make_token, applied_ops):
    token = make_token("read")
    admin = {"Authorization": f"Bearer {make_token('admin')}"}
    r = client.get("/api/v1/tokens", headers=admin)
    mine = next(t for t in r.json() if token.startswith(t["prefix"]))
    assert client.delete(f"/api/v1/tokens/{mine['id']}", headers=admin).status_code in (200, 204)
    r = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_page_fetches_and_403s_carry_no_bearer_challenge(client, hana, auth):  # noqa: F811
    """A page's session expiring is not a bearer challenge, and a too-low scope is 403, not 401."""
    r = client.get("/api/v1/tokens", headers=auth("read"))
    assert r.status_code == 403 and "www-authenticate" not in r.headers
    client.cookies.clear()
    r = client.post("/incidents/INC-1/ack", data={"csrf_token": hana}, headers=FETCH)
    assert r.status_code == 401 and "www-authenticate" not in r.headers
