"""Web login, sessions, CSRF and roles over the real app (TestClient) on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from commandpost.incidents.models import Incident
from commandpost.security import users
from commandpost.security.models import AuditLog

PASSWORD = "correct horse battery staple"


@pytest.fixture
def people(sessions, applied_ops, clock):
    with sessions() as s:
        for handle, role in (("yuta", "admin"), ("hana", "responder"), ("mei", "read")):
            users.set_password(
                s, config=applied_ops, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
        s.commit()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def login(client, handle: str, password: str = PASSWORD, next_url: str = "/incidents"):
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"handle": handle, "password": password, "csrf_token": token, "next": next_url},
        follow_redirects=False,
    )


def count(session, model) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_pages_need_a_login_and_come_back_after_it(client, people):
    r = client.get("/incidents?status=open", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/incidents?status=open"
    r = login(client, "hana", next_url="/incidents?status=open")
    assert r.status_code == 303 and r.headers["location"] == "/incidents?status=open"
    cookie = r.headers["set-cookie"]
    assert "cp_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http; https or an https public URL adds it
    page = client.get("/incidents")
    assert page.status_code == 200 and "@hana" in page.text


def test_wrong_password_and_unknown_handle_say_the_same(client, people, session):
    for handle, password in (("hana", "not the password"), ("nobody", PASSWORD)):
        r = login(client, handle, password)
        assert r.status_code == 401 and "wrong handle or password" in r.text
        assert "cp_session" not in r.headers.get("set-cookie", "")


def test_next_is_only_a_local_path(client, people):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        r = login(client, "hana", next_url=target)
        assert r.headers["location"] == "/"


def test_login_form_itself_needs_its_csrf_cookie(client, people):
    r = client.post("/login", data={"handle": "hana", "password": PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403 and "CSRF" in r.text


def test_csrf_less_posts_are_refused_and_store_nothing(client, people, session):
    login(client, "hana")
    before = (count(session, Incident), count(session, AuditLog))
    for data in (
        {"title": "x", "severity": "SEV1"},
        {"title": "x", "severity": "SEV1", "csrf_token": "nope"},
    ):
        r = client.post("/declare", data=data)
        assert r.status_code == 403 and "CSRF token is missing or wrong" in r.text
    r = client.post("/declare", json={"title": "x", "severity": "SEV1"})
    assert r.status_code == 403
    assert (count(session, Incident), count(session, AuditLog)) == before


def test_a_header_token_works_for_fetch(client, people, session):
    token = csrf_of(login(client, "hana") and client.get("/declare").text)
    r = client.post(
        "/declare",
        data={"title": "Webhooks piling up", "severity": "SEV2"},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/incidents/INC-1"
    audit = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()[-1]
    assert (audit.actor, audit.action, audit.target) == ("hana", "POST /declare", "incident:INC-1")
    assert audit.details["via"] == "web"


def test_roles_follow_scopes(client, people, session):
    login(client, "mei")  # read
    assert client.get("/incidents").status_code == 200
    r = client.get("/declare")
    assert r.status_code == 403 and "needs the role 'responder'" in html.unescape(r.text)
    assert client.get("/settings").status_code == 403
    login(client, "hana")  # responder
    assert client.get("/declare").status_code == 200
    assert client.get("/settings").status_code == 403
    login(client, "yuta")  # admin
    assert client.get("/settings").status_code == 200


def test_logout_ends_the_session_even_for_a_copied_cookie(client, people):
    login(client, "hana")
    cookie = client.cookies.get("cp_session")
    token = csrf_of(client.get("/incidents").text)
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.set("cp_session", cookie)
    assert client.get("/incidents", follow_redirects=False).status_code == 303


def test_a_session_expires(client, people, clock):
    login(client, "hana")
    clock.advance(users.SESSION_TTL)
    assert client.get("/incidents", follow_redirects=False).headers["location"].startswith("/login")


def test_changing_the_password_ends_sessions(client, people, sessions, applied_ops, clock):
    login(client, "hana")
    with sessions() as s:
        users.set_password(
            s, config=applied_ops, handle="hana", password="another long password", now=clock.now()
        )
        s.commit()
    assert client.get("/incidents", follow_redirects=False).status_code == 303


def test_status_page_and_feed_need_no_login(client, applied_ops):
    r = client.get("/status")
    assert r.status_code == 200 and "All systems operational" in r.text and "payment-platform" in r.text
    feed = client.get("/status/feed.atom")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    assert "<feed" in feed.text


def test_static_files_are_served(client):
    r = client.get("/static/app.js")
    assert r.status_code == 200 and "after=" in r.text
    assert client.get("/static/app.css").status_code == 200


def test_failed_logins_are_throttled_per_handle_until_the_window_passes(client, people, session, clock):
    """Five wrong guesses lock the handle for 15 minutes — even the right password is refused, with
    Retry-After — and nothing is written for a failure; a success then clears the count."""
    sessions_before = count(session, users.WebSession)
    for _ in range(5):
        assert login(client, "hana", "not the password").status_code == 401
    for password in ("not the password", PASSWORD):
        r = login(client, "hana", password)
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["Retry-After"]) <= 15 * 60
        assert "too many failed logins" in r.text and "cp_session" not in r.headers.get("set-cookie", "")
    assert count(session, users.WebSession) == sessions_before
    clock.advance(minutes=15, seconds=1)
    assert login(client, "hana").status_code == 303
    for _ in range(4):  # the success reset the count: four more failures still leave a try
        assert login(client, "hana", "not the password").status_code == 401
    assert login(client, "hana").status_code == 303


def test_failed_logins_are_throttled_per_client_address(client, people):
    """Guessing across many handles from one address is throttled too (TestClient is one address)."""
    for n in range(5):
        assert login(client, f"nobody{n}", PASSWORD).status_code == 401
    r = login(client, "yuta")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_throttle_keeps_a_bounded_number_of_keys():
    from datetime import UTC, datetime

    from commandpost.security.throttle import LoginThrottle

    throttle = LoginThrottle(limit=2, max_keys=100)
    now = datetime(2026, 6, 24, tzinfo=UTC)
    for n in range(1000):
        throttle.failed([f"address:10.0.{n // 256}.{n % 256}"], now)
    assert len(throttle._failures) == 100
    throttle.failed(["handle:ken"], now)
    throttle.failed(["handle:ken"], now)
    assert throttle.retry_after(["handle:ken"], now) == 15 * 60
    assert throttle.retry_after(["handle:mei"], now) is None
