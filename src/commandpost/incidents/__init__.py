"""Incidents (guide §1, §2): lifecycle, severity, roles with explicit handover, timeline, comms.

Face, what other domains import: ``models`` (the incident tables), ``roles`` (who holds which role),
``rules`` (the status machine, numbers, names), ``service`` (the use cases) and ``timeline`` (fetch
and lock an incident, append to its record). Internal: comms, details, hooks, inputs, notices,
processors, publish, public_status, schemas; only the edges (api, cli, the web pages) and the
composition root reach those.
"""

__all__ = ["models", "roles", "rules", "service", "timeline"]
