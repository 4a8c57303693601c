"""What the metrics domain checks of a service in the ops folder (connected to
:data:`commandpost.policy.hooks.service_checked` by the root): a paging severity must fit the SLO's
allowed downtime (guide §2), and the engine's own page-urgency burn-rate alerts must reach a paging
alert rule."""

from __future__ import annotations

from commandpost.alerts import rules as alert_rules
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.metrics import rules
from commandpost.metrics.rules import ALERTNAME, dedup_key
from commandpost.policy.findings import Source
from commandpost.policy.opsfiles import Service
from commandpost.policy.xref import Names, Report


def check_service(service: Service, src: Source, ctx: Names, report: Report) -> None:
    for keys, message in rules.response_fit_warnings(service, ctx.severities):
        report.warn(src, keys, message)
    _check_burn_routing(service, src, ctx, report)


def burn_event(service: str, slo: str, condition: rules.Condition) -> NormalizedEvent:
    """What routing sees of the burn-rate alert the engine raises for one SLO and condition
    (:mod:`commandpost.metrics.processors`: the same alert name, source severity and labels)."""
    return NormalizedEvent(
        action="trigger",
        dedup_key=dedup_key(service, slo, condition.name),
        source_severity=condition.kind,
        alertname=ALERTNAME,
        labels=rules.burn_labels(service, slo, condition),
    )


def _check_burn_routing(service: Service, src: Source, ctx: Names, report: Report) -> None:
    """commandpost's own page-urgency burn-rate alerts must reach a paging rule, not fall silently to a
    default that does not page (a paging default is an error of the policy check)."""
    default = service.default_severity
    if ctx.severities is None or ctx.paging(default):
        return
    pages = [c for c in rules.CONDITIONS if c.kind == "page"]
    for i, slo in enumerate(service.slos):
        unrouted = [
            c.name
            for c in pages
            if alert_rules.first_match(service, burn_event(service.name, slo.name, c)) is None
        ]
        if not unrouted:
            continue
        which = "" if len(unrouted) == len(pages) else f", condition {', '.join(unrouted)}"
        runbook = ctx.slo_runbook(service.name, slo.name) or "<runbook-slug>"
        report.warn(
            src,
            ("slos", i),
            f"SLO '{slo.name}': its page-urgency burn-rate alerts ({ALERTNAME}, labels urgency: page"
            f"{which}) match no alert rule, so they route as {default} (default_severity), which does not "
            f"page: {ctx.unpaged_effect(default)}; add to alert_rules: {{match: {{alertname: "
            f"{ALERTNAME}, labels: {{urgency: page, slo: {slo.name}}}}}, severity: "
            f"{ctx.lightest_paging()}, runbook: {runbook}}}",
        )
