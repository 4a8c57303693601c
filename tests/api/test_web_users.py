"""Settings → Users: an admin creates users, sets roles, resets passwords, disables and enables them
from the pages (issue 18, item 7), over the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from commandpost.errors import Conflict
from commandpost.security import users
from commandpost.security.models import AuditLog
from tests.api.test_web_auth import PASSWORD, csrf_of, login
from tests.api.test_web_pages import error_of

TYPED = "typed by the admin 42"  # a password an admin sets: it must appear nowhere but in the hash


@pytest.fixture
def admin(client, sessions, applied_ops, clock) -> str:
    """@yuta (admin) and @hana (responder) have users; the client is logged in as @yuta."""
    with sessions() as s:
        for handle, role in (("yuta", "admin"), ("hana", "responder")):
            users.set_password(
                s, config=applied_ops, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
        s.commit()
    login(client, "yuta")
    return csrf_of(client.get("/settings/users").text)


@pytest.fixture
def browser(app) -> Iterator[TestClient]:
    """A second browser, for the person whose user the admin changes."""
    with TestClient(app, raise_server_exceptions=False) as other:
        yield other


def post(client: TestClient, path: str, csrf: str, **data: str) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf}, follow_redirects=False)


def state(sessions) -> dict[str, tuple[str, bool, str]]:
    """Each user's role, whether disabled, and password hash; what a refused form must leave alone."""
    with sessions() as s:
        return {u.handle: (u.role, u.disabled_at is not None, u.password_hash) for u in users.list_users(s)}


def audits(sessions) -> list[AuditLog]:
    with sessions() as s:
        return list(s.scalars(select(AuditLog).order_by(AuditLog.id)))


def last(sessions, action: str) -> AuditLog:
    return [a for a in audits(sessions) if a.action == action][-1]


def web_sessions(sessions, handle: str) -> int:
    with sessions() as s:
        user = users.get_user(s, handle=handle)
        assert user is not None
        query = select(func.count()).select_from(users.WebSession).where(users.WebSession.user_id == user.id)
        return int(s.scalar(query) or 0)


def shown_password(page: str) -> str:
    found = re.search(r'<p class="secret" id="shown-password">([^<]+)</p>', page)
    assert found, "no password shown"
    return html.unescape(found.group(1))


def test_the_page_lists_users_and_offers_the_people_without_one(client, admin):
    page = client.get("/settings/users").text
    assert "@yuta" in page and "Yuta Tomoda" in page and "@hana" in page and "active" in page
    offered = re.findall(r'<option value="([a-z]+)">', page)
    assert offered == ["ken", "mei", "sato"]  # people.yaml minus those with a user
    assert 'action="/settings/users/hana/disable"' in page and "Reset password…" in page
    settings = client.get("/settings").text
    assert "2 users: 1 enabled admin" in settings and 'href="/settings/users"' in settings


def test_create_with_a_generated_password_shown_once(client, admin, browser, sessions, caplog):
    caplog.set_level(logging.DEBUG)
    r = post(client, "/settings/users", admin, handle="ken", role="responder", password="")
    assert r.status_code == 200 and "@ken is a responder user now" in r.text
    password = shown_password(r.text)
    assert len(password) >= 24
    again = client.get("/settings/users").text  # shown once: not on the next load
    assert password not in again and "shown-password" not in again
    role, disabled, hashed = state(sessions)["ken"]
    assert (role, disabled) == ("responder", False) and password not in hashed
    assert login(browser, "ken", password).status_code == 303
    row = last(sessions, "POST /settings/users")
    assert (row.actor, row.target) == ("yuta", "user:ken")
    assert row.details == {"role": "responder", "generated": True, "via": "web"}
    assert password not in caplog.text and all(password not in repr(a.details) for a in audits(sessions))


