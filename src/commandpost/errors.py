"""The one error tree of commandpost.

    CommandpostError                      500 / exit 1   (never raised bare)
    ├── BadRequest                        400 / exit 2   malformed request (bad JSON, wrong shape)
    ├── Unauthorized                      401 / exit 3   no token, unknown or revoked token
    ├── Forbidden                         403 / exit 3   right token, wrong scope or wrong person
    ├── NotFound                          404 / exit 4
    ├── Conflict                          409 / exit 5   state does not allow it
    │   └── InvalidTransition             409 / exit 5   status machine refused; lists allowed states
    ├── PayloadTooLarge                   413 / exit 2
    ├── ValidationFailed                  422 / exit 2   well-formed but invalid values
    │   └── PolicyInvalid                 422 / exit 1   the ops/ folder does not validate
    ├── RateLimited                       429 / exit 6   carries retry_after seconds
    ├── UpstreamFailed                    502 / exit 6   a service called for the user (a tracker) failed
    └── Unavailable                       503 / exit 6   a dependency is down; retry later

Domain code raises these; only the edges translate them — ``http_status`` and
``exit_code`` below are the single mapping, used by the API error handler and
the CLI. ``HTTPException`` appears only in ``api.py``/``pages.py`` modules.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CommandpostError(Exception):
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(CommandpostError):
    http_status, exit_code, code = 400, 2, "bad_request"


class Unauthorized(CommandpostError):
    http_status, exit_code, code = 401, 3, "unauthorized"


class Forbidden(CommandpostError):
    http_status, exit_code, code = 403, 3, "forbidden"


class NotFound(CommandpostError):
    http_status, exit_code, code = 404, 4, "not_found"


class Conflict(CommandpostError):
    http_status, exit_code, code = 409, 5, "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PayloadTooLarge(CommandpostError):
    http_status, exit_code, code = 413, 2, "payload_too_large"


class ValidationFailed(CommandpostError):
    http_status, exit_code, code = 422, 2, "validation_failed"


class PolicyInvalid(ValidationFailed):
    """The ops folder has errors; ``details`` is a list of ``path:line: message`` strings."""

    exit_code = 1
    code = "policy_invalid"


class RateLimited(CommandpostError):
    http_status, exit_code, code = 429, 6, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class UpstreamFailed(CommandpostError):
    """A service commandpost called on the user's behalf (an issue tracker) refused or failed: the
    request was right, the far end was not — a 502 that names the request, never its token."""

    http_status, exit_code, code = 502, 6, "upstream_failed"


class Unavailable(CommandpostError):
    http_status, exit_code, code = 503, 6, "unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
