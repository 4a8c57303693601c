"""Postmortems (guide §5): criteria decided in advance, drafts from the timeline, reviews, action items.

Face, what other domains import: ``actions`` (action items and their owners). Internal: blameless,
draft, models, processors, render, rules, schemas, service; only the edges (api, cli, the web pages)
and the composition root reach those.
"""

__all__ = ["actions"]
