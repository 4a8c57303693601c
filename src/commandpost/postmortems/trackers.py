"""The team's tracker at the far end: create an action item's ticket, read its state (GitHub Issues,
GitLab, Jira Cloud, Linear), through each one's documented REST (or GraphQL) API.

Only the shapes live here, no database: :class:`Trackers` turns a title and a body into a
:class:`Ticket` and a stored ticket back into its current :class:`Ticket`. Every failure becomes
one of the project's errors, saying what was asked of which tracker where, never a traceback and
never the token: a refused token or a missing repository is :class:`TrackerFailed` (502), a value
the tracker refuses is :class:`~commandpost.errors.ValidationFailed` (422), a rate limit is
:class:`~commandpost.errors.RateLimited` (429, with the tracker's own wait).

Every request goes through the outbound guard the composition root passes in (``outbound``): the
tracker's address comes from the ops folder, which many people can edit, so it is checked like a
webhook's and the connection goes to the address that was checked.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from commandpost.errors import RateLimited, UpstreamFailed, ValidationFailed
from commandpost.security.redact import redact_text

TRACKERS = ("github", "gitlab", "jira", "linear")
LABELS = {"github": "GitHub", "gitlab": "GitLab", "jira": "Jira", "linear": "Linear"}
TOKEN_VARS = {name: f"COMMANDPOST_{name.upper()}_TOKEN" for name in TRACKERS}
Status = Literal["open", "done", "dropped"]
MAX_ANSWER = 1024 * 1024
SNIPPET = 300
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class TrackerFailed(UpstreamFailed):
    """The tracker could not do what was asked (bad token, no such project, down): 502."""

    code = "tracker_failed"


class OutboundRefused(Exception):
    """The outbound guard will not let a request reach this address."""


@dataclass(frozen=True, slots=True)
class Pinned:
    """Where to connect for a checked URL: ``url`` names the checked IP, ``host`` the Host header and
    ``sni`` the TLS name (the certificate is verified for it)."""

    url: str
    host: str
    sni: str | None


Outbound = Callable[[str], Pinned]


def unguarded(url: str) -> Pinned:
    """No guard: for a caller that already trusts the address (never the server's default)."""
    parts = urlsplit(url)
    return Pinned(url=url, host=parts.netloc, sni=None)


@dataclass(frozen=True, slots=True)
class Ticket:
    tracker: str
    external_id: str
    """What identifies it at the tracker for reads and webhooks: ``owner/repo#12`` (GitHub),
    ``<project id>#3`` (GitLab), ``OPS-24`` (Jira), the issue's UUID (Linear)."""
    key: str
    """What people read: ``acme/payments#12``, ``group/project#3``, ``OPS-24``, ``ENG-123``."""
    url: str
    state: str
    """The tracker's own word for it: open/closed, opened/closed, the Jira status, the Linear state."""
    status: Status


@dataclass(frozen=True, slots=True)
class Reading:
    ticket: Ticket
    pause_until: datetime | None = None
    """GitHub said no budget is left (``X-RateLimit-Remaining: 0``): no more reads before then."""


def clean(text: str, limit: int) -> str:
    """A title or body a tracker accepts: no NUL or control characters (tabs and newlines stay)."""
    return CONTROL.sub(" ", text)[:limit]


def _where(method: str, url: str) -> str:
    parts = urlsplit(url)
    return f"{method} {parts.scheme}://{parts.netloc}{parts.path}"


def _retry_after(response: httpx.Response, now: datetime) -> int:
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return max(1, int(value))
    if value:
        try:
            return max(1, math.ceil((parsedate_to_datetime(value) - now).total_seconds()))
        except (TypeError, ValueError):
            pass
    reset = response.headers.get("x-ratelimit-reset", "").strip()
    if reset.isdigit():
        return max(1, int(reset) - int(now.timestamp()))
    return 60


def _message(response: httpx.Response) -> str:
    """The tracker's own explanation (GitHub/GitLab ``message``/``error``, Jira ``errorMessages`` and
    ``errors``, GraphQL ``errors[].message``), shortened and single-line."""
    try:
        doc = response.json()
    except ValueError:
        text = response.text
    else:
        parts: list[str] = []
        if isinstance(doc, dict):
            for name in ("message", "error", "error_description"):
                if isinstance(doc.get(name), str | dict | list):
                    parts.append(str(doc[name]))
            parts += [str(m) for m in doc.get("errorMessages") or [] if m]
            if isinstance(doc.get("errors"), dict):
                parts += [f"{k}: {v}" for k, v in doc["errors"].items()]
            elif isinstance(doc.get("errors"), list):
                parts += [str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in doc["errors"]]
        text = "; ".join(parts) or response.text
    return " ".join(CONTROL.sub(" ", text).split())[:SNIPPET]


class Trackers:
    """The HTTP side. ``tokens``: tracker → its API token (empty: not configured)."""

    def __init__(
        self,
        *,
        tokens: Mapping[str, str],
        outbound: Outbound,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.tokens = dict(tokens)
        self.outbound = outbound
        self.timeout = timeout
        self.transport = transport

    # -- HTTP ----------------------------------------------------------------------------------

    def _token(self, tracker: str) -> str:
        token = self.tokens.get(tracker, "")
        if not token:
            raise TrackerFailed(
                f"{LABELS[tracker]} has no token: set {TOKEN_VARS[tracker]} in the server's environment",
                details={"tracker": tracker, "variable": TOKEN_VARS[tracker]},
            )
        return token

    def _call(
        self,
        tracker: str,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        body: Any = None,
        now: datetime,
        what: str,
        graphql: bool = False,
    ) -> httpx.Response:
        label, where = LABELS[tracker], _where(method, url)
        details = {"tracker": tracker, "request": where}
        try:
            pinned = self.outbound(url)
        except OutboundRefused as exc:
            raise TrackerFailed(f"{label}: {exc}", details=details) from None
        extensions = {"sni_hostname": pinned.sni} if pinned.sni else {}
        try:
            with httpx.Client(
                timeout=self.timeout, follow_redirects=False, trust_env=False, transport=self.transport
            ) as client:
                response = client.request(
                    method,
                    pinned.url,
                    json=body,
                    headers={**headers, "Host": pinned.host, "User-Agent": "commandpost"},
                    extensions=extensions,
                )
        except httpx.TimeoutException:
            raise TrackerFailed(
                f"{label} did not answer {where} within {self.timeout:g}s", details=details
            ) from None
        except httpx.HTTPError as exc:
            raise TrackerFailed(
                f"cannot reach {label} for {where}: {type(exc).__name__}", details=details
            ) from None
        if len(response.content) > MAX_ANSWER:
            raise TrackerFailed(
                f"{label} answered {where} with more than {MAX_ANSWER} bytes", details=details
            )
        if graphql and response.status_code in (200, 400) and b'"errors"' in response.content:
            return response  # GraphQL errors[] (HTTP 200 or 400): the caller reads their codes
        self._raise_for(tracker, response, where=where, what=what, now=now)
        return response

    def _raise_for(
        self, tracker: str, response: httpx.Response, *, where: str, what: str, now: datetime
    ) -> None:
        status = response.status_code
        if status < 300:
            return
        label = LABELS[tracker]
        said = redact_text(_message(response))
        for token in (t for t in self.tokens.values() if t):
            said = said.replace(token, "[token]")
        details = {"tracker": tracker, "request": where, "status": status, "said": said}
        exhausted = response.headers.get("x-ratelimit-remaining") == "0"
        if status == 429 or (status == 403 and (exhausted or "retry-after" in response.headers)):
            wait = _retry_after(response, now)
            raise RateLimited(
                f"{label} is rate limiting {where}: try again in {wait}s", retry_after=wait, details=details
            )
        if status == 401:
            raise TrackerFailed(
                f"{label} refused the token (401) for {where}: check {TOKEN_VARS[tracker]}", details=details
            )
        if status == 403:
            raise TrackerFailed(
                f"{label} forbids {what} (403) at {where}: the token lacks access ({said})", details=details
            )
        if status == 404:
            raise TrackerFailed(
                f"{label} found nothing at {where} (404): check {what} in commandpost.yaml's trackers "
                "and that the token can see it",
                details=details,
            )
        if status in (400, 422):
            raise ValidationFailed(f"{label} refused {what} ({status}): {said}", details=details)
        raise TrackerFailed(f"{label} failed {what} (HTTP {status}) at {where}: {said}", details=details)

    @staticmethod
    def _json(tracker: str, response: httpx.Response, where: str) -> dict[str, Any]:
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise TrackerFailed(
                f"{LABELS[tracker]} answered {where} with something that is not a JSON object",
                details={"tracker": tracker, "request": where},
            )
        return doc

    # -- create --------------------------------------------------------------------------------

    def create(self, tracker: str, config: Any, *, title: str, body: str, now: datetime) -> Ticket:
        """A new ticket in ``tracker`` configured by ``config`` (the ops file's section)."""
        title, body = clean(title, 250), clean(body, 20_000)
        make = {"github": self._github_create, "gitlab": self._gitlab_create, "jira": self._jira_create}
        if tracker == "linear":
            return self._linear_create(config, title=title, body=body, now=now)
        return make[tracker](config, title=title, body=body, now=now)

    def read(self, tracker: str, config: Any, external_id: str, *, now: datetime) -> Reading:
        """The ticket's current state."""
        read = {
            "github": self._github_read,
            "gitlab": self._gitlab_read,
            "jira": self._jira_read,
            "linear": self._linear_read,
        }
        return read[tracker](config, external_id, now=now)

    # GitHub Issues: POST/GET /repos/{owner}/{repo}/issues[/{number}]

    def _github_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token('github')}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def _github_create(self, config: Any, *, title: str, body: str, now: datetime) -> Ticket:
        url = f"{config.base_url.rstrip('/')}/repos/{config.repo}/issues"
        doc: dict[str, Any] = {"title": title, "body": body}
        if config.labels:
            doc["labels"] = list(config.labels)
        response = self._call(
            "github",
            "POST",
            url,
            headers=self._github_headers(),
            body=doc,
            now=now,
            what=f"repo {config.repo}",
        )
        return _github_ticket(config.repo, self._json("github", response, url))

    def _github_read(self, config: Any, external_id: str, *, now: datetime) -> Reading:
        repo, _, number = external_id.rpartition("#")
        url = f"{config.base_url.rstrip('/')}/repos/{repo}/issues/{number}"
        response = self._call(
            "github", "GET", url, headers=self._github_headers(), now=now, what=f"issue {repo}#{number}"
        )
        pause = None
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            pause = datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else now + timedelta(hours=1)
        return Reading(_github_ticket(repo, self._json("github", response, url)), pause_until=pause)

    # GitLab REST v4: POST/GET /api/v4/projects/:id/issues[/:iid]

    def _gitlab_headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self._token("gitlab")}

    def _gitlab_create(self, config: Any, *, title: str, body: str, now: datetime) -> Ticket:
        url = f"{config.base_url.rstrip('/')}/api/v4/projects/{quote(config.project, safe='')}/issues"
        doc: dict[str, Any] = {"title": title, "description": body}
        if config.labels:
            doc["labels"] = ",".join(config.labels)
        response = self._call(
            "gitlab",
            "POST",
            url,
            headers=self._gitlab_headers(),
            body=doc,
            now=now,
            what=f"project {config.project}",
        )
        return _gitlab_ticket(config.project, self._json("gitlab", response, url))

    def _gitlab_read(self, config: Any, external_id: str, *, now: datetime) -> Reading:
        project_id, _, iid = external_id.rpartition("#")
        url = f"{config.base_url.rstrip('/')}/api/v4/projects/{project_id}/issues/{iid}"
        response = self._call(
            "gitlab",
            "GET",
            url,
            headers=self._gitlab_headers(),
            now=now,
            what=f"issue {config.project}#{iid}",
        )
        return Reading(_gitlab_ticket(config.project, self._json("gitlab", response, url)))

    # Jira Cloud REST v3: POST /rest/api/3/issue (ADF description), GET /rest/api/3/issue/{key}

    def _jira_headers(self, config: Any) -> dict[str, str]:
        pair = f"{config.email}:{self._token('jira')}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}", "Accept": "application/json"}

    def _jira_create(self, config: Any, *, title: str, body: str, now: datetime) -> Ticket:
        base = config.base_url.rstrip("/")
        paragraphs = [p for p in body.split("\n\n") if p.strip()] or [title]
        description = {
            "type": "doc",
            "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs],
        }
        fields: dict[str, Any] = {
            "project": {"key": config.project},
            "issuetype": {"name": config.issue_type},
            "summary": title,
            "description": description,
        }
        if config.labels:
            fields["labels"] = list(config.labels)
        url = f"{base}/rest/api/3/issue"
        response = self._call(
            "jira",
            "POST",
            url,
            headers=self._jira_headers(config),
            body={"fields": fields},
            now=now,
            what=f"project {config.project}",
        )
        doc = self._json("jira", response, url)
        key = str(doc.get("key") or "")
        if not key:
            raise TrackerFailed("Jira answered the create without an issue key", details={"tracker": "jira"})
        return Ticket("jira", key, key, f"{base}/browse/{key}", "new", "open")

    def _jira_read(self, config: Any, external_id: str, *, now: datetime) -> Reading:
        base = config.base_url.rstrip("/")
        url = f"{base}/rest/api/3/issue/{quote(external_id, safe='')}?fields=status,resolution"
        response = self._call(
            "jira", "GET", url, headers=self._jira_headers(config), now=now, what=f"issue {external_id}"
        )
        doc = self._json("jira", response, url)
        status = ((doc.get("fields") or {}).get("status")) or {}
        return Reading(jira_ticket(base, str(doc.get("key") or external_id), status))

    # Linear GraphQL: issueCreate, issue(id:)

    def _linear(
        self, config: Any, query: str, variables: dict[str, Any], *, now: datetime, what: str
    ) -> dict[str, Any]:
        url = f"{config.base_url.rstrip('/')}/graphql"
        response = self._call(
            "linear",
            "POST",
            url,
            headers={"Authorization": self._token("linear")},
            body={"query": query, "variables": variables},
            now=now,
            what=what,
            graphql=True,
        )
        doc = self._json("linear", response, url)
        if doc.get("errors"):
            said = _message(response)
            codes = " ".join(
                str((e.get("extensions") or {}).get("code", "")) for e in doc["errors"] if isinstance(e, dict)
            ).upper()
            details = {"tracker": "linear", "request": _where("POST", url), "said": said}
            if "AUTHENTICATION" in codes:
                raise TrackerFailed(
                    f"Linear refused the token: check {TOKEN_VARS['linear']}", details=details
                )
            if "RATELIMITED" in codes:
                raise RateLimited(f"Linear is rate limiting {what}", retry_after=60, details=details)
            raise ValidationFailed(f"Linear refused {what}: {said}", details=details)
        data = doc.get("data")
        if not isinstance(data, dict):
            raise TrackerFailed(f"Linear answered {what} without data", details={"tracker": "linear"})
        return data

    def _linear_create(self, config: Any, *, title: str, body: str, now: datetime) -> Ticket:
        query = (
            "mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) "
            "{ success issue { id identifier url state { name type } } } }"
        )
        data = self._linear(
            config,
            query,
            {"input": {"teamId": config.team_id, "title": title, "description": body}},
            now=now,
            what=f"a ticket in team {config.team_id}",
        )
        made = data.get("issueCreate") or {}
        if not made.get("success") or not isinstance(made.get("issue"), dict):
            raise TrackerFailed(
                "Linear did not create the ticket (success: false)", details={"tracker": "linear"}
            )
        return linear_ticket(made["issue"])

    def _linear_read(self, config: Any, external_id: str, *, now: datetime) -> Reading:
        query = "query Issue($id: String!) { issue(id: $id) { id identifier url state { name type } } }"
        data = self._linear(config, query, {"id": external_id}, now=now, what=f"issue {external_id}")
        if not isinstance(data.get("issue"), dict):
            raise TrackerFailed(f"Linear has no issue {external_id}", details={"tracker": "linear"})
        return Reading(linear_ticket(data["issue"]))


