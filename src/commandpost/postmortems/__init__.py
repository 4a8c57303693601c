"""Postmortems (guide §5): criteria decided in advance, drafts from the timeline, reviews, action items.

Face, what other domains import: ``actions`` (action items and their owners) and ``models`` (a
postmortem's state: the Slack command post is archived once it is Final). Internal: blameless,
draft, processors, render, rules, schemas, service; only the edges (api, cli, the web pages)
and the composition root reach those.
"""

__all__ = ["actions", "models"]