def test_create_with_a_password_the_admin_typed(client, admin, browser, sessions, caplog):
    caplog.set_level(logging.DEBUG)
    r = post(client, "/settings/users", admin, handle="@mei", role="read", password=TYPED)
    assert r.status_code == 200 and "@mei is a read user now" in r.text and "shown-password" not in r.text
    assert state(sessions)["mei"][0] == "read"
    assert login(browser, "mei", TYPED).status_code == 303
    assert browser.get("/settings/users").status_code == 403  # read is not admin
    assert last(sessions, "POST /settings/users").details == {
        "role": "read",
        "generated": False,
        "via": "web",
    }
    assert TYPED not in caplog.text and all(TYPED not in repr(a.details) for a in audits(sessions))


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"handle": "zed", "role": "read"}, 422, "unknown person @zed: a user is a person of people.yaml"),
        ({"handle": "hana", "role": "read"}, 409, "@hana already has a user"),
        ({"handle": "ken", "role": "boss"}, 422, "unknown role 'boss'"),
        ({"handle": "ken", "role": "r" * 100_000}, 422, "unknown role 'rrrrrrrrrrrrrrrrrrrr…'"),
        ({"handle": "ken", "role": "read", "password": "short"}, 422, "use at least 10"),
        ({"handle": "ken", "role": "read", "password": "x" * 2000}, 422, "longer than 1024"),
        ({"handle": "ken", "role": "read", "password": "nul\x00 in a password"}, 422, "control character"),
        ({"handle": "ken", "role": "read", "password": "tab\tin a password"}, 422, "control character"),
    ],
)
def test_create_refuses_bad_input_on_the_form(client, admin, sessions, data, status, message):
    before, logged = state(sessions), len(audits(sessions))
    r = post(client, "/settings/users", admin, **{"password": "", **data})
    assert r.status_code == status and message in error_of(r.text)
    assert 'action="/settings/users"' in r.text  # the form is there again, to correct
    assert state(sessions) == before and len(audits(sessions)) == logged


@pytest.mark.parametrize(
    "handle",
    [
        "k" * 400_000,  # under the 512 KiB body limit: the form itself refuses it
        "ken\x00",
        "ke\x1bn",
        "\x7f",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "Ken",
        "",
    ],
)
def test_a_hostile_handle_is_refused_and_not_echoed(client, admin, sessions, handle):
    before, logged = state(sessions), len(audits(sessions))
    r = post(client, "/settings/users", admin, handle=handle, role="read", password="")
    assert r.status_code == 422
    assert error_of(r.text).startswith("a handle is a person's handle in people.yaml")
    assert len(r.text) < 20_000 and "<script>alert" not in r.text and "<img src=x" not in r.text
    assert state(sessions) == before and len(audits(sessions)) == logged


def test_a_body_over_the_limit_is_413_and_changes_nothing(client, admin, sessions):
    before, logged = state(sessions), len(audits(sessions))
    r = post(client, "/settings/users", admin, handle="k" * 1_000_000, role="read", password="")
    assert r.status_code == 413
    assert state(sessions) == before and len(audits(sessions)) == logged


def test_role_changes_and_a_demotion_is_confirmed_first(client, admin, browser, sessions):
    assert (
        post(client, "/settings/users/hana/role", admin, role="admin").headers["location"]
        == "/settings/users"
    )
    assert state(sessions)["hana"][0] == "admin"
    row = audits(sessions)[-1]
    assert (row.action, row.target) == ("POST /settings/users/{handle}/role", "user:hana")
    assert row.details == {"role": "admin", "was": "responder", "via": "web"}
    logged = len(audits(sessions))
    asked = post(client, "/settings/users/hana/role", admin, role="read")
    assert asked.status_code == 200 and "Make @hana read?" in asked.text
    assert 'name="confirm" value="yes"' in asked.text and 'name="role" value="read"' in asked.text
    assert state(sessions)["hana"][0] == "admin" and len(audits(sessions)) == logged  # nothing yet
    done = post(client, "/settings/users/hana/role", admin, role="read", confirm="yes")
    assert done.status_code == 303 and state(sessions)["hana"][0] == "read"
    assert audits(sessions)[-1].details == {"role": "read", "was": "admin", "via": "web"}
    r = post(client, "/settings/users/hana/role", admin, role="boss", confirm="yes")
    assert r.status_code == 422 and "unknown role 'boss'" in error_of(r.text)
    r = post(client, "/settings/users/nobody/role", admin, role="read")
    assert r.status_code == 404 and error_of(r.text) == "no user @nobody; create one first"
    r = post(client, "/settings/users/ken%00/role", admin, role="read")
    assert r.status_code == 422 and "a handle is" in error_of(r.text)
    assert state(sessions)["hana"][0] == "read"


