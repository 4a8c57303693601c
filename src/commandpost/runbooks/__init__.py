"""Runbooks (guide §3): parse, lint, staleness, coverage, toil, checklists run inside incidents.

Face, what other domains import: ``document`` (a parsed runbook), ``service`` (the use cases) and
``toil`` (steps people keep running by hand). Internal: checklist, context, coverage, folder, lint,
models, parse, render, rules, schemas, template; only the edges (api, cli, the web pages) and the
composition root reach those.
"""

__all__ = ["document", "service", "toil"]
