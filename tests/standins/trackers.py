"""Local GitHub Issues, GitLab Issues, Jira Cloud and Linear servers on 127.0.0.1 for tests: each
follows its vendor's documented requests, answers and errors (the far end, not our code).

What each follows (the vendors' REST/GraphQL references, as summarised per API below):

- **GitHub REST** ``POST /repos/{owner}/{repo}/issues`` (``Authorization: Bearer`` or ``token``),
  ``GET``/``PATCH /repos/{owner}/{repo}/issues/{number}``: 201/200 with the issue (``id``,
  ``node_id``, ``number``, ``html_url``, ``state`` open|closed, ``state_reason``, ``title``,
  ``body``, ``labels`` as objects). Errors as GitHub writes them: 401 ``{"message": "Bad
  credentials"}``, 404 ``{"message": "Not Found"}`` (an unknown repo or one the token cannot see),
  422 ``{"message": "Validation Failed", "errors": [{"resource": "Issue", "code":
  "missing_field", "field": "title"}]}`` (no title, a body over 65,536 characters). Every answer
  carries ``X-RateLimit-Limit``/``-Remaining``/``-Reset``; an exhausted budget is 403 with
  ``X-RateLimit-Remaining: 0``. Webhook ``issues`` (``closed``/``reopened``) with
  ``X-GitHub-Event``, ``X-GitHub-Delivery`` and ``X-Hub-Signature-256: sha256=<hex HMAC>``.
- **GitLab REST v4** ``POST /api/v4/projects/:id/issues`` (``:id`` numeric or URL-encoded path;
  ``PRIVATE-TOKEN`` header), ``GET``/``PUT /api/v4/projects/:id/issues/:iid`` (``state_event``
  close|reopen): ``id``, ``iid``, ``project_id``, ``web_url``, ``state`` opened|closed. Errors: 401
  ``{"message": "401 Unauthorized"}``, 404 ``{"message": "404 Project Not Found"}``, 400
  ``{"error": "title is missing"}``. Webhook "Issue Hook" with ``X-Gitlab-Token`` (the secret),
  ``X-Gitlab-Event-UUID``, ``X-Gitlab-Webhook-UUID`` and (GitLab 17.4+) ``Idempotency-Key``, the
  same on the delivery's retries.
- **Jira Cloud REST v3** ``POST /rest/api/3/issue`` (Basic ``email:api_token``; the description
  must be an Atlassian Document, else 400), 201 ``{"id", "key", "self"}``; ``GET
  /rest/api/3/issue/{key}`` with ``fields.status`` (``name``, ``statusCategory.key``);
  ``GET``/``POST /rest/api/3/issue/{key}/transitions`` (a fixed table: 11 To Do, 21 In Progress,
  31 Done; 204). Errors: 401 (plain text "Client must be authenticated to access this resource."),
  400 ``{"errorMessages": [], "errors": {"project": "valid project is required"}}``, 404
  ``{"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors":
  {}}``. Webhook ``jira:issue_updated`` with a status ``changelog``, ``X-Hub-Signature`` and
  ``X-Atlassian-Webhook-Identifier`` (the same on the delivery's retries).
- **Linear GraphQL** ``POST /graphql`` (``Authorization: <API key>``, no Bearer):
  ``issueCreate(input: {teamId, title, description})`` → ``{success, issue {id identifier url
  state {name type}}}``, ``issue(id:)``, ``issueUpdate(id:, input: {stateId})``. Errors in GraphQL's
  ``errors[]`` with ``extensions.code`` (``AUTHENTICATION_ERROR``, ``RATELIMITED``,
  ``INVALID_INPUT``) — the HTTP status of those (400 here) is UNCONFIRMED in Linear's public docs; a
  client must read the body either way. Webhook ``type: "Issue"``, ``action: "update"``, ``data``,
  ``webhookTimestamp`` (ms) with ``Linear-Signature: <hex HMAC>`` and ``Linear-Delivery`` (its id).

A slow tracker: with ``hold`` set, each request releases ``arrived`` once and waits for ``hold``
to be set before it is answered. Scripted failures (:meth:`TrackerStandIn.fail`): the next N
requests answer a given status in the vendor's shape (429 with ``Retry-After``, 500, 503).
``received`` records every request (the tests assert no token leaks and what was sent). A body over
``BODY_LIMIT`` is refused unread with 413.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

BODY_LIMIT = 1024 * 1024
GITHUB_TOKEN = "ghp_standin0000000000000000000000000021"
GITLAB_TOKEN = "glpat-standin00000000021"
JIRA_EMAIL, JIRA_TOKEN = "bot@example.com", "ATATT3xstandin0000000021"
LINEAR_TOKEN = "lin_api_standin000000000000000000000021"
SECRETS = {
    "github": "gh-webhook-secret-21",
    "gitlab": "gl-webhook-token-21",
    "jira": "jira-webhook-secret-21",
    "linear": "lin_wh_secret_21",
}
JIRA_TRANSITIONS = {
    "11": ("To Do", "new"),
    "21": ("In Progress", "indeterminate"),
    "31": ("Done", "done"),
}
LINEAR_STATES = {
    "todo": ("Todo", "unstarted"),
    "doing": ("In Progress", "started"),
    "done": ("Done", "completed"),
    "canceled": ("Canceled", "canceled"),
}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class TrackerStandIn:
    kind: str
    server: ThreadingHTTPServer | None = None
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    failures: list[Answer] = field(default_factory=list)
    rate_remaining: int = 5000
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    revoked: bool = False
    """True: the token the tests use is no longer valid (the vendor's 401 to every request)."""
    projects: dict[str, int] = field(default_factory=dict)
    """what exists: a GitHub repo or GitLab project path → its numeric id; a Jira key; a Linear team"""
    hold: threading.Event | None = None
    """Not None: every request waits for it to be set before it is answered (a slow tracker)."""
    arrived: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    """Released once by each request that arrives while ``hold`` is not None."""

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def fail(self, status: int, times: int = 1, *, retry_after: int | None = None) -> None:
        """The next ``times`` requests answer ``status`` in the vendor's error shape."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        body = self._error_body(status)
        with self.lock:
            self.failures += [Answer(status, body, headers) for _ in range(times)]

    def _error_body(self, status: int) -> Any:
        text = {
            429: "rate limited",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
        }
        said = text.get(status, f"error {status}")
        if self.kind == "jira":
            return {"errorMessages": [said], "errors": {}}
        if self.kind == "gitlab":
            return {"message": f"{status} {said}"}
        if self.kind == "linear":
            return {"errors": [{"message": said, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
        return {"message": said}

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if self.hold is not None:
            self.arrived.release()
            self.hold.wait(timeout=30)
        with self.lock:
            self.received.append(Received(method, path, headers, body))
            if self.failures:
                return self.failures.pop(0)
            route = getattr(self, f"_{self.kind}")
            answer: Answer = route(method, path, {k.lower(): v for k, v in headers.items()}, body)
            return answer

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None

    # -- GitHub ---------------------------------------------------------------------------------

    def _github_headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(max(0, self.rate_remaining)),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Resource": "core",
        }

    def _github(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token != GITHUB_TOKEN or self.revoked:
            return Answer(
                401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
            )
        self.rate_remaining -= 1
        rate = self._github_headers()
        if self.rate_remaining < 0:
            return Answer(403, {"message": "API rate limit exceeded"}, rate)
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues(?:/(\d+))?", urlsplit(path).path)
        if match is None or match.group(1).lower() not in self.projects:
            return Answer(404, {"message": "Not Found"}, rate)
        repo, number = match.group(1), match.group(2)
        if number is None and method == "POST":
            doc = self._json(body)
            title = doc.get("title") if isinstance(doc, dict) else None
            if not isinstance(title, str) or not title.strip():
                errors = [{"resource": "Issue", "code": "missing_field", "field": "title"}]
                return Answer(422, {"message": "Validation Failed", "errors": errors}, rate)
            if len(str(doc.get("body") or "")) > 65536:
                errors = [
                    {"resource": "Issue", "code": "custom", "field": "body", "message": "body is too long"}
                ]
                return Answer(422, {"message": "Validation Failed", "errors": errors}, rate)
            n = next(self.counter)
            issue = {
                "id": 1000 + n,
                "node_id": f"I_kw{n:08d}",
                "number": n,
                "url": f"{self.url}/repos/{repo}/issues/{n}",
                "html_url": f"https://github.com/{repo}/issues/{n}",
                "title": title,
                "body": doc.get("body"),
                "state": "open",
                "state_reason": None,
                "labels": [{"name": label} for label in doc.get("labels") or []],
                "closed_at": None,
            }
            self.issues[f"{repo.lower()}#{n}"] = issue
            return Answer(201, issue, rate)
        issue = self.issues.get(f"{repo.lower()}#{number}")
        if issue is None:
            return Answer(404, {"message": "Not Found"}, rate)
        if method == "PATCH":
            doc = self._json(body) or {}
            if doc.get("state") in ("open", "closed") and doc["state"] != issue["state"]:
                issue["state"] = doc["state"]
                issue["state_reason"] = doc.get("state_reason") or (
                    "completed" if doc["state"] == "closed" else "reopened"
                )
        return Answer(200, issue, rate)

    # -- GitLab ---------------------------------------------------------------------------------

    def _gitlab(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if headers.get("private-token") != GITLAB_TOKEN or self.revoked:
            return Answer(401, {"message": "401 Unauthorized"})
        match = re.fullmatch(r"/api/v4/projects/([^/]+)/issues(?:/(\d+))?", urlsplit(path).path)
        if match is None:
            return Answer(404, {"error": "404 Not Found"})
        ident, iid = unquote(match.group(1)), match.group(2)
        project_id = self.projects.get(ident) if not ident.isdigit() else int(ident)
        path_of = {v: k for k, v in self.projects.items()}
        if project_id is None or project_id not in path_of:
            return Answer(404, {"message": "404 Project Not Found"})
        if iid is None and method == "POST":
            doc = self._json(body)
            title = doc.get("title") if isinstance(doc, dict) else None
            if not isinstance(title, str) or not title.strip():
                return Answer(400, {"error": "title is missing"})
            n = next(self.counter)
            issue = {
                "id": 5000 + n,
                "iid": n,
                "project_id": project_id,
                "title": title,
                "description": doc.get("description"),
                "state": "opened",
                "labels": [x for x in str(doc.get("labels") or "").split(",") if x],
                "web_url": f"https://gitlab.example.com/{path_of[project_id]}/-/issues/{n}",
                "closed_at": None,
            }
            self.issues[f"{project_id}#{n}"] = issue
            return Answer(201, issue)
        issue = self.issues.get(f"{project_id}#{iid}")
        if issue is None:
            return Answer(404, {"message": "404 Not found"})
        if method == "PUT":
            event = (self._json(body) or {}).get("state_event")
            issue["state"] = {"close": "closed", "reopen": "opened"}.get(event, issue["state"])
        return Answer(200, issue)

    # -- Jira -------------------------------------------------------------------------------------

    def _jira(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        expected = "Basic " + base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
        if headers.get("authorization") != expected or self.revoked:
            return Answer(401, b"Client must be authenticated to access this resource.")
        parts = urlsplit(path)
        if parts.path == "/rest/api/3/issue" and method == "POST":
            doc = self._json(body)
            fields = doc.get("fields") if isinstance(doc, dict) else None
            if not isinstance(fields, dict):
                return Answer(
                    400, {"errorMessages": ["No content to map to Object due to end of input"], "errors": {}}
                )
            errors: dict[str, str] = {}
            project = (fields.get("project") or {}).get("key")
            if project not in self.projects:
                errors["project"] = "valid project is required"
            if not str(fields.get("summary") or "").strip():
                errors["summary"] = "You must specify a summary of the issue."
            elif len(fields["summary"]) > 255:
                errors["summary"] = "Summary must be less than 255 characters."
            description = fields.get("description")
            if description is not None and not (
                isinstance(description, dict)
                and description.get("type") == "doc"
                and description.get("version") == 1
            ):
                errors["description"] = (
                    "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                )
            if errors:
                return Answer(400, {"errorMessages": [], "errors": errors})
            n = next(self.counter)
            key = f"{project}-{n}"
            self.issues[key] = {"id": str(10000 + n), "key": key, "status": "11", "fields": fields}
            return Answer(
                201, {"id": str(10000 + n), "key": key, "self": f"{self.url}/rest/api/3/issue/{10000 + n}"}
            )
        match = re.fullmatch(r"/rest/api/3/issue/([A-Z][A-Z0-9_]*-\d+)(/transitions)?", parts.path)
        issue = self.issues.get(match.group(1)) if match else None
        if issue is None:
            missing = "Issue does not exist or you do not have permission to see it."
            return Answer(404, {"errorMessages": [missing], "errors": {}})
        if match and match.group(2):
            if method == "POST":
                wanted = str(((self._json(body) or {}).get("transition") or {}).get("id"))
                if wanted not in JIRA_TRANSITIONS:
                    return Answer(
                        400,
                        {
                            "errorMessages": [f"Transition id '{wanted}' is not valid for this issue."],
                            "errors": {},
                        },
                    )
                issue["status"] = wanted
                return Answer(204)
            listed = [
                {
                    "id": tid,
                    "name": name,
                    "to": {"name": name, "statusCategory": {"key": cat}},
                    "isAvailable": True,
                }
                for tid, (name, cat) in JIRA_TRANSITIONS.items()
            ]
            return Answer(200, {"transitions": listed})
        return Answer(
            200, {"id": issue["id"], "key": issue["key"], "fields": {"status": self.jira_status(issue)}}
        )

    @staticmethod
    def jira_status(issue: dict[str, Any]) -> dict[str, Any]:
        name, category = JIRA_TRANSITIONS[issue["status"]]
        return {
            "id": f"1000{issue['status']}",
            "name": name,
            "statusCategory": {"key": category, "name": name},
        }

    # -- Linear -----------------------------------------------------------------------------------

    def _linear(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if urlsplit(path).path != "/graphql" or method != "POST":
            return Answer(404, {"errors": [{"message": "Not found"}]})
        if headers.get("authorization") != LINEAR_TOKEN or self.revoked:
            auth = {"code": "AUTHENTICATION_ERROR", "type": "authentication error"}
            return Answer(
                400,
                {"errors": [{"message": "Authentication required, not authenticated", "extensions": auth}]},
            )
        doc = self._json(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("query"), str):
            return Answer(
                400,
                {
                    "errors": [
                        {
                            "message": "Must provide query string.",
                            "extensions": {"code": "GRAPHQL_PARSE_FAILED"},
                        }
                    ]
                },
            )
        variables = doc.get("variables") or {}
        query = doc["query"]
        if "issueCreate" in query:
            given = variables.get("input") or {}
            if given.get("teamId") not in self.projects:
                invalid = {"code": "INVALID_INPUT", "userPresentableMessage": "Team not found"}
                return Answer(
                    200,
                    {
                        "data": None,
                        "errors": [{"message": "Argument Validation Error", "extensions": invalid}],
                    },
                )
            if not str(given.get("title") or "").strip():
                invalid = {"code": "INVALID_INPUT", "userPresentableMessage": "Title can't be empty"}
                return Answer(
                    200,
                    {
                        "data": None,
                        "errors": [{"message": "Argument Validation Error", "extensions": invalid}],
                    },
                )
            n = next(self.counter)
            issue_id = str(uuid.uuid4())
            self.issues[issue_id] = {
                "id": issue_id,
                "identifier": f"ENG-{n}",
                "url": f"https://linear.app/example/issue/ENG-{n}",
                "title": given["title"],
                "state": "todo",
            }
            return Answer(
                200, {"data": {"issueCreate": {"success": True, "issue": self.linear_issue(issue_id)}}}
            )
        if "issue(" in query:
            issue_id = str(variables.get("id"))
            if issue_id not in self.issues:
                missing = {"code": "ENTITY_NOT_FOUND", "userPresentableMessage": "Issue not found"}
                return Answer(
                    200,
                    {"data": None, "errors": [{"message": "Entity not found: Issue", "extensions": missing}]},
                )
            return Answer(200, {"data": {"issue": self.linear_issue(issue_id)}})
        return Answer(
            400,
            {
                "errors": [
                    {"message": "Cannot query field", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}
                ]
            },
        )

    def linear_issue(self, issue_id: str) -> dict[str, Any]:
        issue = self.issues[issue_id]
        name, kind = LINEAR_STATES[issue["state"]]
        found = {k: issue[k] for k in ("id", "identifier", "url", "title")}
        return {**found, "state": {"id": f"state-{issue['state']}", "name": name, "type": kind}}

    # -- what happens at the tracker, and the webhook it sends ---------------------------------

    def move(self, key: str, to: str, *, reason: str | None = None) -> tuple[dict[str, str], bytes]:
        """Change a ticket's state as a person would in the tracker; returns the signed webhook
        delivery (headers, raw body) the tracker then sends. ``to``: GitHub open|closed, GitLab
        close|reopen, Jira a transition id, Linear todo|doing|done|canceled."""
        with self.lock:
            issue = self.issues[key]
            if self.kind == "github":
                issue["state"] = to
                issue["state_reason"] = reason or ("completed" if to == "closed" else "reopened")
                repo = key.rpartition("#")[0]
                doc: dict[str, Any] = {
                    "action": "closed" if to == "closed" else "reopened",
                    "issue": issue,
                    "repository": {"full_name": repo, "name": repo.split("/")[1]},
                    "sender": {"login": "alice"},
                }
                raw = json.dumps(doc).encode()
                return {
                    "X-GitHub-Event": "issues",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": "sha256=" + _sign(SECRETS["github"], raw),
                    "Content-Type": "application/json",
                }, raw
            if self.kind == "gitlab":
                issue["state"] = "closed" if to == "close" else "opened"
                path_of = {v: k for k, v in self.projects.items()}
                doc = {
                    "object_kind": "issue",
                    "event_type": "issue",
                    "user": {"username": "alice"},
                    "project": {
                        "id": issue["project_id"],
                        "path_with_namespace": path_of[issue["project_id"]],
                    },
                    "object_attributes": {**issue, "action": to},
                    "changes": {},
                }
                raw = json.dumps(doc).encode()
                return {
                    "X-Gitlab-Event": "Issue Hook",
                    "X-Gitlab-Event-UUID": str(uuid.uuid4()),
                    "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
                    "Idempotency-Key": str(uuid.uuid4()),
                    "X-Gitlab-Token": SECRETS["gitlab"],
                    "Content-Type": "application/json",
                }, raw
            if self.kind == "jira":
                before = JIRA_TRANSITIONS[issue["status"]][0]
                issue["status"] = to
                doc = {
                    "timestamp": int(time.time() * 1000),
                    "webhookEvent": "jira:issue_updated",
                    "issue_event_type_name": "issue_generic",
                    "issue": {"id": issue["id"], "key": key, "fields": {"status": self.jira_status(issue)}},
                    "changelog": {
                        "items": [
                            {"field": "status", "fromString": before, "toString": JIRA_TRANSITIONS[to][0]}
                        ]
                    },
                }
                raw = json.dumps(doc).encode()
                return {
                    "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
                    "X-Hub-Signature": "sha256=" + _sign(SECRETS["jira"], raw),
                    "Content-Type": "application/json",
                }, raw
            issue["state"] = to
            doc = {
                "action": "update",
                "type": "Issue",
                "createdAt": "2026-06-24T03:00:00.000Z",
                "data": self.linear_issue(key),
                "updatedFrom": {"stateId": "state-todo"},
                "url": issue["url"],
                "webhookTimestamp": self.webhook_ms,
            }
            raw = json.dumps(doc).encode()
            return {
                "Linear-Delivery": str(uuid.uuid4()),
                "Linear-Event": "Issue",
                "Linear-Signature": _sign(SECRETS["linear"], raw),
                "Content-Type": "application/json",
            }, raw

    webhook_ms: int = 0
    """Linear's ``webhookTimestamp`` for the next delivery (a test sets it from its clock)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    standin: TrackerStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > BODY_LIMIT:
            self._write(Answer(413, {"message": "request entity too large"}))
            self.close_connection = True
            return
        body = self.rfile.read(length)
        self._write(self.standin.handle(self.command, self.path, dict(self.headers.items()), body))

    def _write(self, answer: Answer) -> None:
        raw = (
            answer.body
            if isinstance(answer.body, bytes)
            else b""
            if answer.body is None
            else json.dumps(answer.body).encode()
        )
        self.send_response(answer.status)
        content_type = "text/plain" if isinstance(answer.body, bytes) else "application/json; charset=utf-8"
        self.send_header("Content-Type", content_type)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_PATCH = _serve


def start(kind: str, projects: dict[str, int]) -> TrackerStandIn:
    """A running stand-in of ``kind`` (github, gitlab, jira, linear) knowing ``projects`` (repos,
    project paths with their ids, Jira project keys, Linear team ids); ``close()`` it when done."""
    handler: type[_Handler] = type(f"{kind}Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    standin = TrackerStandIn(
        kind, server, projects={k.lower() if kind == "github" else k: v for k, v in projects.items()}
    )
    handler.standin = standin
    threading.Thread(target=server.serve_forever, args=(0.05,), name=f"{kind}-standin", daemon=True).start()
    return standin