def test_the_last_enabled_admin_can_be_neither_demoted_nor_disabled(client, admin, sessions):
    before, logged = state(sessions), len(audits(sessions))
    for step, data in (("role", {"role": "responder"}), ("disable", {})):
        r = post(client, f"/settings/users/yuta/{step}", admin, confirm="yes", **data)
        assert r.status_code == 409, r.text
        assert "@yuta is the last enabled admin: make someone else admin" in error_of(r.text)
    assert state(sessions) == before and len(audits(sessions)) == logged
    # another admin, but disabled, does not count; enabled, it does
    post(client, "/settings/users/hana/role", admin, role="admin")
    post(client, "/settings/users/hana/disable", admin, confirm="yes")
    r = post(client, "/settings/users/yuta/role", admin, role="read", confirm="yes")
    assert r.status_code == 409
    post(client, "/settings/users/hana/enable", admin)
    r = post(client, "/settings/users/yuta/role", admin, role="responder", confirm="yes")
    assert r.status_code == 303 and r.headers["location"] == "/incidents"  # they left Settings
    assert client.get("/settings/users").status_code == 403
    assert state(sessions)["yuta"][0] == "responder"


def test_two_admins_cannot_both_go(sessions, applied_ops, clock):
    with sessions() as s:
        for handle in ("yuta", "hana"):
            users.set_password(
                s, config=applied_ops, handle=handle, password=PASSWORD, role="admin", now=clock.now()
            )
        users.set_disabled(s, handle="hana", disabled=True, now=clock.now())
        with pytest.raises(Conflict, match="last enabled admin"):
            users.set_disabled(s, handle="yuta", disabled=True, now=clock.now())
        with pytest.raises(Conflict, match="last enabled admin"):  # the CLI's role change too
            users.set_password(
                s, config=applied_ops, handle="yuta", password=PASSWORD, role="read", now=clock.now()
            )
        assert users.set_role(s, handle="hana", role="read").role == "read"  # a disabled admin may go


def test_reset_password_is_confirmed_and_ends_sessions(client, admin, browser, sessions):
    login(browser, "hana")
    assert web_sessions(sessions, "hana") == 1
    before, logged = state(sessions), len(audits(sessions))
    asked = post(client, "/settings/users/hana/password", admin)
    assert asked.status_code == 200 and "Reset @hana&#39;s password?" in asked.text
    assert 'type="password" name="password"' in asked.text
    r = post(client, "/settings/users/hana/password", admin, confirm="yes", password="short")
    assert r.status_code == 422 and "use at least 10" in error_of(r.text)
    assert "Reset @hana&#39;s password?" in r.text  # still the question, with the reason
    assert state(sessions) == before and len(audits(sessions)) == logged
    assert web_sessions(sessions, "hana") == 1
    done = post(client, "/settings/users/hana/password", admin, confirm="yes", password="")
    assert done.status_code == 200 and "their sessions ended" in done.text
    password = shown_password(done.text)
    assert web_sessions(sessions, "hana") == 0
    assert browser.get("/incidents", follow_redirects=False).status_code == 303  # logged out
    assert login(browser, "hana", PASSWORD).status_code == 401
    assert login(browser, "hana", password).status_code == 303
    row = last(sessions, "POST /settings/users/{handle}/password")
    assert row.target == "user:hana"
    assert row.details == {"generated": True, "via": "web"}
    typed = post(client, "/settings/users/hana/password", admin, confirm="yes", password=TYPED)
    assert typed.status_code == 200 and "shown-password" not in typed.text
    assert login(browser, "hana", TYPED).status_code == 303
    assert all(TYPED not in repr(a.details) and password not in repr(a.details) for a in audits(sessions))


