"""The CLI's HTTP client without a server: error mapping, header-only token, config resolution."""

from __future__ import annotations

import httpx
import pytest

from commandpost import errors
from commandpost.client import Client, resolve
from commandpost.settings import Settings

TOKEN = "cp_secret-token-value"


def _client(status: int, body: object, seen: list[httpx.Request] | None = None, **headers: str) -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return Client("http://cp.test/", TOKEN, transport=httpx.MockTransport(answer))


def _error(code: str, message: str = "m", details: object = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details}}


@pytest.mark.parametrize(
    ("status", "code", "expected", "exit_code"),
    [
        (400, "bad_request", errors.BadRequest, 2),
        (401, "unauthorized", errors.Unauthorized, 3),
        (403, "forbidden", errors.Forbidden, 3),
        (404, "not_found", errors.NotFound, 4),
        (409, "conflict", errors.Conflict, 5),
        (409, "invalid_transition", errors.InvalidTransition, 5),
        (413, "payload_too_large", errors.PayloadTooLarge, 2),
        (422, "validation_failed", errors.ValidationFailed, 2),
        (422, "policy_invalid", errors.PolicyInvalid, 1),
        (429, "rate_limited", errors.RateLimited, 6),
        (503, "unavailable", errors.Unavailable, 6),
        (500, "internal_error", errors.CommandpostError, 1),
    ],
)
def test_server_errors_become_the_same_class(status, code, expected, exit_code):
    with pytest.raises(expected) as caught, _client(status, _error(code, "what and where", ["a"])) as c:
        c.get("/api/v1/incidents")
    assert type(caught.value) is expected
    assert caught.value.message == "what and where" and caught.value.details == ["a"]
    assert caught.value.exit_code == exit_code


def test_retry_after_is_kept_and_a_non_json_error_still_says_where():
    with (
        pytest.raises(errors.RateLimited) as caught,
        _client(429, _error("rate_limited"), **{"Retry-After": "7"}) as c,
    ):
        c.post("/api/v1/incidents", {"title": "x"})
    assert caught.value.retry_after == 7
    with pytest.raises(errors.NotFound, match=r"GET /api/v1/nowhere: HTTP 404"), _client(404, "<html>") as c:
        c.get("/api/v1/nowhere")


def test_token_travels_only_in_the_authorization_header():
    seen: list[httpx.Request] = []
    with _client(200, [], seen) as c:
        c.get("/api/v1/incidents", status="open", severity=None)
    (request,) = seen
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)
    assert str(request.url) == "http://cp.test/api/v1/incidents?status=open"


def test_config_file_fills_what_the_environment_does_not(tmp_path, monkeypatch):
    monkeypatch.delenv("COMMANDPOST_URL", raising=False)
    monkeypatch.delenv("COMMANDPOST_TOKEN", raising=False)
    path = tmp_path / "config.toml"
    path.write_text('url = "https://cp.example/"\ntoken = "cp_from_file"\n')
    assert resolve(Settings(config_file=path)) == ("https://cp.example", "cp_from_file")
    assert resolve(Settings(config_file=path, token="cp_env")) == ("https://cp.example", "cp_env")
    assert resolve(Settings(config_file=tmp_path / "absent.toml")) == ("http://127.0.0.1:8080", "")
    monkeypatch.setenv("COMMANDPOST_URL", "")  # set but empty counts as unset
    assert resolve(Settings(config_file=path)) == ("https://cp.example", "cp_from_file")