# ---------------------------------------------------------------- the shapes, to a Ticket


def _need(doc: dict[str, Any], name: str, tracker: str) -> Any:
    value = doc.get(name)
    if value in (None, ""):
        raise TrackerFailed(f"{LABELS[tracker]}'s answer has no {name!r}", details={"tracker": tracker})
    return value


def github_status(state: str, reason: str | None) -> Status:
    if state != "closed":
        return "open"
    return "dropped" if reason == "not_planned" else "done"


def _github_ticket(repo: str, doc: dict[str, Any]) -> Ticket:
    number = _need(doc, "number", "github")
    state = str(doc.get("state") or "open")
    return Ticket(
        "github",
        f"{repo.lower()}#{number}",
        f"{repo}#{number}",
        str(_need(doc, "html_url", "github")),
        state,
        github_status(state, doc.get("state_reason")),
    )


def _gitlab_ticket(project: str, doc: dict[str, Any]) -> Ticket:
    iid, project_id = _need(doc, "iid", "gitlab"), _need(doc, "project_id", "gitlab")
    state = str(doc.get("state") or "opened")
    return Ticket(
        "gitlab",
        f"{project_id}#{iid}",
        f"{project}#{iid}",
        str(_need(doc, "web_url", "gitlab")),
        state,
        "done" if state == "closed" else "open",
    )


def jira_ticket(base: str, key: str, status: dict[str, Any]) -> Ticket:
    category = str((status.get("statusCategory") or {}).get("key") or "")
    name = str(status.get("name") or category or "unknown")
    return Ticket("jira", key, key, f"{base}/browse/{key}", name, "done" if category == "done" else "open")


def linear_status(kind: str) -> Status:
    return "done" if kind == "completed" else "dropped" if kind == "canceled" else "open"


def linear_ticket(doc: dict[str, Any]) -> Ticket:
    found = doc.get("state")
    state: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = str(state.get("type") or "")
    return Ticket(
        "linear",
        str(_need(doc, "id", "linear")),
        str(doc.get("identifier") or doc["id"]),
        str(doc.get("url") or ""),
        str(state.get("name") or kind or "unknown"),
        linear_status(kind),
    )
