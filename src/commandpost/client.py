"""The HTTP client the CLI's API verbs use (like ``gh`` or ``kubectl``: the CLI is a client of the API).

Where the server is and who we are: ``COMMANDPOST_URL`` / ``COMMANDPOST_TOKEN`` (through
:class:`Settings`), else ``url = …`` / ``token = …`` in the TOML file at ``Settings.config_file``
(``$XDG_CONFIG_HOME/commandpost/config.toml``, ``~/.config`` when unset). The server's
``{"error": {...}}`` becomes the same class of the one error tree, so the CLI prints one red line
and exits with that class's code.
The token travels only in the ``Authorization`` header: never in a URL, never in a message.
"""

from __future__ import annotations

import tomllib
from typing import Any

import httpx

from commandpost import errors
from commandpost.settings import Settings

_BY_CODE: dict[str, type[errors.CommandpostError]] = {
    cls.code: cls
    for cls in (
        errors.BadRequest,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
        errors.Conflict,
        errors.InvalidTransition,
        errors.PayloadTooLarge,
        errors.ValidationFailed,
        errors.PolicyInvalid,
        errors.RateLimited,
        errors.UpstreamFailed,
        errors.Unavailable,
    )
}
_BY_STATUS: dict[int, type[errors.CommandpostError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    405: errors.BadRequest,
    409: errors.Conflict,
    413: errors.PayloadTooLarge,
    422: errors.ValidationFailed,
    429: errors.RateLimited,
    502: errors.UpstreamFailed,
    503: errors.Unavailable,
}


def resolve(settings: Settings | None = None) -> tuple[str, str]:
    """``(url, token)``: the environment first, then the config file, then the defaults (empty = unset)."""
    settings = settings or Settings()
    data: dict[str, Any] = {}
    path = settings.config_file
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise errors.ValidationFailed(f"{path}: not valid TOML ({exc})") from None

    def pick(name: str) -> str:
        given = getattr(settings, name) if name in settings.model_fields_set else ""
        from_file = data.get(name)
        default = str(Settings.model_fields[name].default)
        return str(given or (from_file if isinstance(from_file, str) and from_file else "") or default)

    return pick("url").rstrip("/"), pick("token")


def error_from(response: httpx.Response) -> errors.CommandpostError:
    """The error-tree exception for a non-2xx answer (by the body's code, else by status)."""
    try:
        body = response.json()["error"]
        code, message, details = body.get("code"), str(body["message"]), body.get("details")
    except (ValueError, KeyError, TypeError):
        code, details = None, None
        message = f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}"
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(response.status_code, errors.CommandpostError)
    if cls in (errors.RateLimited, errors.Unavailable):
        retry = response.headers.get("retry-after", "5")
        return cls(message, retry_after=int(retry) if retry.isdigit() else 5, details=details)
    return cls(message, details=details)


class Client:
    def __init__(
        self, url: str, token: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Client:
        url, token = resolve(settings)
        return cls(url, token)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        if not self._token:
            raise errors.Unauthorized(
                'no API token: set COMMANDPOST_TOKEN or `token = "…"` in the config file '
                "(create one with `commandpost token create --person YOU`)"
            )
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, path, json=json, params=query, headers={"Authorization": f"Bearer {self._token}"}
            )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise errors.Unavailable(
                f"cannot reach commandpost at {self.url}: is `commandpost serve` running? set COMMANDPOST_URL"
            ) from None
        except httpx.TimeoutException:
            raise errors.Unavailable(
                f"commandpost at {self.url} did not answer within {self._timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            raise errors.Unavailable(
                f"talking to commandpost at {self.url} failed: {type(exc).__name__}"
            ) from None
        if response.is_error:
            raise error_from(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def get_text(self, path: str, **params: Any) -> str:
        return self.request("GET", path, params=params).text

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {}).json()

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body).json()
