"""Runbooks (guide §3): parse, lint, staleness, coverage, toil, checklists run inside incidents."""
