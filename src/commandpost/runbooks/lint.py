"""Runbook lint: every rule has an id and a name, every finding a ``path:line``.

The rules (docs/runbooks.md has one example each):

    RB000 unreadable          error    not UTF-8, no/broken front matter, file name not a slug
    RB001 missing-owner       error    RB002 invalid-owner         error  (not a team or person)
    RB003 missing-last-updated error   RB004 invalid-last-updated  error  (not a date, in the future)
    RB005 missing-slo         error    RB006 invalid-slo           error  (not an SLO of the service)
    RB007 missing-severity    error    RB008 invalid-severity      error  (or escalates_to)
    RB009 missing-section     error    RB010 section-order         error  (order, duplicate, numbering)
    RB011 mitigate-without-steps error RB012 step-without-command  warning
    RB013 no-firing-alert     error    RB014 stale                 warning (error with --strict)
    RB015 update-requested    error    RB016 secret                error
    RB017 unknown-key         error

Lint never touches a database: what it needs from elsewhere comes in as a
:class:`~commandpost.runbooks.context.LintContext` and ``flagged`` (slug → why a postmortem asked
for an update; see ``service.runbooks_flagged_for_update``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from commandpost.policy.findings import Finding
from commandpost.policy.opsfiles import SEVERITIES, SLUG, RunbookFrontMatter
from commandpost.runbooks import rules
from commandpost.runbooks.context import LintContext, find_ops_root
from commandpost.runbooks.document import MITIGATE, SECTION_NAMES, Runbook, section_label
from commandpost.runbooks.parse import parse_file
from commandpost.security.redact import redact

if TYPE_CHECKING:
    from commandpost.policy.loader import LoadResult

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: str
    summary: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("RB000", "unreadable", ERROR, "the file or its front matter cannot be read"),
        Rule("RB001", "missing-owner", ERROR, "front matter has no owner"),
        Rule("RB002", "invalid-owner", ERROR, "owner is not a team or person of people.yaml"),
        Rule("RB003", "missing-last-updated", ERROR, "front matter has no last_updated"),
        Rule("RB004", "invalid-last-updated", ERROR, "last_updated is not a date, or is in the future"),
        Rule("RB005", "missing-slo", ERROR, "front matter has no slo"),
        Rule("RB006", "invalid-slo", ERROR, "slo is not an SLO of the runbook's service"),
        Rule("RB007", "missing-severity", ERROR, "front matter has no severity"),
        Rule(
            "RB008",
            "invalid-severity",
            ERROR,
            "severity or escalates_to is not SEV1–SEV4, or does not escalate",
        ),
        Rule("RB009", "missing-section", ERROR, "one of the sections 0 Symptom … 6 Postmortem is missing"),
        Rule("RB010", "section-order", ERROR, "a section is out of order, duplicated or misnumbered"),
        Rule("RB011", "mitigate-without-steps", ERROR, "Mitigate has no checklist steps (- [ ])"),
        Rule("RB012", "step-without-command", WARNING, "a Mitigate step carries no copy-pasteable command"),
        Rule("RB013", "no-firing-alert", ERROR, "no firing alert named (front matter alerts or section 0)"),
        Rule("RB014", "stale", WARNING, "last_updated is older than runbook_max_age"),
        Rule(
            "RB015", "update-requested", ERROR, "a postmortem asked for an update after an incident used it"
        ),
        Rule("RB016", "secret", ERROR, "a secret in the text"),
        Rule("RB017", "unknown-key", ERROR, "an unknown front-matter key"),
    )
}
FRONT_MATTER_RULES = frozenset(
    {"RB001", "RB002", "RB003", "RB004", "RB005", "RB006", "RB007", "RB008", "RB017"}
)
_PLACEHOLDER = re.compile(r"^\s*<[^>]*>\s*$")
_FIRING = re.compile(r"firing alert\s*:\s*(.+)", re.IGNORECASE)
_KNOWN_KEYS = tuple(RunbookFrontMatter.model_fields)
_IGNORED = {"readme.md"}


@dataclass(frozen=True, order=True)
class RunbookFinding:
    """``path:line: RBxxx message``; ``severity`` is error or warning (after ``--strict``)."""

    path: str
    line: int
    rule: str
    severity: str
    message: str

    @property
    def name(self) -> str:
        return RULES[self.rule].name

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} {self.message}"

    def as_finding(self) -> Finding:
        """The ops loader's Finding, so ``commandpost check`` prints runbook lint like any ops error."""
        return Finding(self.path, self.line, f"{self.rule} {self.message}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "rule": self.rule,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
        }


