"""Load an ``ops/`` folder: every file validated, cross-checked, and every problem reported at once.

``load_ops(path)`` never stops at the first error: each file is parsed and validated on its
own, the cross-reference check runs over whatever did validate (and keeps quiet about names
whose defining file is broken, so one defect is one error), and the result carries every
error and warning as ``path:line: message``. Only a folder without errors yields a config.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import frontmatter
from pydantic import BaseModel, ValidationError

from commandpost.policy import hooks, reach, xref
from commandpost.policy.email_contacts import email_recipients, smtp_missing
from commandpost.policy.findings import Finding, Source, validation_findings
from commandpost.policy.ops_base import SLUG
from commandpost.policy.ops_escalation import EscalationPolicy
from commandpost.policy.ops_org import OrgSettings
from commandpost.policy.ops_people import PeopleFile
from commandpost.policy.ops_runbooks import Runbook, RunbookFrontMatter
from commandpost.policy.ops_schedules import Schedule
from commandpost.policy.ops_services import Service
from commandpost.policy.ops_severities import SeveritiesFile
from commandpost.policy.opsfiles import OpsConfig
from commandpost.policy.yamlsource import parse_yaml

M = TypeVar("M", bound=BaseModel)

REQUIRED_FILES = ("commandpost.yaml", "severities.yaml", "people.yaml")
FOLDERS = {"services": ".yaml", "escalation": ".yaml", "schedules": ".yaml", "runbooks": ".md"}
_YAML_SUFFIXES = (".yaml", ".yml")
_IGNORED_NAMES = {"README.md", "readme.md", ".gitignore", ".gitkeep"}


@dataclass
class LoadResult:
    """What ``load_ops`` found: the config (only when there are no errors), errors, warnings, files."""

    config: OpsConfig | None
    errors: list[Finding]
    warnings: list[Finding]
    files: dict[str, str] = field(default_factory=dict)
    content_hash: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Collected:
    """The models that validated, each with its source, plus the names whose file did not validate."""

    settings: tuple[OrgSettings, Source] | None = None
    severities: tuple[SeveritiesFile, Source] | None = None
    people: tuple[PeopleFile, Source] | None = None
    services: list[tuple[Service, Source]] = field(default_factory=list)
    policies: list[tuple[EscalationPolicy, Source]] = field(default_factory=list)
    schedules: list[tuple[Schedule, Source]] = field(default_factory=list)
    runbooks: list[tuple[Runbook, Source]] = field(default_factory=list)
    broken: dict[str, set[str]] = field(
        default_factory=lambda: {k: set() for k in ("services", "escalation", "schedules", "runbooks")}
    )


def content_hash(files: dict[str, str]) -> str:
    """sha256 over every ops file's relative path and text, in path order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return digest.hexdigest()


def load_ops(
    path: str | Path,
    *,
    smtp_configured: bool | None = None,
    push_configured: bool | None = None,
    phones_configured: bool | None = None,
) -> LoadResult:
    """Parse, validate and cross-check the ops folder at ``path``.

    ``smtp_configured=False`` (``check`` passes what the settings say) adds a warning when people.yaml
    gives someone an email contact that would never be sent; ``push_configured`` and
    ``phones_configured`` do the same for ntfy topics and phone numbers. None does not ask.
    """
    root = Path(path)
    if not root.is_dir():
        return LoadResult(None, [Finding(str(root), 0, "not a directory (expected an ops folder)")], [])
    loader = _FolderLoader(root)
    loader.run()
    if smtp_configured is False:
        loader.check_email_delivery()
    if push_configured is not None and phones_configured is not None:
        loader.check_phone_delivery(push=push_configured, phones=phones_configured)
    hooks.ops_read(loader.files, xref.Report(loader.errors, loader.warnings))
    errors, warnings = sorted(set(loader.errors)), sorted(set(loader.warnings))
    config = None if errors else loader.config()
    return LoadResult(config, errors, warnings, loader.files, content_hash(loader.files))


