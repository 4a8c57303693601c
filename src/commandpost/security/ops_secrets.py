"""Credentials written into an ops folder: refused by ``check`` and ``apply``, never stored.

An ops folder lives in git, and ``apply`` stores its files and model as they are (the server runs
on them: ``ops_revision`` is exempt from column redaction, see :mod:`commandpost.security.stored`).
No ops field takes a credential — the Slack bot token, SMTP, Twilio/Vonage and tracker tokens come
from ``COMMANDPOST_*`` environment variables — so a credential in an ops file is one pasted where it
does not belong (a description, a runbook's curl, a comment, a URL's ``user:password@``). Each one
the redaction detectors find is an error at its ``path:line``, naming the field and the kind, never
the value. Two exceptions:

- the address fields (:data:`ADDRESSES`): a Slack incoming webhook carries its secret in its path
  and an ntfy topic is its own password; the sender must use them as written;
- a finding by entropy alone (a digest, an id, a random-looking name) is a warning: ``check
  --strict`` fails on it, ``apply`` goes on.

What other findings quote (pydantic's ``(got '…')``) is redacted too: ``check`` prints them and the
API returns them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from commandpost.policy.findings import Finding
from commandpost.policy.xref import Report
from commandpost.policy.yamlsource import KeyPath, parse_yaml
from commandpost.security.redact import redact
from commandpost.security.stored import ENTROPY_KIND

ADDRESSES = frozenset({"slack_webhook", "webhook", "ntfy_topic", "email", "phone", "sms"})
"""Keys of ``contact:`` and ``channel:`` whose value is where a message goes, used as written."""

ADVICE = (
    "an ops folder lives in git: remove it and revoke it (git history keeps it); credentials are "
    "given to the server as COMMANDPOST_* environment variables, never in ops files (docs/ops.md)"
)


def check_folder(files: dict[str, str], report: Report) -> None:
    """Add a finding per credential in ``files`` (relative path → text) and redact the others'."""
    report.errors[:] = [_scrubbed(f) for f in report.errors]
    report.warnings[:] = [_scrubbed(f) for f in report.warnings]
    for rel, text in sorted(files.items()):
        for finding, entropy_only in _credentials(rel, text):
            (report.warnings if entropy_only else report.errors).append(finding)


def _scrubbed(finding: Finding) -> Finding:
    clean = redact(finding.message)
    return Finding(finding.path, finding.line, clean.text) if clean.findings else finding


def _credentials(rel: str, text: str) -> Iterator[tuple[Finding, bool]]:
    found = redact(text).findings
    if not found:
        return
    fields = _Fields(text) if rel.endswith((".yaml", ".yml")) else None
    for span in found:
        line = text.count("\n", 0, span.start) + 1
        where = fields.name(line, text[span.start : span.end]) if fields else "this line"
        if where is None:  # an address, used as written
            continue
        entropy_only = span.kind == ENTROPY_KIND
        what = "what may be a credential" if entropy_only else "a credential"
        yield Finding(rel, line, f"{where}: {what} ({span.kind}) is written here; {ADVICE}"), entropy_only


class _Fields:
    """Which field of a YAML file a line belongs to, by the lines the parser recorded."""

    def __init__(self, text: str) -> None:
        parsed, _ = parse_yaml(text)
        self.text_lines = text.splitlines()
        self.lines: dict[KeyPath, int] = parsed.lines if parsed else {}
        self.values: dict[KeyPath, Any] = dict(_leaves(parsed.data, ())) if parsed else {}

    def name(self, line: int, secret: str) -> str | None:
        """The dotted field the secret on ``line`` belongs to; None when it is an address's value."""
        on_line = sorted((p for p, at in self.lines.items() if at == line), key=len, reverse=True)
        holding = [p for p in on_line if isinstance(self.values.get(p), str) and secret in self.values[p]]
        if any(str(p[-1]) in ADDRESSES for p in holding):
            return None
        if holding:
            return _dotted(holding[0])
        text = self.text_lines[line - 1] if line <= len(self.text_lines) else ""
        if "#" in text and secret in text[text.index("#") :]:
            return "a comment"
        if on_line:
            return _dotted(on_line[0])
        # a value of several lines (a block scalar): the last key written above it
        before = [(at, len(p), p) for p, at in self.lines.items() if at < line]
        return _dotted(max(before, key=lambda b: b[:2])[2]) if before else "this line"


def _leaves(data: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, (*path, index))


def _dotted(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the file"
