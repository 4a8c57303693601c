"""``make reliability``: fault-injection checks against real ``commandpost serve`` processes on loopback.

One module per check; each has ``run(...) -> list[Figure]`` whose defaults are the full run and
whose small arguments are what ``tests/reliability`` runs inside ``make test``. See docs/reliability.md.
"""