class _FolderLoader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, str] = {}
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.got = Collected()

    def run(self) -> None:
        self._scan_unknown()
        settings = self._yaml_model("commandpost.yaml", OrgSettings)
        severities = self._yaml_model("severities.yaml", SeveritiesFile)
        people = self._yaml_model("people.yaml", PeopleFile)
        self.got.settings, self.got.severities, self.got.people = settings, severities, people
        for rel in self._folder("services"):
            service = self._yaml_model(rel, Service)
            self._keep(service, self.got.services, "services", rel)
        for rel in self._folder("escalation"):
            policy = self._yaml_model(rel, EscalationPolicy, name_from_stem=True)
            self._keep(policy, self.got.policies, "escalation", rel)
        for rel in self._folder("schedules"):
            schedule = self._yaml_model(rel, Schedule, name_from_stem=True)
            self._keep(schedule, self.got.schedules, "schedules", rel)
        for rel in self._folder("runbooks"):
            runbook = self._runbook(rel)
            self._keep(runbook, self.got.runbooks, "runbooks", rel)
        report = xref.check(self.got)
        self.errors.extend(report.errors)
        self.warnings.extend(report.warnings)

    def check_email_delivery(self) -> None:
        """Email contacts while email is off: a warning at the first address (issue 14, item 18)."""
        if self.got.people is None:
            return
        people, source = self.got.people
        recipients = email_recipients(people.people, people.teams)
        if recipients and recipients.first is not None:
            self.warnings.append(source.finding(recipients.first, smtp_missing(recipients)))

    def check_phone_delivery(self, *, push: bool, phones: bool) -> None:
        """ntfy topics while push is off, phone numbers while no SMS/voice provider is configured."""
        if self.got.people is None:
            return
        people, source = self.got.people
        for keys, message in reach.unsent(people.people, push=push, phones=phones):
            self.warnings.append(source.finding(keys, message))

    def config(self) -> OpsConfig:
        got = self.got
        assert got.settings and got.severities and got.people  # no errors means every file validated
        return OpsConfig(
            settings=got.settings[0],
            severities=got.severities[0].severities,
            people=got.people[0].people,
            teams=got.people[0].teams,
            services=[s for s, _ in got.services],
            policies=[p for p, _ in got.policies],
            schedules=[s for s, _ in got.schedules],
            runbooks=[r for r, _ in got.runbooks],
        )

    @staticmethod
    def _keep(item: tuple[M, Source] | None, into: list[tuple[M, Source]], kind: str, rel: str) -> None:
        if item is not None:
            into.append(item)

    def _mark_broken(self, rel: str) -> None:
        folder, _, name = rel.partition("/")
        if folder in self.got.broken:
            self.got.broken[folder].add(Path(name).stem)

    # ------------------------------------------------------------ files

    def _scan_unknown(self) -> None:
        """Warn about files commandpost would ignore, so a misplaced file is not silently dropped."""
        for item in sorted(self.root.iterdir()):
            if item.name.startswith(".") or item.name in _IGNORED_NAMES:
                continue
            if item.is_dir():
                if item.name not in FOLDERS:
                    self.warnings.append(Finding(item.name + "/", 0, "unknown folder, ignored"))
                    continue
                for child in sorted(item.iterdir()):
                    wanted = _YAML_SUFFIXES if FOLDERS[item.name] == ".yaml" else (".md",)
                    if child.name.startswith(".") or child.name in _IGNORED_NAMES:
                        continue
                    if child.is_dir() or child.suffix not in wanted:
                        rel = f"{item.name}/{child.name}"
                        self.warnings.append(Finding(rel, 0, f"not a {'/'.join(wanted)} file, ignored"))
            elif item.name not in REQUIRED_FILES:
                self.warnings.append(Finding(item.name, 0, "unknown file, ignored"))

    def _folder(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        suffixes = _YAML_SUFFIXES if FOLDERS[name] == ".yaml" else (".md",)
        return sorted(
            f"{name}/{p.name}"
            for p in folder.iterdir()
            if p.is_file() and p.suffix in suffixes and p.name not in _IGNORED_NAMES
        )

    def _read(self, rel: str) -> str | None:
        target = self.root / rel
        if not target.is_file():
            self.errors.append(
                Finding(rel, 0, "missing file (every ops folder has it; see 'commandpost init')")
            )
            return None
        try:
            text = target.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.errors.append(Finding(rel, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
            return None
        self.files[rel] = text
        return text

    def _yaml_model(
        self, rel: str, model: type[M], *, name_from_stem: bool = False
    ) -> tuple[M, Source] | None:
        text = self._read(rel)
        if text is None:
            return None
        parsed, problems = parse_yaml(text)
        self.errors.extend(Finding(rel, p.line, p.message) for p in problems)
        if parsed is None:
            self._mark_broken(rel)
            return None
        source = Source(rel, parsed)
        data = parsed.data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.errors.append(Finding(rel, parsed.first_line, "expected a mapping of keys at the top level"))
            self._mark_broken(rel)
            return None
        if name_from_stem and "name" not in data:
            data = {**data, "name": Path(rel).stem}
        try:
            result = model.model_validate(data)
        except ValidationError as exc:
            self.errors.extend(validation_findings(exc, source, model, data))
            self._mark_broken(rel)
            return None
        if problems:
            self._mark_broken(rel)
        return result, source

    def _runbook(self, rel: str) -> tuple[Runbook, Source] | None:
        text = self._read(rel)
        if text is None:
            return None
        slug = Path(rel).stem
        if not SLUG.match(slug):
            self.errors.append(
                Finding(
                    rel, 1, f"runbook file name '{slug}' is not a slug (lowercase letters, digits, - and _)"
                )
            )
            self._mark_broken(rel)
            return None
        front, body, offset = _split_front_matter(text)
        if front is None and text.startswith("---"):
            self.errors.append(Finding(rel, 1, "front matter is not closed by a '---' line"))
            self._mark_broken(rel)
            return None
        if front is None:
            self.errors.append(
                Finding(
                    rel,
                    1,
                    "runbook has no front matter: start the file with '---', then owner, last_updated, "
                    "slo, severity, alerts, then '---'",
                )
            )
            self._mark_broken(rel)
            return None
        parsed, problems = parse_yaml(front, line_offset=offset)
        self.errors.extend(Finding(rel, p.line, f"front matter: {p.message}") for p in problems)
        if parsed is None:
            self._mark_broken(rel)
            return None
        source = Source(rel, parsed)
        data: Any = parsed.data if parsed.data is not None else {}
        if not isinstance(data, dict):
            self.errors.append(Finding(rel, parsed.first_line, "front matter must be a mapping of keys"))
            self._mark_broken(rel)
            return None
        try:
            meta = RunbookFrontMatter.model_validate(data)
        except ValidationError as exc:
            found = validation_findings(exc, source, RunbookFrontMatter, data)
            self.errors.extend(Finding(f.path, f.line, f"front matter: {f.message}") for f in found)
            self._mark_broken(rel)
            return None
        digest = hashlib.sha256(text.encode()).hexdigest()
        runbook = Runbook(slug=slug, path=rel, front_matter=meta, body=body, content_hash=digest)
        return runbook, source


def _split_front_matter(text: str) -> tuple[str | None, str, int]:
    """``(front matter YAML, body, line offset of the YAML)`` via python-frontmatter's YAML handler.

    ``None`` when the file does not open with a ``---`` block closed by another ``---`` line.
    """
    handler = frontmatter.YAMLHandler()
    opening = handler.FM_BOUNDARY.match(text) if handler.FM_BOUNDARY else None
    if opening is None or not handler.detect(text):
        return None, text, 0
    try:
        front, body = handler.split(text)
    except ValueError:
        return None, text, 0
    # ``front`` starts right after the opening '---' (its first line is that line's remainder)
    return front, body, text[: opening.end()].count("\n")
