"""``runbook new``: guide §3-1's skeleton with the front matter filled from the ops folder.

The owner is the service's owner team, the SLO its first SLO, the date today (org timezone).
Mitigate steps carry placeholder commands (``echo 'TODO …'``, harmless if run) so the new file
lints clean and the author replaces each with the real copy-pasteable command.
"""

from __future__ import annotations

from datetime import date

from commandpost.errors import ValidationFailed
from commandpost.policy.opsfiles import SEVERITIES, SLUG
from commandpost.runbooks.context import ServiceInfo


def render(
    slug: str,
    *,
    service: ServiceInfo,
    alert: str,
    severity: str,
    today: date,
    escalates_to: str | None = None,
) -> str:
    """The new runbook's text; ValidationFailed for a bad slug, severity or alert, or a service w/o SLO."""
    if not SLUG.match(slug):
        raise ValidationFailed(
            f"'{slug}' is not a runbook slug (lowercase letters, digits, - and _; e.g. webhook-backlog)",
            details={"field": "slug", "value": slug},
        )
    sev = _severity(severity, "severity")
    escalates = _severity(escalates_to, "escalates_to") if escalates_to else None
    if escalates and SEVERITIES.index(escalates) >= SEVERITIES.index(sev):
        raise ValidationFailed(
            f"--escalates-to {escalates} is not more severe than --severity {sev}",
            details={"field": "escalates_to", "value": escalates},
        )
    alert = alert.strip()
    if not alert or any(c in alert for c in "\n`[]"):
        raise ValidationFailed(f"--alert {alert!r} is not an alert name", details={"field": "alert"})
    if not service.slos:
        raise ValidationFailed(
            f"service '{service.name}' has no SLO: add one to services/{service.name}.yaml first "
            "(a runbook names the SLO its failure burns)",
            details={"field": "service", "value": service.name},
        )
    slo = service.slos[0]
    escalation = f"escalates_to: {escalates}\n" if escalates else ""
    expected = (
        f"{sev} (escalates to {escalates} if TODO: when)" if escalates else f"{sev} (TODO: when it is worse)"
    )
    return f"""---
title: {alert}
owner: {service.owner}
last_updated: {today.isoformat()}
service: {service.name}
slo: {slo}
severity: {sev}
{escalation}alerts: [{alert}]
---
# Runbook: {alert}
Last updated: {today.isoformat()} / Owner: {service.owner} / Related SLO: {slo}

## 0. The symptom this Runbook covers
- Firing alert: `{alert}` — TODO: the metric condition
- Expected severity: {expected}

## 1. Detect — confirm what's happening
- Dashboard: TODO: URL
- Confirmation query/log: TODO: the filter expression of structured logs
- Judging "is it real": a single spike or continuous, what's the scope?

## 2. Triage — fix the severity and stand up an IC
- Judge the severity with the table in severities.yaml
- If SEV1/2: create the incident channel, declare an IC, open the Live Doc: \
`commandpost declare "{alert}" --sev {sev} --service {service.name}`

## 3. Mitigate — first stop the bleeding (before root-cause analysis)
- [ ] First move (stop the impact fastest), e.g. OFF with a feature flag / roll back the last deploy: \
`echo 'TODO: the first-move command'`
- [ ] Second move, e.g. scale out / rate limit / failover: `echo 'TODO: the second-move command'`
- Write each step as "a command you can copy-paste and run"

## 4. Verify — is it really fixed
- [ ] The condition for judging recovery (the metric stays below the threshold for N minutes): \
`echo 'TODO: the query that shows recovery'`
- [ ] Recovery of missed processing (reprocessing, compensating transaction)

## 5. Comms — who to tell what
- Initial report with the `initial` template; periodic updates at the severity's cadence; a recovery report
- Whether a status-page update is needed

## 6. Postmortem
- Whether a postmortem is needed (the criteria in commandpost.yaml) / link to the Live Doc
"""


def _severity(value: str, field: str) -> str:
    text = str(value).strip().upper()
    if text.isdigit():
        text = f"SEV{text}"
    if text not in SEVERITIES:
        raise ValidationFailed(
            f"--{field.replace('_', '-')} {value!r} is not one of {', '.join(SEVERITIES)}",
            details={"field": field, "value": value},
        )
    return text
