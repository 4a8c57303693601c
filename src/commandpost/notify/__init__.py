"""Notifications: the outbox, channels (console, Slack, email, webhook), and the sender that delivers.

Face, what other domains import: ``models`` (the outbox tables), ``rules`` (pure delivery rules) and
``service`` (enqueue, recipients, history). Internal: channels, schemas, sender, signing, ssrf; only
the edges (api, cli, the web pages) and the composition root reach those.
"""

__all__ = ["models", "rules", "service"]
