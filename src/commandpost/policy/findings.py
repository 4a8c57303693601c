"""Findings (``path:line: message``) and the mapping of pydantic errors onto YAML lines.

A person fixing an ops folder needs the file, the line and what to write instead — not a
pydantic ``loc`` tuple. ``validation_findings`` walks each error's loc along the data that
was validated, points at the line of the deepest key that exists, and words the message
(unknown keys get the allowed ones and a "did you mean").
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from commandpost.policy.yamlsource import KeyPath, Parsed

_TYPE_TAG = re.compile(r"^[a-z-]+\[.*\]$")


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in an ops folder; ``path`` is relative to the folder, ``line`` is 1-based."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Source:
    """Where a validated model came from: its file (relative path) and the parsed lines."""

    path: str
    parsed: Parsed

    def at(self, *keys: Any) -> int:
        return self.parsed.line(tuple(keys))

    def finding(self, keys: KeyPath, message: str) -> Finding:
        return Finding(self.path, self.at(*keys), message)


def validation_findings(
    exc: ValidationError, source: Source, model: type[BaseModel], data: Any, prefix: KeyPath = ()
) -> list[Finding]:
    """One finding per pydantic error, on the line of the deepest key of its loc that exists.

    ``prefix`` is the key path of ``data`` inside the file (front matter has none, a runbook's
    front matter is the whole YAML text).
    """
    findings = []
    for error in exc.errors(include_url=False):
        loc = _clean_loc(error["loc"], data)
        line = source.at(*prefix, *loc)
        findings.append(Finding(source.path, line, _message(error, loc, model)))
    return sorted(set(findings))


def _clean_loc(loc: tuple[Any, ...], data: Any) -> KeyPath:
    """Drop pydantic's type tags (``function-after[...]``, ``[key]``) and keep the data's own keys."""
    out: list[Any] = []
    current = data
    for segment in loc:
        in_dict = isinstance(current, dict) and segment in current
        in_list = isinstance(current, list) and isinstance(segment, int) and 0 <= segment < len(current)
        if in_dict or in_list:
            out.append(segment)
            current = current[segment]
        elif isinstance(segment, str) and (segment == "[key]" or _TYPE_TAG.match(segment)):
            continue
        else:
            out.append(segment)
            current = None
    return tuple(out)


def _dotted(loc: KeyPath) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _message(error: Any, loc: KeyPath, model: type[BaseModel]) -> str:
    kind = error["type"]
    where = _dotted(loc)
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        allowed = _allowed_keys(model, loc[:-1])
        text = f"unknown key '{key}'"
        if loc[:-1]:
            text += f" in {_dotted(loc[:-1])}"
        if allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            if close:
                text += f" — did you mean '{close[0]}'?"
            text += f" (allowed: {', '.join(allowed)})"
        return text
    if kind == "missing":
        return f"missing required key '{where}'" if where else "missing required key"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind not in ("value_error", "assertion_error") and _is_scalar(error.get("input")):
        message += f" (got {error['input']!r})"
    return f"{where}: {message}" if where else message


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _allowed_keys(model: type[BaseModel], loc: KeyPath) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model`` (empty if it is not a model)."""
    current: Any = model
    for segment in loc:
        current = _step(current, segment)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, …]`` → X; ``X | None`` → X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _step(annotation: Any, segment: Any) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(segment))
        return field.annotation if field else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None
