"""Reading a source's request body: parsed once with orjson, depth-guarded, every field checked
with its path in the message (``alerts[3].labels.severity: expected a string, got number``).

Source adapters use these so every source rejects bad input the same way — a 4xx that says
what and where, before anything is stored. The raw body is parsed here rather than by FastAPI:
orjson is several times faster and the intake path is the hot one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from commandpost.errors import BadRequest, ValidationFailed

MAX_DEPTH = 32
"""Deeper JSON is refused: real alert payloads nest a few levels; 1,000 levels is an attack."""

_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def parse_json(body: bytes) -> Any:
    """The body as JSON, or 400 saying why not (empty, malformed, nested deeper than MAX_DEPTH)."""
    if not body.strip():
        raise BadRequest("request body is empty; send a JSON document")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    # Fewer brackets in the whole body than the limit cannot nest past it (a C-speed count):
    # most alert bodies skip the walk. A body with more braces alone than that is walked without
    # counting its brackets too (each count reads the whole body).
    if isinstance(value, dict | list):
        braces = body.count(b"{")
        if braces > MAX_DEPTH or braces + body.count(b"[") > MAX_DEPTH:
            check_depth(value)
    return value


def top_object(doc: Any, what: str = "event") -> dict[str, Any]:
    """The parsed body when it is a JSON object; 422 otherwise."""
    if not isinstance(doc, dict):
        raise ValidationFailed(
            f"invalid {what}: the body must be a JSON object, got {type_name(doc)}",
            details=[f"expected an object, got {type_name(doc)}"],
        )
    return doc


def check_depth(value: dict[str, Any] | list[Any], limit: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than ``limit`` without recursing (a deep document cannot blow the stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    push = stack.append
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise BadRequest(f"request body nests deeper than {limit} levels")
        for child in node.values() if type(node) is dict else node:
            kind = type(child)  # exact types: parsed JSON has no subclasses, and this is per value
            if kind is dict or kind is list:
                push((child, depth + 1))


@lru_cache(maxsize=4096)
def parse_time(text: str) -> datetime | None:
    """RFC 3339 / ISO 8601 as aware UTC (naive means UTC). Go's zero time (year 1) means "not set".
    Memoized: a re-sent alert carries the same start (and Go's zero end) every time. A time that
    is a time but cannot be held in UTC (``9999-12-31T23:59:59-01:00``) is a ValueError too."""
    value = datetime.fromisoformat(text)
    if value.year == 1:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise TimeOutOfRange(f"{text[:40]!r} is past the years a time can hold in UTC") from exc


class TimeOutOfRange(ValueError):
    """A well-formed time whose UTC instant is past year 9999 (or before year 1)."""


class Fields:
    """Collects every problem in a body, each with its path, then raises them all at once (422).

    ``f = Fields(); name = f.string(obj, "name", "payload"); …; f.done()``
    """

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    def done(self) -> None:
        if self.errors:
            first = self.errors[0]
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            raise ValidationFailed(f"invalid event: {first}{more}", details=list(self.errors))

    @staticmethod
    def join(path: str, key: str | int) -> str:
        if isinstance(key, int):
            return f"{path}[{key}]"
        return f"{path}.{key}" if path else key

    def object(self, value: Any, path: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.error(path, f"expected an object, got {type_name(value)}")
        return None

    def array(self, parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = parent.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        self.error(self.join(path, key), f"expected an array, got {type_name(value)}")
        return []

    def string(
        self,
        parent: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        required: bool = False,
        max_length: int | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> str:
        value = parent.get(key)
        if (
            value.__class__ is str
            and value
            and (max_length is None or len(value) <= max_length)
            and (choices is None or value in choices)
        ):
            return value  # the common cases, without building the path
        if value is None or value == "":
            if required:
                self.error(self.join(path, key), "is required")
            return ""
        where = self.join(path, key)
        if not isinstance(value, str):
            self.error(where, f"expected a string, got {type_name(value)}")
            return ""
        if max_length is not None and len(value) > max_length:
            self.error(where, f"is {len(value)} characters long; the limit is {max_length}")
            return value[:max_length]
        if choices is not None and value not in choices:
            self.error(where, f"{value!r} is not one of {', '.join(choices)}")
            return ""
        return value

    def string_map(self, parent: Mapping[str, Any], key: str, path: str = "") -> dict[str, str]:
        """A flat object of strings (Prometheus labels and annotations)."""
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(self.join(path, key), f"expected an object of strings, got {type_name(value)}")
            return {}
        for name, item in value.items():
            if not isinstance(item, str):
                where = self.join(self.join(path, key), name)
                self.error(where, f"expected a string, got {type_name(item)}")
                return {}
        return value

    def time(self, parent: Mapping[str, Any], key: str, path: str = "") -> datetime | None:
        value = parent.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.error(self.join(path, key), f"expected an RFC 3339 timestamp string, got {type_name(value)}")
            return None
        try:
            return parse_time(value)
        except TimeOutOfRange as exc:
            self.error(self.join(path, key), str(exc))
        except ValueError:
            self.error(self.join(path, key), f"{value[:40]!r} is not an RFC 3339 / ISO 8601 timestamp")
        return None

    def integer(self, parent: Mapping[str, Any], key: str, path: str = "", *, default: int = 0) -> int:
        value = parent.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(self.join(path, key), f"expected an integer, got {type_name(value)}")
            return default
        return value
