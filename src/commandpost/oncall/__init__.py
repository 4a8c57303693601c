"""On-call: schedules and rotations -> who is on call at an instant; overrides; shift swaps; handoffs;
iCal feeds.

Face, what other domains import: ``service`` (who is on call, shifts, handoffs, overrides).
Internal: feeds, handoff_notice, ical, models, processors, rules, schemas, swap_rules, swaps; only the
edges (api, cli, the web pages) and the composition root reach those.
"""

__all__ = ["service"]
