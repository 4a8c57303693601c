"""Alert intake (guide §4): every source's native format → one normalized event → dedup → routing.

Face, what other domains import: ``models`` (the alert tables), ``normalized`` (the one event shape),
``rules`` (routing decisions) and ``service`` (store, dedup, route, read). Internal: dedup, heartbeats,
hooks, intake, metrics, processors, promrules, schemas, scrub, sources, subscriptions, timebounds;
only the edges (api, cli, the web pages) and the composition root reach those.
"""

__all__ = ["models", "normalized", "rules", "service"]
