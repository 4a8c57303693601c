"""Escalation: page the on-call, escalate without an ack, stop on ack or resolve (guide §4, §6-2).

Face, what other domains import: ``page`` (a page's words: severity, runbook link, first move — the
Slack command post opens with them). Internal: actions, alert_fyi, decider, decision, firing, models,
processors, row, rules, schemas, service; only the edges (api, cli, the web pages) and the composition
root reach those.
"""

__all__ = ["page"]
