"""Prometheus metrics of alert intake, counted after the events are committed (on every intake
request: lock-free counters, see :mod:`commandpost.lockfree_metrics`)."""

from __future__ import annotations

from commandpost.lockfree_metrics import Counter, Histogram

UNRUNBOOKED_PAGES = Counter(
    "commandpost_unrunbooked_pages",
    "Paging alerts that arrived without a runbook (guide §4: every paging alert has one)",
    ["service"],
)
EVENTS = Counter(
    "commandpost_alert_events", "Alert events accepted, by source and outcome", ["source", "outcome"]
)
REJECTED = Counter(
    "commandpost_alert_rejected", "Intake requests refused, by source and HTTP status", ["source", "status"]
)
BATCH_SIZE = Histogram(
    "commandpost_alert_commit_batch_requests",
    "Intake requests committed together in one transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
