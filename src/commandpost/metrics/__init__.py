"""Metrics that decide where to invest (guide §6-1, §7): MTTx, error budgets and burn rates,
on-call health, alert quality and toil.

Face: none, metrics is the top layer and no other domain imports it. Every module is internal;
only the edges (api, cli, the web pages) and the composition root reach them.
"""

__all__: list[str] = []
