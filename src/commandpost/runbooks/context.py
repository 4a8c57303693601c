"""What lint needs to know from the rest of the ops folder: owners, services' SLOs, who points where.

From an applied :class:`OpsConfig` it is exact. From a folder on disk (``runbook lint`` in CI)
the folder may not validate — often *because of* the runbook being linted — so each file is
read on its own and whatever validates is used; a name is only reported unknown when the file
that would define it validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from commandpost.policy.opsfiles import OpsConfig, OrgSettings, PeopleFile, Service, SeveritiesFile
from commandpost.policy.yamlsource import parse_yaml

M = TypeVar("M", bound=BaseModel)
DEFAULT_MAX_AGE = timedelta(days=90)


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    owner: str
    slos: tuple[str, ...]


@dataclass(frozen=True)
class LintContext:
    """``owners`` None / ``services`` None: that file did not validate, so those checks are skipped."""

    owners: frozenset[str] | None = None
    services: dict[str, ServiceInfo] | None = None
    pointed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    max_age: timedelta = DEFAULT_MAX_AGE
    timezone: str = "UTC"

    @classmethod
    def from_config(cls, config: OpsConfig) -> LintContext:
        return cls(
            owners=frozenset([*(t.name for t in config.teams), *(p.handle for p in config.people)]),
            services={s.name: _info(s) for s in config.services},
            pointed=_pointed(config.services),
            max_age=config.settings.runbook_max_age,
            timezone=config.settings.timezone,
        )

    @classmethod
    def from_folder(cls, root: Path) -> LintContext:
        """Best effort: each of commandpost.yaml, people.yaml and services/*.yaml on its own."""
        folder = read_folder(root)
        owners = None
        if folder.people is not None:
            people = folder.people
            owners = frozenset([*(t.name for t in people.teams), *(p.handle for p in people.people)])
        settings = folder.settings
        return cls(
            owners=owners,
            services={s.name: _info(s) for s in folder.services} if folder.services_ok else None,
            pointed=_pointed(folder.services),
            max_age=settings.runbook_max_age if settings else DEFAULT_MAX_AGE,
            timezone=settings.timezone if settings else "UTC",
        )

    def service(self, name: str) -> ServiceInfo | None:
        return (self.services or {}).get(name)


@dataclass
class FolderModels:
    """The models of an ops folder that validate on their own (``services_ok``: every service did)."""

    settings: OrgSettings | None
    people: PeopleFile | None
    severities: SeveritiesFile | None
    services: list[Service]
    services_ok: bool

    def paging(self, severity: str) -> bool:
        """Whether a severity pages; unknown (severities.yaml broken) counts as paging for SEV1/SEV2."""
        if self.severities is None:
            return severity in ("SEV1", "SEV2")
        found = self.severities.severities.get(severity)
        return bool(found and found.paging)


def read_folder(root: Path) -> FolderModels:
    services: list[Service] = []
    services_ok = True
    folder = root / "services"
    for path in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
        service = _model(path, Service)
        if service is None:
            services_ok = False
        else:
            services.append(service)
    return FolderModels(
        settings=_model(root / "commandpost.yaml", OrgSettings),
        people=_model(root / "people.yaml", PeopleFile),
        severities=_model(root / "severities.yaml", SeveritiesFile),
        services=services,
        services_ok=services_ok,
    )


def _info(service: Service) -> ServiceInfo:
    return ServiceInfo(service.name, service.owner, tuple(slo.name for slo in service.slos))


def _pointed(services: list[Service]) -> dict[str, tuple[str, ...]]:
    """Runbook slug → the services whose alert rules (or default_runbook) name it."""
    found: dict[str, set[str]] = {}
    for service in services:
        for rule in service.alert_rules:
            if rule.runbook:
                found.setdefault(rule.runbook, set()).add(service.name)
        if service.default_runbook:
            found.setdefault(service.default_runbook, set()).add(service.name)
    return {slug: tuple(sorted(names)) for slug, names in found.items()}


def _model(path: Path, model: type[M]) -> M | None:
    try:
        parsed, _problems = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    data: Any = parsed.data if parsed else None
    if not isinstance(data, dict):
        return None
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def find_ops_root(path: Path) -> Path | None:
    """The ops folder a runbook path belongs to: ``X/runbooks/…`` with ``X/commandpost.yaml``."""
    path = path.resolve()
    for candidate in (path, *list(path.parents)[:2]):
        if (candidate / "commandpost.yaml").is_file() and (candidate / "runbooks").is_dir():
            return candidate
        if candidate.name == "runbooks" and (candidate.parent / "commandpost.yaml").is_file():
            return candidate.parent
    return None
