"""Drills (guide §5, Wheel of Misfortune): replay a past incident as a drill incident, score it.

Face, what other domains import: nothing (only the edges and the composition root use it).
Internal: models, processors, rules, schemas, service.
"""

__all__: list[str] = []
