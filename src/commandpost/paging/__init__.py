"""Escalation: page the on-call, escalate without an ack, stop on ack or resolve (guide §4, §6-2).

Face: none, no other domain imports paging. Every module is internal (actions, alert_fyi, decider, decision,
firing, models, page, processors, row, rules, schemas, service); only the edges (api, cli, the web
pages) and the composition root reach them.
"""

__all__: list[str] = []
