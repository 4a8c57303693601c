"""The background engine: processors that decide, one sender that sends, coordinated through the database.

Face, what other domains import: ``processor`` (the interface a processor implements) and
``wakeup`` (wake the engine when new work is committed). Internal: lease, models, runner; only the
composition root and the app reach those.
"""

__all__ = ["processor", "wakeup"]
