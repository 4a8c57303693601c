"""``commandpost metrics response|oncall|alerts|toil`` and ``commandpost slo status|targets``.

Clients of the API, except ``slo targets --ops DIR``, which reads an ops folder offline.
``slo status`` exits :data:`FREEZE_EXIT` when a shown service is frozen, so a deploy pipeline
can gate on it (any other non-zero code means it could not tell: treat it as a failure too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from commandpost.client import Client
from commandpost.console import console, markup, print_json, print_table, sev, text
from commandpost.errors import PolicyInvalid, ValidationFailed

FREEZE_EXIT = 10
"""``slo status`` exit code when a service's error budget is exhausted (0: none is)."""

metrics_app = typer.Typer(help="Metrics that decide where to invest (guide §6-1, §7).", no_args_is_help=True)
slo_app = typer.Typer(help="SLOs: error budgets, burn rates, freeze, response targets.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]
FromOpt = Annotated[str | None, typer.Option("--from", help="ISO 8601 date or time (no offset = UTC)")]
ToOpt = Annotated[str | None, typer.Option("--to", help="ISO 8601, exclusive (default: now)")]


def _client() -> Client:
    return Client.from_settings()


def register(app: typer.Typer) -> None:
    app.add_typer(metrics_app, name="metrics")
    app.add_typer(slo_app, name="slo")


def _instant(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"{option} {value!r} is not an ISO 8601 date or time (e.g. 2026-06-01)"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


def duration(seconds: float | None) -> str:
    """``42s``, ``12m05s``, ``3h07m``, ``2d04h``."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


# ---------------------------------------------------------------- metrics


@metrics_app.command("response")
def response(
    start: FromOpt = None,
    to: ToOpt = None,
    service: Annotated[str | None, typer.Option("--service")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="SEV1–SEV4")] = None,
    as_json: AsJson = False,
) -> None:
    """MTTD / MTTA / MTTM / MTTR per severity: count, mean, median and p90 (drills excluded)."""
    with _client() as client:
        out = client.get(
            "/api/v1/metrics/response",
            **{"from": _instant(start, "--from"), "to": _instant(to, "--to")},
            service=service,
            severity=severity,
        )
    if as_json:
        print_json(out)
        return
    title = f"Response times {out['from'][:16]} → {out['to'][:16]}" + (
        f" ({markup(out['service'])})" if out["service"] else ""
    )
    table = Table("severity", "incidents", "metric", "n", "mean", "median", "p90", title=title)
    for row in out["severities"]:
        for i, metric in enumerate(("mttd", "mtta", "mttm", "mttr")):
            stat = row[metric]
            table.add_row(
                sev(row["severity"]) if i == 0 else "",
                str(row["incidents"]) if i == 0 else "",
                metric.upper(),
                str(stat["count"]),
                duration(stat["mean"]),
                duration(stat["median"]),
                duration(stat["p90"]),
                end_section=i == 3,
            )
    print_table(table, empty="no incidents in this period")
    console.print("[dim]median and p90 by nearest rank; mean is dragged by a few long incidents[/]")


def _flag(value: bool) -> str:
    return "[bold red]yes[/]" if value else "no"


@metrics_app.command("oncall")
def oncall(
    start: FromOpt = None,
    to: ToOpt = None,
    hours_per_incident: Annotated[float, typer.Option("--hours-per-incident")] = 6.0,
    as_json: AsJson = False,
) -> None:
    """On-call health: pages per 12-hour block (> 2 flagged), sleep and off-hours pages, share on call."""
    with _client() as client:
        out = client.get(
            "/api/v1/metrics/oncall-health",
            **{"from": _instant(start, "--from"), "to": _instant(to, "--to")},
            hours_per_incident=hours_per_incident,
        )
    if as_json:
        print_json(out)
        return
    people = Table(
        "person",
        "on call",
        "share > 25 %",
        "pages",
        "max / 12 h",
        "blocks > 2",
        "sleep",
        "off-hours",
        "incident-hours",
        title=f"On-call health {out['from'][:10]} → {out['to'][:10]}",
    )
    for p in out["people"]:
        people.add_row(
            text(f"@{p['person']}"),
            f"{p['on_call_hours']:g} h ({p['on_call_share'] * 100:.0f} %)",
            _flag(p["on_call_share_over_25_percent"]),
            str(p["pages"]),
            str(p["max_pages_per_12h"]),
            f"[bold red]{len(p['blocks_over_2_pages'])}[/]" if p["blocks_over_2_pages"] else "0",
            str(p["sleep_hours_pages"]),
            str(p["off_hours_pages"]),
            f"{p['incident_hours']:g}",
        )
    print_table(people)
    rotations = Table(
        "schedule", "layer", "members", "24/7", "below 8", "pages", "max / 12 h", title="Rotations"
    )
    for r in out["rotations"]:
        rotations.add_row(
            text(r["schedule"]),
            text(r["layer"]),
            str(r["members"]),
            "yes" if r["around_the_clock"] else "no",
            _flag(r["below_8_person_minimum"]),
            str(r["pages"]),
            str(r["max_pages_per_12h"]),
        )
    print_table(rotations)
    acked = Table(
        "person", "acknowledged via", "acks", "median time to ack", title="How pages are acknowledged"
    )
    for p in out["people"]:
        for method, stats in p["acknowledged_via"].items():
            seconds = stats["median_seconds_to_ack"]
            acked.add_row(
                text(f"@{p['person']}"),
                text(method),
                str(stats["acknowledged"]),
                f"{seconds:g} s" if seconds is not None else "—",
            )
    if acked.rows:
        print_table(acked)


@metrics_app.command("alerts")
def alerts(
    start: FromOpt = None,
    to: ToOpt = None,
    auto_resolve_minutes: Annotated[int, typer.Option("--auto-resolve-minutes")] = 5,
    limit: Annotated[int, typer.Option("--limit")] = 10,
    as_json: AsJson = False,
) -> None:
    """Alert quality: alerts per incident (aim 1:1), the noisiest alerts, pages without a runbook."""
    with _client() as client:
        out = client.get(
            "/api/v1/metrics/alert-quality",
            **{"from": _instant(start, "--from"), "to": _instant(to, "--to")},
            auto_resolve_minutes=auto_resolve_minutes,
            limit=limit,
        )
    if as_json:
        print_json(out)
        return
    ratio = out["alerts_per_incident"]
    console.print(
        f"{out['alerts']} alerts ({out['firings']} firings), {out['incidents']} incidents: "
        f"{'—' if ratio is None else f'{ratio:g}'} alerts per incident (aim: 1); "
        f"{out['pages_without_runbook']} of {out['pages']} pages without a runbook"
    )
    table = Table(
        "service",
        "alert",
        "alerts",
        "firings",
        "no incident",
        f"auto-resolved ≤ {out['auto_resolve_minutes']}m",
        "acked, no action",
        "no runbook",
        title="Noisiest alerts",
    )
    for row in out["noisy"]:
        table.add_row(
            text(row["service"]),
            text(row["alertname"]),
            str(row["alerts"]),
            str(row["firings"]),
            str(row["without_incident"]),
            str(row["auto_resolved"]),
            str(row["acked_without_action"]),
            str(row["without_runbook"]),
        )
    print_table(table, empty="no noisy alerts in this period")


@metrics_app.command("toil")
def toil(
    min_incidents: Annotated[int, typer.Option("--min-incidents")] = 3,
    as_json: AsJson = False,
) -> None:
    """Runbook steps done by hand, ranked by executions × median time (automation candidates)."""
    with _client() as client:
        out = client.get("/api/v1/metrics/toil", min_incidents=min_incidents)
    if as_json:
        print_json(out)
        return
    table = Table("runbook", "step", "executions", "median", "score", title="Toil (guide §6-3)")
    for row in out:
        table.add_row(
            text(row["slug"]),
            text(row["text"][:60]),
            str(row["executions"]),
            duration(row["median_seconds"]),
            duration(row["score_seconds"]),
        )
    print_table(table, empty=f"no step with a command was done by hand in {min_incidents}+ incidents")


# ---------------------------------------------------------------- slo


def _burn(value: float | None) -> str:
    if value is None:
        return "—"
    colour = "bold red" if value > 6 else "yellow" if value > 1 else ""
    return f"[{colour}]{value:.1f}×[/]" if colour else f"{value:.1f}×"


def _budget(budget: dict[str, Any] | None) -> tuple[str, str, str]:
    if budget is None:
        return "—", "—", "—"
    if budget["unit"] == "seconds":
        allowed, consumed = duration(budget["allowed"]), duration(budget["consumed"])
    else:
        allowed, consumed = f"{budget['allowed']:,.1f} ev", f"{budget['consumed']:,.0f} ev"
    left = budget["remaining_percent"]
    shown = "—" if left is None else f"{left:.1f} %"
    return allowed, consumed, f"[bold red]{shown}[/]" if budget["exhausted"] else shown


@slo_app.command("status")
def status(
    service: Annotated[str | None, typer.Option("--service", help="only this service (deploy gate)")] = None,
    as_json: AsJson = False,
) -> None:
    """Budgets, burn rates and alerts; exits 10 when a shown service is frozen (budget exhausted)."""
    with _client() as client:
        out = client.get("/api/v1/slos", service=service)
    frozen = [s["service"] for s in out["services"] if s["freeze"]]
    if as_json:
        print_json(out)
    else:
        table = Table(
            "service",
            "SLO",
            "objective",
            "source",
            "allowed",
            "consumed",
            "remaining",
            "5m",
            "30m",
            "1h",
            "6h",
            "3d",
            "alerts",
            title="SLOs",
        )
        for s in out["slos"]:
            allowed, consumed, left = _budget(s["budget"])
            burn = s["burn_rates"]
            table.add_row(
                text(s["service"]),
                text(s["slo"]),
                text(f"{s['objective']:g} % / {s['window']}"),
                text(s["source"]),
                allowed,
                consumed,
                left,
                _burn(burn["5m"]),
                _burn(burn["30m"]),
                _burn(burn["1h"]),
                _burn(burn["6h"]),
                _burn(burn["3d"]),
                text(", ".join(a["condition"] for a in s["alerts"]) or "—"),
            )
        print_table(table)
        for s in out["slos"]:
            budget, covered = s["budget"], s.get("coverage")
            overspent = bool(budget) and 0 < budget["consumed"] >= budget["allowed"]
            if overspent and covered and not covered["enough"]:
                console.print(
                    f"{s['service']}/{s['slo']}: budget overspent on counts covering "
                    f"{covered['ratio'] * 100:.2g} % of its window — no freeze until the counts cover "
                    f"{covered['needed'] * 100:g} % of the window"
                )
        for s in out["services"]:
            if s["freeze"]:
                console.print(
                    f"[bold red]FREEZE {markup(s['service'])}[/]: error budget exhausted "
                    f"({markup(', '.join(s['exhausted']))}) — stop feature deploys, "
                    "invest in reliability (guide §7)"
                )
    if frozen:
        raise typer.Exit(FREEZE_EXIT)


@slo_app.command("targets")
def targets(
    ops: Annotated[
        Path | None,
        typer.Option("--ops", help="read this ops folder offline instead of the server's revision"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Allowed downtime per SLO window (99.9 % / 30 d = 43.2 min) and paging SEVs that cannot fit it."""
    if ops is not None:
        out = _offline_targets(ops)
    else:
        with _client() as client:
            out = client.get("/api/v1/slos/targets")
    if as_json:
        print_json(out)
        return
    table = Table(
        "service", "SLO", "objective", "window", "allowed downtime", title="Allowed downtime per window"
    )
    for s in out["slos"]:
        window = text(f"{s['window']} ({s['window_days']} d)")
        allowed = markup(s["allowed_downtime"]) + (
            f"  [dim]quarters: {markup(s['quarter_range'])}[/]" if "quarter_range" in s else ""
        )
        table.add_row(text(s["service"]), text(s["slo"]), f"{s['objective']:g} %", window, allowed)
    print_table(table)
    paging = [
        f"{x['severity']} {duration(x['response_target_seconds'])}" for x in out["severities"] if x["paging"]
    ]
    console.print(
        f"paging response targets: {markup(', '.join(paging) or 'none')}; "
        f"typical mitigation assumed: {duration(out['typical_mitigation_seconds'])}"
    )
    for w in out["warnings"]:
        console.print(f"[yellow]warning: {markup(w['service'])}: {markup(w['message'])}[/]", soft_wrap=True)


def _offline_targets(ops: Path) -> dict[str, Any]:
    from commandpost.clock import SystemClock
    from commandpost.metrics import slo
    from commandpost.policy.loader import load_ops

    loaded = load_ops(ops)
    if loaded.errors or loaded.config is None:
        raise PolicyInvalid(
            f"{ops}: {len(loaded.errors)} error(s); run 'commandpost check {ops}'",
            details=[str(f) for f in loaded.errors],
        )
    return slo.targets(loaded.config, SystemClock().now())