# ---------------------------------------------------------------- entry points


def lint_runbooks(
    paths: Path | str | Iterable[Path | str],
    *,
    today: date | None,
    strict: bool = False,
    flagged: Mapping[str, str] | None = None,
    context: LintContext | None = None,
    relative_to: Path | None = None,
) -> list[RunbookFinding]:
    """Lint files and folders of runbooks (a folder: its ``*.md``, or an ops folder's ``runbooks/``).

    Each file's context (owners, SLOs, max age) comes from the ops folder it sits in unless
    ``context`` is given. Paths in findings are relative to ``relative_to`` when given, else as
    passed. ``today`` None skips the staleness rule and the future-date check.
    """
    items = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    contexts: dict[Path | None, LintContext] = {}
    found: list[RunbookFinding] = []
    for file in runbook_files(items):
        root = find_ops_root(file)
        ctx = context or contexts.get(root)
        if ctx is None:
            ctx = LintContext.from_folder(root) if root else LintContext()
            contexts[root] = ctx
        shown = _display(file, relative_to)
        found += lint_runbook(
            parse_file(file, display=shown), context=ctx, today=today, strict=strict, flagged=flagged
        )
    return sorted(found)


def lint_for_check(directory: Path, result: LoadResult, *, now: datetime) -> None:
    """``commandpost check``'s one call: runbook lint added to the ops check's errors and warnings.

    The loader already reads each runbook and validates its front matter, so RB000 is left to it,
    and so are the front-matter rules for a file it reported (one defect, one error). RB015 needs
    the incident history, so the offline check does not run it.
    """
    config = result.config
    context = LintContext.from_config(config) if config else LintContext.from_folder(directory)
    today = rules.local_today(now, context.timezone)
    reported = {f.path for f in result.errors}
    folder = directory / "runbooks"
    found = (
        lint_runbooks(folder, today=today, context=context, relative_to=directory) if folder.is_dir() else []
    )
    for finding in found:
        if finding.rule == "RB000" or (finding.path in reported and finding.rule in FRONT_MATTER_RULES):
            continue
        (result.errors if finding.is_error else result.warnings).append(finding.as_finding())
    result.errors.sort()
    result.warnings.sort()


def runbook_files(items: list[Path]) -> list[Path]:
    """The ``.md`` files named or inside the folders named (an ops folder means its ``runbooks/``)."""
    files: list[Path] = []
    for item in items:
        if item.is_dir():
            folder = item / "runbooks" if (item / "commandpost.yaml").is_file() else item
            files += sorted(p for p in folder.glob("*.md") if p.name.lower() not in _IGNORED)
        else:
            files.append(item)
    return files


def _display(file: Path, relative_to: Path | None) -> str:
    if relative_to is not None:
        try:
            return file.resolve().relative_to(relative_to.resolve()).as_posix()
        except ValueError:
            pass
    return file.as_posix()


def lint_runbook(
    runbook: Runbook,
    *,
    context: LintContext,
    today: date | None,
    strict: bool = False,
    flagged: Mapping[str, str] | None = None,
) -> list[RunbookFinding]:
    """Every rule over one parsed runbook."""
    check = _Check(runbook, context, today, strict)
    check.run(flagged or {})
    return sorted(check.found)


def has_errors(findings: Iterable[RunbookFinding]) -> bool:
    return any(f.is_error for f in findings)


# ---------------------------------------------------------------- the rules


