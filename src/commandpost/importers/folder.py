"""Write an :class:`ImportResult` as an ops folder, check it with the real loader, and report.

The folder holds what ``commandpost check`` reads, plus ``README.md`` — the import report a person
reads first (the loader ignores README.md) — and ``.import/`` for machines: ``report.json`` and
``overrides.json``, the runtime overrides to add with ``commandpost override add`` after ``apply``
(overrides are data people change every day, never YAML).
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import asdict
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

from commandpost.errors import Conflict
from commandpost.importers.fields import one_line
from commandpost.importers.result import ImportResult
from commandpost.policy.loader import LoadResult, load_ops

VENDOR_TITLES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie", "grafana-oncall": "Grafana OnCall"}


def write_ops_folder(result: ImportResult, out: Path, *, now: datetime, force: bool = False) -> LoadResult:
    """Write the folder, then load it as ``check`` does; the caller shows the findings."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not force:
            raise Conflict(f"{out} is not empty; use --force to write the import over it")
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    title = VENDOR_TITLES.get(result.vendor, result.vendor)
    header = f"# Imported from {title} on {now:%Y-%m-%d %H:%M} UTC by `commandpost import {result.vendor}`.\n"
    out.mkdir(parents=True, exist_ok=True)
    _yaml(out / "commandpost.yaml", header, {"org": result.org, "timezone": result.timezone})
    example = resources.files("commandpost.policy") / "example" / "severities.yaml"
    (out / "severities.yaml").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    people: dict[str, Any] = {"people": result.people}
    if result.teams:
        people["teams"] = result.teams
    _yaml(out / "people.yaml", header, people)
    for folder, files in (
        ("schedules", result.schedules),
        ("escalation", result.escalation),
        ("services", result.services),
    ):
        if files:
            (out / folder).mkdir()
        for stem, body in files.items():
            _yaml(out / folder / f"{stem}.yaml", header, body)
    machine = out / ".import"
    machine.mkdir()
    (machine / "overrides.json").write_bytes(
        orjson.dumps([asdict(o) for o in result.overrides], option=orjson.OPT_INDENT_2)
    )
    (machine / "report.json").write_bytes(
        orjson.dumps(
            {
                "vendor": result.vendor,
                "imported_at": now,
                "counts": result.counts(),
                "unmapped": [asdict(u) for u in result.unmapped],
                "integrations": [asdict(i) for i in result.integrations],
                "source_ids": result.source_ids,
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    (out / "README.md").write_text(report_markdown(result, now=now), encoding="utf-8")
    return load_ops(out)


def _yaml(path: Path, header: str, body: Any) -> None:
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    path.write_text(header + text, encoding="utf-8")


def report_markdown(result: ImportResult, *, now: datetime) -> str:
    """The import report: what came over, what did not and why, and the steps of the switch."""
    title = VENDOR_TITLES.get(result.vendor, result.vendor)
    lines = [
        f"# Import from {title}",
        "",
        f"Written {now:%Y-%m-%d %H:%M} UTC by `commandpost import {result.vendor}`. Guide: docs/migrate.md.",
        "",
        "| imported | count |",
        "| --- | --- |",
        *(f"| {kind.replace('_', ' ')} | {n} |" for kind, n in result.counts().items()),
        "",
        "## Next steps",
        "",
        "1. `commandpost check .` — the folder as imported must pass; review every file.",
        "2. Write runbooks and alert rules: the source has none of the guide's (docs/runbooks.md).",
        "3. `commandpost apply .`, then `commandpost integrations list` for the new keys.",
        "4. Add the current overrides below (`.import/overrides.json`) with `commandpost override add`.",
        "5. Switch senders one at a time (table below); the old tool keeps paging for the rest.",
        "",
    ]
    if result.overrides:
        lines += ["## Overrides to add after apply", ""]
        for o in result.overrides:
            lines.append(
                f"    commandpost override add --schedule {o.schedule} --layer {o.layer} --person {o.person} "
                f"--start {o.start.isoformat()} --end {o.end.isoformat()}"
            )
        lines.append("")
    if result.integrations:
        lines += [
            "## Senders to switch",
            "",
            f"| service | {title} integration | old key | commandpost integration | source | note |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for i in result.integrations:
            lines.append(
                f"| {i.service} | {_cell(i.vendor_type)} | {i.old_key} | {i.integration} | {i.source} "
                f"| {_cell(i.note)} |"
            )
        lines.append("")
    lines += ["## Not imported", ""]
    if not result.unmapped:
        lines += ["Everything read was mapped.", ""]
    by_kind: dict[str, list[Any]] = defaultdict(list)
    for item in result.unmapped:
        by_kind[item.kind].append(item)
    for kind, items in sorted(by_kind.items()):
        lines += [f"### {kind.replace('_', ' ')}", "", "| name | source id | why |", "| --- | --- | --- |"]
        lines += [f"| {_cell(u.name)} | {_cell(u.source_id)} | {_cell(u.reason)} |" for u in items]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A table cell: one line, pipes escaped, nothing that would render as markup from the source."""
    return one_line(text).replace("|", "\\|").replace("<", "&lt;")
