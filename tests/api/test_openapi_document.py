"""The OpenAPI document (issue 20, item 7): valid OpenAPI 3.1, readable unique operationIds, the bearer
scheme with per-operation security matching the auth matrix's public routes, every error in the
server's one Error shape (no FastAPI HTTPValidationError), and the vendored docs assets intact."""

from __future__ import annotations

import hashlib
import json
import re

from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from reliability.auth import EXEMPT

from commandpost.web.render import STATIC

ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _operations(doc: dict) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    return [(f"{m.upper()} {p}", op) for p, item in doc["paths"].items() for m, op in item.items()]


def test_the_document_is_valid_and_says_who_may_call_what(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    validate(doc)
    operations = _operations(doc)
    ids = [op["operationId"] for _label, op in operations]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", i) for i in ids), ids
    assert {"listIncidents", "getIncident", "declareIncident", "acknowledgeIncident", "getPostmortem"} <= set(
        ids
    )
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    public = {label for label, op in operations if op["security"] == []}
    assert public and public <= set(EXEMPT), public - set(EXEMPT)  # public only where the auth matrix agrees
    for label, op in operations:
        assert op["security"] in ([], [{"bearer": []}]), label
        if op["security"]:
            assert {"401", "403", "503"} <= set(op["responses"]), label
            assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_every_error_is_documented_in_the_shape_the_server_sends(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert (
        "HTTPValidationError" not in json.dumps(doc) and "ValidationError" not in doc["components"]["schemas"]
    )
    for label, op in _operations(doc):
        for status, response in op["responses"].items():
            foreign = label.startswith("POST /v2/") and status in ("400", "429")  # PagerDuty's own shape
            if status[0] in "45" and not foreign and (label, status) != ("GET /readyz", "503"):
                assert response["content"] == ERROR, (label, status)
        if op.get("parameters") or "requestBody" in op:
            assert "422" in op["responses"], label
        if any(p["in"] == "path" for p in op.get("parameters", ())):
            assert "404" in op["responses"], label
    error = doc["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message"} and "details" in error["properties"]


def test_a_422_and_a_401_are_what_the_document_says(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    invalid = client.get("/api/v1/alerts?limit=0", headers=auth("read"))
    assert invalid.status_code == 422 and set(invalid.json()) == {"error"}
    assert invalid.json()["error"]["code"] == "validation_failed" and invalid.json()["error"]["details"]
    refused = client.get("/api/v1/incidents")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer ")


def test_the_vendored_docs_assets_are_the_pinned_ones() -> None:
    vendor = STATIC / "vendor"
    manifest = json.loads((vendor / "VENDORED.json").read_text())
    files = {
        str(p.relative_to(vendor)) for p in vendor.rglob("*") if p.is_file() and p.name != "VENDORED.json"
    }
    assert files == set(manifest["files"])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    for package in manifest["packages"].values():
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", package["integrity"]), package


def test_docs_pages_load_their_scripts_from_here(client: TestClient) -> None:
    for path, script in (
        ("/docs", "swagger-ui/swagger-ui-bundle.js"),
        ("/redoc", "redoc/redoc.standalone.js"),
    ):
        page = client.get(path)
        assert page.status_code == 200 and f'src="/static/vendor/{script}"' in page.text
        assert "<script>" not in page.text and "cdn" not in page.text.lower()
        assert client.get(f"/static/vendor/{script}").status_code == 200
