"""Output for people and for CI: lint as text / JSON / GitHub workflow annotations, runbooks for a terminal.

The Rich renderers take the API's JSON shapes (``schemas``), so ``runbook show`` looks the
same whether it read the server or an ops folder on disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from commandpost.console import inert, markup, sev, text
from commandpost.runbooks.lint import RunbookFinding

_STATE_MARK = {None: "☐", "done": "[green]☑[/]", "skipped": "[dim]⤼[/]", "failed": "[bold red]☒[/]"}

# ---------------------------------------------------------------- lint formats


def lint_text(findings: Iterable[RunbookFinding]) -> str:
    """``path:line: RBxxx message`` per finding (warnings say so)."""
    lines = []
    for f in findings:
        tag = "" if f.is_error else " (warning)"
        lines.append(f"{f.path}:{f.line}: {f.rule}{tag} {f.message}")
    return "\n".join(lines)


def lint_json(findings: Iterable[RunbookFinding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2, ensure_ascii=False)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_annotations(findings: Iterable[RunbookFinding]) -> str:
    """GitHub Actions workflow commands: ``::error file=…,line=…,title=RBxxx name::message``."""
    lines = []
    for f in findings:
        command = "error" if f.is_error else "warning"
        props = (
            f"file={_escape_property(f.path)},line={f.line},title={_escape_property(f'{f.rule} {f.name}')}"
        )
        lines.append(f"::{command} {props}::{_escape_data(f.message)}")
    return "\n".join(lines)


# ---------------------------------------------------------------- terminal


def _step_lines(step: dict[str, Any], *, with_state: bool) -> list[RenderableType]:
    state = (step.get("state") or {}).get("state") if with_state else None
    mark = _STATE_MARK.get(state, "☐")
    ops = " [magenta](Ops)[/]" if step.get("needs_ops") and with_state else ""
    style = "bold red" if step["warning"] else ""
    command = step.get("command")
    words = step["text"].replace(f"`{command}`", "").rstrip() if command else step["text"]
    head = Text.from_markup(f"{mark} [dim]{markup(step['id'])}[/]{ops} ")
    head.append(inert(words), style=style)
    out: list[RenderableType] = [head]
    if command:  # on its own line, without backticks: ready to copy and paste
        out.append(Syntax(inert(command), "bash", word_wrap=True, padding=(0, 0, 0, 4)))
    for caution in step.get("cautions", []):
        out.append(_caution(caution["text"], indent="    "))
    done = step.get("state")
    if with_state and done:
        note = f" — {done['note']}" if done.get("note") else ""
        out.append(text(f"    {done['state']} by @{done['by']} at {done['at']}{note}", style="dim"))
    return out


def _caution(words: str, indent: str = "") -> Text:
    """A warning in red beside what it guards; the ⚠ is added when the text has none."""
    mark = "" if "⚠" in words else "⚠ "
    return text(f"{indent}{mark}{words}", style="bold red")


def section_renderable(section: dict[str, Any], *, with_state: bool = False) -> RenderableType:
    parts: list[RenderableType] = []
    for caution in section.get("cautions", []):
        parts.append(_caution(caution["text"]))
    for step in section["steps"]:
        parts.extend(_step_lines(step, with_state=with_state))
    for item in section.get("items", []):
        if item["text"]:
            parts.append(text("• " + item["text"]))
        elif item.get("command"):
            parts.append(Syntax(inert(item["command"]), "bash", word_wrap=True))
    style = "red" if section["number"] == 3 else ("green" if section["number"] == 4 else "blue")
    return Panel(
        Group(*parts) if parts else Text("(empty)", style="dim"),
        title=text(section["heading"]),
        title_align="left",
        border_style=style,
    )


def runbook_renderable(data: dict[str, Any]) -> RenderableType:
    """``runbook show``: header, lint and staleness, then sections 0–6 with steps, commands and warnings."""
    stale = data.get("staleness") or {}
    when = markup(data.get("last_updated") or "—")
    if stale:
        when += f" ({stale['age_days']} days ago" + (", [bold red]STALE[/])" if stale["stale"] else ")")
    header = Text.from_markup(
        f"[bold]{markup(data['title'])}[/]  [dim]{markup(data['slug'])}[/]\n"
        f"owner {markup(data.get('owner') or '—')} · severity {sev(data.get('severity') or '—')}"
        + (f" → {sev(data['escalates_to'])}" if data.get("escalates_to") else "")
        + f" · SLO {markup(data.get('slo') or '—')} · last updated {when}\n"
        f"alerts: {markup(', '.join(data.get('alerts') or []) or '—')} · "
        f"services: {markup(', '.join(data.get('services') or []) or '—')}"
    )
    parts: list[RenderableType] = [header]
    move = data.get("first_move")
    if move:
        parts.append(Text.from_markup(f"[bold]first move:[/] {markup(move['text'])}"))
    for finding in data.get("lint", []):
        colour = "red" if finding["severity"] == "error" else "yellow"
        parts.append(
            Text.from_markup(f"[{colour}]{markup(finding['rule'])}[/] line {finding['line']}: ")
            + text(finding["message"])
        )
    parts.extend(section_renderable(s) for s in data["sections"])
    return Group(*parts)


def checklist_renderable(attachments: list[dict[str, Any]], number: str) -> RenderableType:
    """An incident's runbooks as checklists, Mitigate first, each step with who marked it when."""
    if not attachments:
        return text(f"{number}: no runbook attached (attach one: commandpost runbook attach {number} SLUG)")
    parts: list[RenderableType] = []
    for a in attachments:
        p = a["progress"]
        head = f"[bold]{markup(a['title'])}[/] [dim]{markup(a['slug'])}[/] — {p['done']}/{p['total']} done"
        if p["failed"]:
            head += f", [red]{p['failed']} failed[/]"
        if a.get("outdated"):
            head += " [yellow](the runbook changed since it was attached)[/]"
        parts.append(Text.from_markup(head))
        parts.extend(
            section_renderable(s, with_state=True) for s in a["sections"] if s["steps"] or s["cautions"]
        )
    return Group(*parts)


