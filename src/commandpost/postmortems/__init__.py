"""Postmortems (guide §5): criteria decided in advance, drafts from the timeline, reviews, action items.

Face, what other domains import: ``actions`` (action items and their owners) and ``models`` (a
postmortem's state: the Slack command post is archived once it is Final). Internal: blameless,
criteria, draft, praise (stars, the month's most starred), processors, reminders, render, schemas,
sections, service, smart, stars (the star table), states, tickets, tracker_hooks, trackers, vague; only
the edges (api, cli, praise_api, praise_cli, the web pages) and the composition root reach those.
"""

__all__ = ["actions", "models"]
