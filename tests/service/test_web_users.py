"""Web users: people of people.yaml, argon2 hashes, roles, sessions; and ``commandpost user`` (both DBs)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from commandpost.errors import Unauthorized, ValidationFailed
from commandpost.security import users
from tests import cli_support


def test_set_password_creates_a_user_of_people_yaml(sessions, applied_ops, clock):
    with sessions() as s:
        user, created = users.set_password(
            s, config=applied_ops, handle="@hana", password="a long password", now=clock.now()
        )
        s.commit()
        assert created and user.handle == "hana" and user.role == "responder"
        assert user.password_hash.startswith("$argon2id$") and "a long password" not in user.password_hash
        with pytest.raises(ValidationFailed, match="unknown person @nobody"):
            users.set_password(
                s, config=applied_ops, handle="nobody", password="a long password", now=clock.now()
            )
        with pytest.raises(ValidationFailed, match="use at least 10"):
            users.set_password(s, config=applied_ops, handle="hana", password="short", now=clock.now())
        with pytest.raises(ValidationFailed, match="unknown role 'boss'"):
            users.set_password(
                s, config=applied_ops, handle="hana", password="a long password", role="boss", now=clock.now()
            )
        again, created = users.set_password(
            s, config=applied_ops, handle="hana", password="another password", now=clock.now()
        )
        assert not created and again.role == "responder"


def test_verify_and_sessions(sessions, applied_ops, clock):
    with sessions() as s:
        user, _ = users.set_password(
            s, config=applied_ops, handle="ken", password="a long password", role="read", now=clock.now()
        )
        with pytest.raises(Unauthorized, match="wrong handle or password"):
            users.verify_password(s, handle="ken", password="wrong password!")
        with pytest.raises(Unauthorized, match="wrong handle or password"):
            users.verify_password(s, handle="", password="a long password")
        verified = users.verify_password(s, handle="ken", password="a long password")
        assert verified.user_id == user.id and verified.rehash is None
        found = users.record_login(s, verified=verified, now=clock.now())
        assert found.id == user.id and found.last_login_at == clock.now()
        cookie = users.start_session(s, user=found, now=clock.now())
        s.commit()
        row = s.scalars(select(users.WebSession)).one()
        assert row.token_hash != cookie and len(cookie) >= 40
        who = users.resume(s, token=cookie, now=clock.now() + timedelta(hours=11))
        assert (who.principal.person, who.principal.scope) == ("ken", "read")
        assert users.csrf_matches(who.csrf_token, who.csrf_token) and not users.csrf_matches(
            who.csrf_token, None
        )
        with pytest.raises(Unauthorized):
            users.resume(s, token=cookie, now=clock.now() + users.SESSION_TTL)
        users.end_session(s, token=cookie)
        with pytest.raises(Unauthorized):
            users.resume(s, token=cookie, now=clock.now())


def run_cli(db_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return cli_support.run_cli([*args, "--database-url", db_url], stdin=stdin)


def test_cli_set_password_from_stdin(db_url, applied_ops, sessions, clock):
    r = run_cli(
        db_url, "user", "set-password", "mei", "--role", "admin", "--stdin", stdin="a long enough password\n"
    )
    assert r.returncode == 0 and "user @mei created (role admin)" in r.stderr, r.stderr
    r = run_cli(db_url, "user", "set-password", "zed", "--stdin", stdin="a long enough password\n")
    assert r.returncode == 2 and "unknown person @zed" in r.stderr
    r = run_cli(db_url, "user", "set-password", "mei", "--stdin", stdin="short\n")
    assert r.returncode == 2 and "use at least 10" in r.stderr
    r = run_cli(db_url, "user", "list")
    assert r.returncode == 0 and "@mei" in r.stdout and "admin" in r.stdout
    with sessions() as s:
        verified = users.verify_password(s, handle="mei", password="a long enough password")
        assert s.get(users.User, verified.user_id).role == "admin"


def test_cli_list_shows_who_is_disabled(db_url, applied_ops, sessions, clock):
    with sessions() as s:
        for handle in ("mei", "hana"):
            users.set_password(
                s, config=applied_ops, handle=handle, password="a long password", now=clock.now()
            )
        users.set_disabled(s, handle="hana", disabled=True, now=clock.now())
        s.commit()
    r = run_cli(db_url, "user", "list")  # a pipe: handle, role, state, created, last login, tab-separated
    rows = {line.split("\t")[0]: line.split("\t") for line in r.stdout.splitlines()}
    assert r.returncode == 0 and rows["@hana"][2] == "disabled 2026-06-24" and rows["@mei"][2] == "active", (
        r.stdout
    )
    listed = json.loads(run_cli(db_url, "user", "list", "--json").stdout)
    assert [(u["handle"], u["disabled_at"] is not None) for u in listed] == [("hana", True), ("mei", False)]
    assert all("password" not in key for u in listed for key in u)
