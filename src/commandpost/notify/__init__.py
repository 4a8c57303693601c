"""Notifications: the outbox, channels (console, Slack, email, webhook), and the sender that delivers."""
