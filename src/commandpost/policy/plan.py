"""What applying an ops folder would change, against the stored revision: ``apply --dry-run``.

The diff is between the validated models (the latest revision's stored ``model`` and the folder's),
not the YAML texts, so a reordered or recommented file is no change and a renamed file holding the
same service is none either. Each collection is compared by its key (people by handle, services,
teams, policies and schedules by name, runbooks by slug, severities by name); a changed item names
the fields that differ. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commandpost.policy.models import OpsRevision
from commandpost.policy.opsfiles import OpsConfig

# collection in OpsConfig's dump -> the field that names an item
KEYED: dict[str, str] = {
    "people": "handle",
    "teams": "name",
    "services": "name",
    "policies": "name",
    "schedules": "name",
    "runbooks": "slug",
}


@dataclass
class Change:
    kind: str  # "people", "services", …, "severities", "settings"
    name: str
    action: str  # "added" | "changed" | "removed"
    fields: list[str] = field(default_factory=list)

    def line(self) -> str:
        sign = {"added": "+", "changed": "~", "removed": "-"}[self.action]
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{sign} {self.kind} {self.name}{detail}"


@dataclass
class Plan:
    base_revision: int | None  # the stored revision compared against (None: nothing applied yet)
    changes: list[Change]
    files: list[str] = field(default_factory=list)  # as a revision's "changes" say it: "changed people.yaml"

    @property
    def changed(self) -> bool:
        """Whether applying would store a new revision (a comment edited is one, with no ``changes``)."""
        return bool(self.changes or self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_revision": self.base_revision,
            "changed": self.changed,
            "changes": [vars(c) for c in self.changes],
            "files": self.files,
        }


def plan(stored: OpsRevision | None, config: OpsConfig) -> Plan:
    """The changes from ``stored`` (the latest revision, or None) to ``config``."""
    new = config.model_dump(mode="json")
    old: dict[str, Any] = stored.model if stored is not None else {}
    changes: list[Change] = []
    if old.get("settings") != new["settings"]:
        fields = _fields(old.get("settings"), new["settings"])
        changes.append(Change("settings", "commandpost.yaml", "changed" if old else "added", fields))
    changes += _collection("severities", old.get("severities", {}), new["severities"])
    for kind, key in KEYED.items():
        before = {str(item[key]): item for item in old.get(kind, [])}
        after = {str(item[key]): item for item in new[kind]}
        changes += _collection(kind, before, after)
    return Plan(stored.id if stored is not None else None, changes)


def _collection(kind: str, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    changes = [Change(kind, name, "added") for name in sorted(after.keys() - before.keys())]
    changes += [
        Change(kind, name, "changed", _fields(before[name], after[name]))
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    ]
    changes += [Change(kind, name, "removed") for name in sorted(before.keys() - after.keys())]
    return changes


def _fields(old: Any, new: Any) -> list[str]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
