"""Metrics that decide where to invest (guide §6-1, §7): MTTx, error budgets and burn rates,
on-call health, alert quality and toil."""