class _Check:
    def __init__(self, runbook: Runbook, context: LintContext, today: date | None, strict: bool) -> None:
        self.rb, self.ctx, self.today, self.strict = runbook, context, today, strict
        self.found: list[RunbookFinding] = []
        self.last_updated: date | None = None

    def add(self, rule: str, line: int, message: str) -> None:
        severity = RULES[rule].severity
        if rule == "RB014" and self.strict:
            severity = ERROR
        self.found.append(RunbookFinding(self.rb.path, line, rule, severity, message))

    def run(self, flagged: Mapping[str, str]) -> None:
        rb = self.rb
        for problem in rb.problems:
            self.add("RB000", problem.line, problem.message)
        if not rb.text and rb.problems:
            return  # nothing was read
        if not SLUG.match(rb.slug):
            self.add("RB000", 1, f"file name '{rb.slug}' is not a slug (lowercase letters, digits, - and _)")
        if rb.front_matter_ok:
            self.front_matter()
        self.sections()
        self.mitigate()
        self.alerts()
        self.stale()
        if rb.slug in flagged:
            line = rb.meta_line("last_updated")
            self.add("RB015", line, f"{flagged[rb.slug]}: update the runbook, then bump last_updated")
        self.secrets()

    # ------------------------------------------------------------ front matter

    def meta(self, key: str) -> tuple[Any, int]:
        return self.rb.meta.get(key), self.rb.meta_line(key)

    def front_matter(self) -> None:
        for key in self.rb.meta:
            if key not in _KNOWN_KEYS:
                close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
                hint = f" — did you mean '{close[0]}'?" if close else ""
                self.add(
                    "RB017",
                    self.rb.meta_line(key),
                    f"unknown front-matter key '{key}'{hint} (allowed: {', '.join(_KNOWN_KEYS)})",
                )
        self.owner()
        self.last_updated_()
        self.slo()
        self.severity()

    def _missing(self, value: Any) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    def owner(self) -> None:
        owner, line = self.meta("owner")
        if self._missing(owner):
            self.add("RB001", line, "front matter has no owner: name the team that keeps this runbook true")
        elif not isinstance(owner, str) or _PLACEHOLDER.match(owner):
            self.add("RB002", line, f"owner {owner!r} is not a team or person name")
        elif self.ctx.owners is not None and owner.lstrip("@") not in self.ctx.owners:
            known = ", ".join(sorted(self.ctx.owners)) or "none defined"
            self.add(
                "RB002", line, f"owner '{owner}' is neither a team nor a person of people.yaml ({known})"
            )

    def last_updated_(self) -> None:
        value, line = self.meta("last_updated")
        if self._missing(value):
            self.add(
                "RB003",
                line,
                "front matter has no last_updated: write the date it was last checked (YYYY-MM-DD)",
            )
            return
        day = rules.as_date(value)
        if day is None:
            self.add("RB004", line, f"last_updated {value!r} is not a date (write YYYY-MM-DD)")
        elif self.today is not None and day > self.today:
            self.add("RB004", line, f"last_updated {day} is in the future (today is {self.today})")
        else:
            self.last_updated = day

    def slo(self) -> None:
        slo, line = self.meta("slo")
        if self._missing(slo):
            self.add("RB005", line, "front matter has no slo: name the SLO this failure burns")
            return
        if not isinstance(slo, str) or _PLACEHOLDER.match(slo):
            self.add("RB006", line, f"slo {slo!r} is not an SLO name")
            return
        if self.ctx.services is None:
            return
        named, _ = self.meta("service")
        services = (
            [named] if isinstance(named, str) and named else list(self.ctx.pointed.get(self.rb.slug, ()))
        )
        for name in services:
            info = self.ctx.service(name)
            if info is None:
                known = ", ".join(sorted(self.ctx.services)) or "none defined"
                self.add(
                    "RB006",
                    self.rb.meta_line("service"),
                    f"service '{name}' does not exist ({known}), so slo '{slo}' cannot be checked",
                )
            elif slo not in info.slos:
                self.add(
                    "RB006",
                    line,
                    f"slo '{slo}' is not an SLO of service '{name}' "
                    f"(its SLOs: {', '.join(info.slos) or 'none'})",
                )

    def severity(self) -> None:
        severity, line = self.meta("severity")
        if self._missing(severity):
            self.add("RB007", line, "front matter has no severity: the expected severity, SEV1–SEV4")
            return
        if severity not in SEVERITIES:
            self.add("RB008", line, f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
            return
        escalates, at = self.meta("escalates_to")
        if escalates is None:
            return
        if escalates not in SEVERITIES:
            self.add("RB008", at, f"escalates_to {escalates!r} is not one of {', '.join(SEVERITIES)}")
        elif SEVERITIES.index(escalates) >= SEVERITIES.index(severity):
            self.add("RB008", at, f"escalates_to {escalates} is not more severe than severity {severity}")

    # ------------------------------------------------------------ body

    def sections(self) -> None:
        rb = self.rb
        if not rb.sections:
            self.add(
                "RB009",
                rb.title_line or rb.body_line,
                "none of the sections 0 Symptom … 6 Postmortem found: "
                "use '## 0. Symptom' … '## 6. Postmortem' (guide §3-1)",
            )
            return
        first: dict[int, int] = {}
        highest = -1
        for heading in rb.headings:
            number = heading.number
            if number is None:
                continue
            if number in first:
                self.add(
                    "RB010",
                    heading.line,
                    f"section {section_label(number)} appears twice (first on line {first[number]})",
                )
                continue
            first[number] = heading.line
            if heading.written is not None and heading.written != number:
                self.add(
                    "RB010",
                    heading.line,
                    f"heading numbered {heading.written} is the {SECTION_NAMES[number]} section: "
                    f"number it {number}",
                )
            if number < highest:
                self.add(
                    "RB010",
                    heading.line,
                    f"section {section_label(number)} comes after {section_label(highest)}: "
                    "the order is 0 Symptom, 1 Detect, 2 Triage, 3 Mitigate, 4 Verify, 5 Comms, 6 Postmortem",
                )
            highest = max(highest, number)
        for number in range(len(SECTION_NAMES)):
            if number in first:
                continue
            later = [line for n, line in first.items() if n > number]
            line = min(later) if later else rb.end_line
            self.add(
                "RB009", line, f"missing section {section_label(number)} (add '## {section_label(number)}')"
            )

    def mitigate(self) -> None:
        section = self.rb.section(MITIGATE)
        if section is None:
            return
        if not section.steps:
            hint = " (its items are plain bullets: write them as '- [ ] …')" if section.items else ""
            self.add("RB011", section.line, f"Mitigate has no checklist steps{hint}")
            return
        for step in section.steps:
            if step.command is None and not step.warning:
                self.add(
                    "RB012",
                    step.line,
                    f"Mitigate step {step.id} has no command: add one in `backticks` or a fenced block",
                )

    def alerts(self) -> None:
        if not self.rb.front_matter_ok:
            return
        alerts, line = self.meta("alerts")
        if isinstance(alerts, str):
            alerts = [alerts]
        if isinstance(alerts, list) and any(
            isinstance(a, str) and a.strip() and not _PLACEHOLDER.match(a) for a in alerts
        ):
            return
        symptom = self.rb.section(0)
        for item in symptom.items if symptom else ():
            match = _FIRING.search(item.text)
            if match and not _PLACEHOLDER.match(match.group(1).strip("` ")):
                return
        where = (
            line if "alerts" in self.rb.meta else (symptom.line if symptom else self.rb.meta_line("alerts"))
        )
        self.add(
            "RB013",
            where,
            "no firing alert named: list it in front matter 'alerts:' or as '- Firing alert: X' in section 0",
        )

    def stale(self) -> None:
        if self.last_updated is None or self.today is None:
            return
        state = rules.staleness(self.last_updated, self.today, self.ctx.max_age)
        if state.stale:
            self.add(
                "RB014",
                self.rb.meta_line("last_updated"),
                f"stale: last updated {state.last_updated}, {state.age_days} days ago "
                f"(runbook_max_age {state.max_age_days} days): check it still works, then bump last_updated",
            )

    def secrets(self) -> None:
        text = self.rb.text
        for finding in redact(text).findings:
            line = text[: finding.start].count("\n") + 1
            self.add(
                "RB016",
                line,
                f"possible secret ({finding.kind}) in the text: "
                "keep it in a secret store and refer to it by name",
            )