def runbook_table(rows: list[dict[str, Any]]) -> Table:
    table = Table("slug", "severity", "owner", "last updated", "steps", "lint", "alerts")
    for r in rows:
        age = markup(r["last_updated"] or "—") + (" [bold red]stale[/]" if r["stale"] else "")
        lint = f"[red]{r['lint_errors']}E[/] " if r["lint_errors"] else ""
        lint += f"[yellow]{r['lint_warnings']}W[/]" if r["lint_warnings"] else ""
        table.add_row(
            text(r["slug"]),
            sev(r["severity"] or "—"),
            text(r["owner"] or "—"),
            age,
            str(r["steps"]),
            lint or "[green]ok[/]",
            text(", ".join(r["alerts"])),
        )
    return table


def coverage_renderable(data: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []

    def block(title: str, rows: list[str] | None, empty: str) -> None:
        if rows is None:
            parts.append(
                Text.from_markup(f"[bold]{title}[/]: [dim]needs the incident history (use the server)[/]")
            )
            return
        colour = "red" if rows else "green"
        parts.append(Text.from_markup(f"[bold {colour}]{title}[/]: {len(rows)}"))
        parts.extend(text("  " + r) for r in rows)
        if not rows:
            parts.append(Text(f"  {empty}", style="dim"))

    block(
        "paging alert rules without a runbook",
        [
            f"{r['service']} / {r['alert']} ({r['severity']}): {r['problem']}"
            for r in data["paging_rules_without_runbook"]
        ],
        "every paging alert points to a runbook",
    )
    paged = data.get("paged_without_runbook")
    block(
        f"paged without a runbook in the last {data['days']} days",
        None
        if paged is None
        else [f"{p['number']} {p['severity']} {p['service']}: {p['title']}" for p in paged],
        "none",
    )
    block("runbooks no alert points to", data["unpointed"], "none")
    block(
        "stale runbooks",
        [f"{s['slug']}: last updated {s['last_updated']} ({s['age_days']} days)" for s in data["stale"]],
        "none",
    )
    block("runbooks never used", data.get("never_used"), "none")
    return Group(*parts)


def toil_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "#", "incidents", "runbook", "step", "last done", title="automation candidates (guide §6-3)"
    )
    for rank, r in enumerate(rows, 1):
        table.add_row(
            str(rank),
            str(r["incidents"]),
            text(r["slug"]),
            text(f"{r['step_id']} {r['text']}"),
            text(r["last_done_at"]),
        )
    return table
