"""The OpenAPI document as the server behaves: who may call what, and the errors it really answers.

FastAPI's document knows the routes and their success shapes, not the rest. Here, once per app:

- ``operationId`` from the route's name in camelCase (``list_incidents`` → ``listIncidents``);
  :data:`OPERATION_IDS` names those whose function name says too little (``show`` → ``getIncident``).
- the ``bearer`` security scheme; each operation's ``security`` says whether it needs a token
  (found as the auth matrix finds it: the ``require_<scope>`` dependency) or not (``[]``: health,
  the status feeds, intake with its key, signed webhooks, iCal feeds with their own secret).
- the errors each operation can answer, all in the one :class:`Error` shape the error handlers send
  (``commandpost.app``): 401 (with ``WWW-Authenticate: Bearer``) and 403 where a token is needed,
  404 where a path names something, 400/413/422 where the request carries input, 409 where it
  changes state, 503 wherever the database is read; plus what a route documents itself. FastAPI's
  ``HTTPValidationError`` (``{"detail": [...]}``), which the server never sends, is gone.

``tests/integration/test_openapi_honest.py`` validates the document and checks what schemathesis
observes against it.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

OPERATION_IDS: dict[str, str] = {
    "GET /healthz": "getHealth",
    "GET /readyz": "getReadiness",
    "GET /metrics": "getMetrics",
    "POST /v2/enqueue": "enqueuePagerDutyEvent",
    "POST /v2/change/enqueue": "enqueuePagerDutyChangeEvent",
    "POST /api/v1/intake/{source}/{key}": "receiveAlerts",
    "GET /api/v1/incidents/{number}/changes": "listIncidentChanges",
    "GET /api/v1/incidents/{number}/alerts": "listIncidentAlerts",
    "GET /api/v1/whoami": "whoAmI",
    "GET /api/v1/ops/revisions": "listOpsRevisions",
    "GET /api/v1/ops/revisions/{revision_id}": "getOpsRevision",
    "POST /api/v1/ops/revisions": "applyOpsRevision",
    "GET /api/v1/integrations": "listIntegrations",
    "POST /api/v1/incidents": "declareIncident",
    "GET /api/v1/incidents/{number}": "getIncident",
    "PATCH /api/v1/incidents/{number}": "updateIncident",
    "POST /api/v1/incidents/{number}/status": "changeIncidentStatus",
    "POST /api/v1/incidents/{number}/severity": "changeIncidentSeverity",
    "POST /api/v1/incidents/{number}/ack": "acknowledgeIncident",
    "GET /api/v1/incidents/{number}/timeline": "getTimeline",
    "GET /api/v1/incidents/{number}/timeline.md": "exportTimeline",
    "POST /api/v1/incidents/{number}/timeline": "addTimelineEntry",
    "POST /api/v1/incidents/{number}/comms": "postCommsUpdate",
    "GET /api/v1/incidents/{number}/comms/template": "getCommsTemplate",
    "POST /api/v1/incidents/{number}/public-updates": "publishStatusUpdate",
    "GET /api/v1/incidents/{number}/public-updates": "listStatusUpdates",
    "GET /api/v1/oncall": "getOnCall",
    "GET /api/v1/schedules": "listSchedules",
    "GET /api/v1/schedules/{name}": "getSchedule",
    "GET /api/v1/schedules/{name}/shifts": "listShifts",
    "GET /ical/{token}.ics": "getICalFeed",
    "POST /api/v1/incidents/{number}/escalate": "escalateIncident",
    "GET /api/v1/incidents/{number}/pages": "listIncidentPages",
    "POST /api/v1/people/{handle}/page-test": "sendPageTest",
    "GET /api/v1/people/{handle}/page-test": "getPageTestReport",
    "GET /api/v1/runbooks/coverage": "getRunbookCoverage",
    "GET /api/v1/runbooks/toil": "getRunbookToil",
    "GET /api/v1/incidents/{number}/runbooks": "listIncidentRunbooks",
    "POST /api/v1/incidents/{number}/runbooks": "attachRunbook",
    "POST /api/v1/incidents/{number}/runbooks/{slug}/steps/{step_id}": "markRunbookStep",
    "POST /api/v1/postmortems/{number}": "startPostmortem",
    "GET /api/v1/postmortems/{number}": "getPostmortem",
    "GET /api/v1/postmortems/{number}/markdown": "getPostmortemMarkdown",
    "PATCH /api/v1/postmortems/{number}": "editPostmortem",
    "POST /api/v1/postmortems/{number}/submit": "submitPostmortem",
    "POST /api/v1/postmortems/{number}/approve": "approvePostmortem",
    "POST /api/v1/postmortems/{number}/reopen": "reopenPostmortem",
    "GET /api/v1/postmortems/{number}/revisions": "listPostmortemRevisions",
    "GET /api/v1/postmortems/{number}/revisions/{revision}": "getPostmortemRevision",
    "GET /api/v1/postmortems/{number}/action-items": "listPostmortemActionItems",
    "GET /api/v1/action-items/summary": "countActionItems",
    "GET /api/v1/action-items/{item_id}": "getActionItem",
    "GET /api/v1/metrics/response": "getResponseTimes",
    "GET /api/v1/slos/targets": "listSloTargets",
    "POST /api/v1/slos/{service}/{slo_name}/events": "pushSloEvents",
    "GET /api/v1/metrics/oncall-health": "getOnCallHealth",
    "GET /api/v1/metrics/alert-quality": "getAlertQuality",
    "GET /api/v1/metrics/toil": "getToilRanking",
    "POST /api/v1/slack/commands": "slackCommand",
    "POST /api/v1/slack/interactions": "slackInteraction",
    "POST /api/v1/slack/events": "slackEvent",
    "GET /api/v1/status/maintenance": "listMaintenanceWindows",
    "POST /api/v1/status/maintenance": "scheduleMaintenanceWindow",
    "POST /api/v1/status/maintenance/{window_id}/cancel": "cancelMaintenanceWindow",
}
"""``METHOD path`` → operationId, where the route's function name alone is not a readable, unique one."""

