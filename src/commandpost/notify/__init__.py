"""Notifications: the outbox, channels (console, Slack, email, webhook, push, SMS, voice), and the sender.

Face, what other domains import: ``models`` (the outbox tables), ``rules`` (pure delivery rules),
``service`` (enqueue, recipients, history) and ``receipts`` (delivery callbacks, falling through).
Internal: channels, phones, schemas, sender, signing, ssrf; only the edges (api, cli, the web
pages) and the composition root reach those.
"""

__all__ = ["models", "receipts", "rules", "service"]
