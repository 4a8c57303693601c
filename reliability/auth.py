"""Check 7, auth matrix: every route of the app, found by walking ``app.routes``, against a real server.

Each route either names the scope it needs (the ``Reader``/``Responder``/``Admin`` dependencies of
the API, ``PageReader``/… of the web pages) or is in :data:`EXEMPT` with the reason — a route that is
neither is a finding. A route exempt because it is signed (page links, provider webhooks) must
refuse an unsigned request. Then, per API route: no token → 401; a token one scope too low → 403 (a
read route, having no lower scope, gets a revoked token → 401); the admin token in the query string
→ 401; an iCal feed token as a bearer → 401. Per page: no session → the login redirect (303), a
bearer token is no session, a user one role too low → 403. Feed tokens open their own calendar and
nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from commandpost.app import create_app
from commandpost.clock import SystemClock
from commandpost.db.engine import transaction
from commandpost.policy import service as policy_service
from commandpost.security import users
from commandpost.settings import Settings
from reliability.figures import Figure, at_least, equals
from reliability.stack import Stack, engine_of, sessions_of, stack

EXEMPT: dict[str, str] = {
    "GET /healthz": "health",
    "GET /readyz": "health",
    "GET /metrics": "Prometheus scrape of commandpost itself",
    "GET /openapi.json": "API description",
    "GET /docs": "API description",
    "GET /redoc": "API description",
    "GET /status": "public status page",
    "GET /status/feed.atom": "public status page feed",
    "GET /status/feed.json": "public status page feed (JSON Feed)",
    "POST /status/subscribe": "public: the status page's email subscription (CSRF cookie, rate-limited)",
    "GET /status/{purpose}/{token}": "signed: a subscriber's confirm or unsubscribe link",
    "POST /status/{purpose}/{token}": "signed: a subscriber's confirm or unsubscribe link",
    "GET /ical/{token}.ics": "iCal feed: its own secret in the URL",
    "POST /v2/enqueue": "intake: the integration key in the body",
    "POST /v2/change/enqueue": "intake: the integration key in the body",
    "POST /api/v1/intake/{source}/{key}": "intake: the integration key in the path",
    "GET /api/v1/heartbeats/{key}": "heartbeat ping: its integration key in the path",
    "POST /api/v1/heartbeats/{key}": "heartbeat ping: its integration key in the path",
    "POST /api/v1/trackers/{tracker}/webhook": "signed: the tracker's X-Hub-Signature(-256), "
    "Linear-Signature or X-Gitlab-Token",
    "GET /": "a redirect to /incidents (which needs a login)",
    "GET /login": "login form",
    "POST /login": "login",
    "POST /logout": "logout (ends whatever session the cookie names)",
    "GET /static": "static files (CSS, JS)",
    "GET /a/{token}": "signed: a one-tap page link (its signed, expiring token in the path)",
    "POST /a/{token}": "signed: a one-tap page link (its signed, expiring token in the path)",
    "POST /hooks/twilio/sms": "signed: Twilio's X-Twilio-Signature",
    "POST /hooks/twilio/status": "signed: Twilio's X-Twilio-Signature",
    "POST /hooks/twilio/voice": "signed: Twilio's X-Twilio-Signature",
    "GET /hooks/vonage/dlr": "signed: Vonage's signature (sig)",
    "POST /hooks/vonage/dlr": "signed: Vonage's signature (sig)",
    "GET /hooks/vonage/inbound": "signed: Vonage's signature (sig)",
    "POST /hooks/vonage/inbound": "signed: Vonage's signature (sig)",
    "POST /hooks/vonage/voice/event": "signed: Vonage's JWT",
    "POST /hooks/vonage/voice/input": "signed: Vonage's JWT",
    "POST /api/v1/slack/commands": "signed: Slack's X-Slack-Signature (404 while Slack is off)",
    "POST /api/v1/slack/events": "signed: Slack's X-Slack-Signature (404 while Slack is off)",
    "POST /api/v1/slack/interactions": "signed: Slack's X-Slack-Signature (404 while Slack is off)",
}
SCOPES = ("read", "responder", "admin")
LOWER = {"responder": "read", "admin": "responder"}
PARAMS = {"number": "INC-1", "name": "payment-platform", "slug": "db-connection-exhaustion", "role": "ops"}
PASSWORD = "reliability horse battery staple"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    kind: str  # api | page | signed | exempt | unprotected
    needs: str | None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _scope_of(dependant: Any) -> tuple[str | None, str | None]:
    """(kind, scope) from its dependencies: ``require_admin`` → api/admin, ``page_read`` → page/read."""
    stack_ = [dependant]
    while stack_:
        node = stack_.pop()
        name = getattr(getattr(node, "call", None), "__name__", "")
        match = re.fullmatch(r"(require|page)_(read|responder|admin)", name)
        if match:
            return ("api" if match.group(1) == "require" else "page"), match.group(2)
        stack_.extend(node.dependencies)
    return None, None


def _routes(routes: list[Any]) -> Iterator[tuple[str, set[str], Any]]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # an included router (FastAPI ≥ 0.165 resolves them lazily)
            for ctx in contexts():
                yield ctx.path, set(ctx.methods or ()), ctx.original_route
        elif isinstance(route, Mount):
            yield route.path, {"GET"}, route
        elif isinstance(route, Route | APIRoute):
            yield route.path, set(route.methods or ()), route


def endpoints(url: str) -> list[Endpoint]:
    """Every (method, path) the app serves, classified."""
    with engine_of(url) as engine:
        app = create_app(Settings(database_url=url, engine_enabled=False), engine=engine, run_engine=False)
        found: dict[str, Endpoint] = {}
        for path, methods, route in _routes(list(app.router.routes)):
            for method in sorted(methods - {"HEAD"}):
                label = f"{method} {path}"
                kind, needs = _scope_of(route.dependant) if isinstance(route, APIRoute) else (None, None)
                if kind is None:
                    reason = EXEMPT.get(label)
                    kind = (
                        "unprotected"
                        if reason is None
                        else "signed"
                        if reason.startswith("signed")
                        else "exempt"
                    )
                found.setdefault(label, Endpoint(method, path, kind, needs))
    return sorted(found.values(), key=lambda e: (e.path, e.method))


def _fill(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return PARAMS.get(name, "1")

    return re.sub(r"\{([a-z_]+)(?::[a-z]+)?\}", value, path)


class Matrix:
    def __init__(self, env: Stack, base: str) -> None:
        self.env, self.base = env, base
        self.tokens = {scope: env.token(scope, person="yuta") for scope in SCOPES}
        self.revoked = env.token("admin", person="yuta")
        self.client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        self.wrong: list[str] = []
        self.checked = 0

    def expect(self, label: str, answer: httpx.Response, *allowed: int) -> None:
        self.checked += 1
        if answer.status_code not in allowed:
            self.wrong.append(f"{label}: {answer.status_code}, expected {'/'.join(map(str, allowed))}")

    def call(self, endpoint: Endpoint, **kw: Any) -> httpx.Response:
        return self.client.request(endpoint.method, _fill(endpoint.path), **kw)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _cookie(jar: httpx.Cookies) -> dict[str, str]:
    """A role's web session as a ``Cookie`` header: one shared client, a session per request (httpx
    deprecates per-request ``cookies=``)."""
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in jar.items())}


def _prepare(m: Matrix) -> tuple[str, str, dict[str, httpx.Cookies]]:
    """An incident (INC-1), two feeds, revoked token, and a logged-in web session per role."""
    admin = _bearer(m.tokens["admin"])
    created = m.client.post(
        "/api/v1/incidents", headers=admin, json={"title": "auth matrix", "severity": "SEV3"}
    )
    assert created.status_code in (200, 201), created.text
    feeds = [
        m.client.post("/api/v1/feeds", headers=admin, json={"person": person}).json()["token"]
        for person in ("hana", "ken")
    ]
    tokens = m.client.get("/api/v1/tokens", headers=admin).json()
    revoked_id = next(t["id"] for t in tokens if m.revoked.startswith(t["prefix"]))
    assert m.client.delete(f"/api/v1/tokens/{revoked_id}", headers=admin).status_code == 200
    with sessions_of(m.env.url) as sessions, transaction(sessions) as s:
        config = policy_service.current_config(s)
        for handle, role in (("yuta", "admin"), ("hana", "responder"), ("mei", "read")):
            users.set_password(
                s, config=config, handle=handle, password=PASSWORD, role=role, now=SystemClock().now()
            )
    cookies = {}
    for handle, role in (("yuta", "admin"), ("hana", "responder"), ("mei", "read")):
        with httpx.Client(base_url=m.base, timeout=30, follow_redirects=False) as browser:
            form = browser.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert csrf, "the login form has no CSRF field"
            answer = browser.post(
                "/login",
                data={"handle": handle, "password": PASSWORD, "csrf_token": csrf.group(1), "next": "/"},
            )
            assert answer.status_code == 303, answer.text
            cookies[role] = browser.cookies
    return feeds[0], feeds[1], cookies


def _csrf(m: Matrix, cookies: httpx.Cookies) -> str:
    page = m.client.get("/incidents", headers=_cookie(cookies))
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return found.group(1) if found else ""


def run(backend: str = "sqlite") -> list[Figure]:
    check = f"7 auth matrix ({backend})"
    with stack(backend) as env:
        server = env.server("auth")
        all_endpoints = endpoints(env.url)
        m = Matrix(env, server.base)
        feed_a, feed_b, cookies = _prepare(m)
        csrf = {role: _csrf(m, jar) for role, jar in cookies.items()}
        for e in all_endpoints:
            if e.kind == "api":
                m.expect(f"{e.label} without a token", m.call(e), 401)
                m.expect(
                    f"{e.label} with the admin token in ?token=",
                    m.call(e, params={"token": m.tokens["admin"]}),
                    401,
                )
                m.expect(f"{e.label} with a feed token", m.call(e, headers=_bearer(feed_a)), 401)
                if e.needs in LOWER:
                    for scope in SCOPES[: SCOPES.index(e.needs or "read")]:
                        m.expect(
                            f"{e.label} with a {scope} token",
                            m.call(e, headers=_bearer(m.tokens[scope])),
                            403,
                        )
                else:
                    m.expect(f"{e.label} with a revoked token", m.call(e, headers=_bearer(m.revoked)), 401)
            elif e.kind == "page":
                m.expect(f"{e.label} without a session", m.call(e), 303, 401)
                m.expect(
                    f"{e.label} with only a bearer token",
                    m.call(e, headers=_bearer(m.tokens["admin"])),
                    303,
                    401,
                )
                if e.needs in LOWER:
                    for role in SCOPES[: SCOPES.index(e.needs or "read")]:
                        headers = {"X-CSRF-Token": csrf[role], **_cookie(cookies[role])}
                        m.expect(
                            f"{e.label} as a {role} user",
                            m.call(e, headers=headers),
                            403,
                        )
            elif e.kind == "signed":
                m.expect(f"{e.label} unsigned", m.call(e), 401, 403, 404)
        m.expect("a feed reads its own calendar", m.client.get(f"/ical/{feed_a}.ics"), 200)
        own, other = m.client.get(f"/ical/{feed_a}.ics").text, m.client.get(f"/ical/{feed_b}.ics").text
        m.expect("a made-up feed token", m.client.get("/ical/cpf_not-a-feed.ics"), 404)
        m.expect("a made-up heartbeat key", m.client.get(f"/api/v1/heartbeats/{'0' * 32}"), 404)
        m.client.close()
    unprotected = [e.label for e in all_endpoints if e.kind == "unprotected"]
    kinds = {k: sum(1 for e in all_endpoints if e.kind == k) for k in ("api", "page", "signed", "exempt")}
    return [
        at_least(
            check,
            "routes enumerated",
            len(all_endpoints),
            50,
            note=", ".join(f"{n} {k}" for k, n in kinds.items()),
        ),
        _listed(
            equals(check, "routes with no scope and no listed exemption", len(unprotected), 0), unprotected
        ),
        _listed(
            equals(check, "requests answered other than the matrix says", len(m.wrong), 0),
            m.wrong,
            extra=f"{m.checked} requests",
        ),
        equals(check, "feeds showing another feed's calendar", int(own == other or "ken" in own.lower()), 0),
    ]


def _listed(figure: Figure, items: list[str], extra: str = "") -> Figure:
    note = extra
    if items:
        note = (note + "; " if note else "") + "e.g. " + "; ".join(items[:8])
    return Figure(figure.check, figure.name, figure.value, figure.target, figure.ok, note)