WITHOUT_DATABASE = frozenset({"GET /healthz", "GET /metrics"})
"""Operations that never touch the database, so never answer 503."""
FOREIGN_ERRORS = frozenset({"POST /v2/enqueue", "POST /v2/change/enqueue"})
"""PagerDuty's Events API: its 400 and 429 bodies are PagerDuty's shape (its clients parse them)."""

ALSO_ANSWERS: dict[str, frozenset[str]] = {
    "GET /api/v1/oncall": frozenset({"404"}),  # ?schedule= names one
    "GET /api/v1/slos": frozenset({"404"}),  # ?service= names one
    "GET /api/v1/action-items": frozenset({"404"}),  # ?incident= names one
    **dict.fromkeys(
        ("POST /api/v1/slack/commands", "POST /api/v1/slack/interactions", "POST /api/v1/slack/events"),
        frozenset({"401", "403", "404"}),  # signed by Slack (401); 404 while Slack is not set up
    ),
}
"""Errors an operation answers beyond what its shape implies (found by the schemathesis test)."""

_MUTATING = frozenset({"post", "put", "patch", "delete"})
_SCOPE_DEPENDENCY = re.compile(r"require_(read|responder|admin)")
_DEFAULT_DESCRIPTIONS = {
    "400": "malformed request: a body that is not JSON, or a value the database cannot store",
    "401": "no bearer token, an unknown or revoked one, or a token in the query string",
    "403": "the token's scope is too low, or its person may not do this",
    "404": "what the path (or a query parameter) names does not exist",
    "409": "the current state does not allow this",
    "413": "the request body is over the size limit",
    "422": "well-formed but invalid values; details lists each with its location",
    "429": "over a rate limit; retry after Retry-After seconds",
    "503": "the database is unavailable (locked, full or unreachable); retry after Retry-After seconds",
}


class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable: not_found, validation_failed, conflict, …")
    message: str = Field(description="for a person: what was wrong and what to do")
    details: Any = Field(default=None, description="structured detail (422: a list of {loc, message, type})")


class Error(BaseModel):
    """The one shape of every error answer."""

    error: ErrorBody


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: :data:`OPERATION_IDS`, else the camelCased name."""
    for method in sorted(route.methods or ()):
        named = OPERATION_IDS.get(f"{method} {route.path_format}")
        if named is not None:
            return named
    head, *rest = route.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def install(app: FastAPI) -> None:
    """``app.openapi()`` builds (once) the document described above."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _honest(app)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _honest(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = Error.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schemas["Error"].pop("$defs", {}))
    doc["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token (cp_…): scope read, responder or admin ('commandpost token create')",
        }
    }
    secured = _secured_operations(app)
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            _document(operation, method, label, needs_token=label in secured)
    return doc


def _secured_operations(app: FastAPI) -> set[str]:
    """``METHOD path`` of each operation whose dependencies include a ``require_<scope>``."""
    found: set[str] = set()
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # an included router (FastAPI resolves its routes lazily)
            for ctx in contexts():
                if isinstance(ctx.original_route, APIRoute) and _needs_token(ctx.original_route.dependant):
                    found.update(f"{method} {ctx.path}" for method in ctx.methods or ())
        elif isinstance(route, APIRoute) and _needs_token(route.dependant):
            found.update(f"{method} {route.path_format}" for method in route.methods or ())
    return found


def _needs_token(dependant: Any) -> bool:
    stack = [dependant]
    while stack:
        node = stack.pop()
        if _SCOPE_DEPENDENCY.fullmatch(getattr(getattr(node, "call", None), "__name__", "")):
            return True
        stack.extend(node.dependencies)
    return False


def _document(operation: dict[str, Any], method: str, label: str, *, needs_token: bool) -> None:
    operation["security"] = [{"bearer": []}] if needs_token else []
    has_input = bool(operation.get("parameters")) or "requestBody" in operation
    has_path = any(p.get("in") == "path" for p in operation.get("parameters", ()))
    statuses: set[str] = set()
    if needs_token:
        statuses |= {"401", "403"}
    if has_path:
        statuses.add("404")
    if has_input:
        statuses |= {"400", "422"}
    if "requestBody" in operation:
        statuses.add("413")
    if method in _MUTATING:
        statuses.add("409")
    if label not in WITHOUT_DATABASE:
        statuses.add("503")
    statuses |= ALSO_ANSWERS.get(label, frozenset())
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(status, {"description": _DEFAULT_DESCRIPTIONS[status]})
    operation["responses"] = responses = dict(sorted(responses.items()))
    for status, response in responses.items():
        if not status.startswith(("4", "5")):
            continue
        if label in FOREIGN_ERRORS and status in ("400", "429"):
            continue
        if status == "503" and label == "GET /readyz":
            continue  # the readiness report itself, not an error
        if response.get("description") == "Validation Error":
            response["description"] = _DEFAULT_DESCRIPTIONS["422"]
        response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        if status == "401":
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": 'Bearer realm="commandpost" (RFC 6750), with error= for a bad token',
                    "required": True,
                    "schema": {"type": "string", "pattern": "^Bearer "},
                }
            }
        if status in ("429", "503"):
            response["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}
            }