def test_an_admin_resetting_their_own_password_sees_it_then_logs_in_again(client, admin, sessions):
    done = post(client, "/settings/users/yuta/password", admin, confirm="yes", password="")
    assert done.status_code == 200 and "this one too: log in again" in done.text
    password = shown_password(done.text)
    assert client.get("/settings/users", follow_redirects=False).status_code == 303
    assert login(client, "yuta", password).status_code == 303


def test_disable_ends_sessions_and_refuses_login_until_enabled(client, admin, browser, sessions):
    login(browser, "hana")
    before, logged = state(sessions), len(audits(sessions))
    asked = post(client, "/settings/users/hana/disable", admin)
    assert asked.status_code == 200 and "Disable @hana?" in asked.text and "sessions end now" in asked.text
    assert (
        state(sessions) == before and len(audits(sessions)) == logged and web_sessions(sessions, "hana") == 1
    )
    done = post(client, "/settings/users/hana/disable", admin, confirm="yes")
    assert done.status_code == 303 and done.headers["location"] == "/settings/users"
    assert state(sessions)["hana"][1] and web_sessions(sessions, "hana") == 0
    assert browser.get("/incidents", follow_redirects=False).headers["location"].startswith("/login")
    r = login(browser, "hana")
    assert r.status_code == 401 and "@hana&#39;s user is disabled: ask an admin" in r.text
    assert "cp_session" not in r.headers.get("set-cookie", "")
    page = client.get("/settings/users").text
    assert "disabled 2026-06-24" in page and 'action="/settings/users/hana/enable"' in page
    assert "1 disabled" in client.get("/settings").text
    assert (
        post(client, "/settings/users/hana/disable", admin, confirm="yes").status_code == 303
    )  # again: no-op
    enabled = post(client, "/settings/users/hana/enable", admin)
    assert enabled.status_code == 303 and not state(sessions)["hana"][1]
    assert login(browser, "hana").status_code == 303
    rows = [(a.action, a.target, a.details) for a in audits(sessions) if "able" in a.action]
    assert rows == [
        ("POST /settings/users/{handle}/disable", "user:hana", {"disabled": True, "via": "web"}),
        ("POST /settings/users/{handle}/disable", "user:hana", {"disabled": True, "via": "web"}),
        ("POST /settings/users/{handle}/enable", "user:hana", {"disabled": False, "via": "web"}),
    ]


def test_a_session_of_a_disabled_user_is_refused_even_if_its_row_survived(
    client, admin, browser, sessions, clock
):
    """Belt and braces: disabling deletes the sessions, and resuming one checks the user anyway."""
    login(browser, "hana")
    with sessions() as s:
        user = users.get_user(s, handle="hana")
        assert user is not None
        user.disabled_at = clock.now()
        s.commit()
    assert browser.get("/incidents", follow_redirects=False).headers["location"].startswith("/login")


def test_only_admins_with_the_csrf_token(client, admin, browser, sessions):
    login(browser, "hana")  # responder
    hana = csrf_of(browser.get("/incidents").text)
    before, logged = state(sessions), len(audits(sessions))
    assert browser.get("/settings/users").status_code == 403
    for path, data in (
        ("/settings/users", {"handle": "ken", "role": "admin"}),
        ("/settings/users/hana/role", {"role": "admin"}),
        ("/settings/users/yuta/password", {"confirm": "yes"}),
        ("/settings/users/yuta/disable", {"confirm": "yes"}),
        ("/settings/users/hana/enable", {}),
    ):
        assert post(browser, path, hana, **data).status_code == 403
        r = client.post(path, data={**data, "csrf_token": "forged"}, follow_redirects=False)
        assert r.status_code == 403 and "CSRF token is missing or wrong" in r.text
    assert state(sessions) == before and len(audits(sessions)) == logged
