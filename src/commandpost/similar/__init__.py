"""Similar past incidents (issue 21): which earlier incidents look like this one, and what they teach.

Face, what other domains import: nothing (only the edges and the composition root use it).
Internal: rules, schemas, service.
"""

__all__: list[str] = []
