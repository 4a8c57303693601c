"""Prometheus gauges for error budgets, burn rates and freezes, exposed at ``/metrics``.

The burn-rate processor publishes them once a minute from the same SQL it alerts on, so a
scrape never runs a query; a replica whose engine is off shows none (its gauges stay empty).
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Gauge

from commandpost.metrics.slo import SloStatus, freezes

BUDGET_REMAINING = Gauge(
    "commandpost_slo_error_budget_remaining_ratio",
    "Share of the SLO window's error budget still unspent (1 = untouched, 0 or less = exhausted)",
    ["service", "slo"],
)
# The unit is part of the name (Prometheus naming: one unit per metric, never in a label), so a
# sum or a comparison never mixes bad events with bad seconds.
BUDGET_CONSUMED = {
    unit: Gauge(
        f"commandpost_slo_error_budget_consumed_{unit}",
        f"Error consumed in the SLO window, in bad {unit} ({kind}-based SLOs)",
        ["service", "slo"],
    )
    for unit, kind in (("events", "event"), ("seconds", "time"))
}
BUDGET_ALLOWED = {
    unit: Gauge(
        f"commandpost_slo_error_budget_allowed_{unit}",
        f"Error allowed in the SLO window, in bad {unit} ({kind}-based SLOs)",
        ["service", "slo"],
    )
    for unit, kind in (("events", "event"), ("seconds", "time"))
}
BURN_RATE = Gauge(
    "commandpost_slo_burn_rate",
    "Error ratio over the window divided by the SLO's allowed error ratio (1 = spends exactly the budget)",
    ["service", "slo", "window"],
)
FREEZE = Gauge(
    "commandpost_slo_freeze",
    "1 while any SLO of the service has exhausted its error budget (guide §7: freeze features)",
    ["service"],
)
_ALL = (BUDGET_REMAINING, *BUDGET_CONSUMED.values(), *BUDGET_ALLOWED.values(), BURN_RATE, FREEZE)


def publish(statuses: Sequence[SloStatus]) -> None:
    """Replace every gauge's series with these statuses (SLOs removed from ops disappear)."""
    for gauge in _ALL:
        gauge.clear()
    for st in statuses:
        budget = st.budget
        if budget is not None:
            ratio = budget.remaining_ratio
            if ratio is not None:
                BUDGET_REMAINING.labels(st.service, st.slo.name).set(float(ratio))
            BUDGET_CONSUMED[budget.unit].labels(st.service, st.slo.name).set(float(budget.consumed))
            BUDGET_ALLOWED[budget.unit].labels(st.service, st.slo.name).set(float(budget.allowed))
        for window, burn in st.burn.items():
            if burn is not None:
                BURN_RATE.labels(st.service, st.slo.name, window).set(float(burn))
    for freeze in freezes(statuses):
        FREEZE.labels(freeze.service).set(1 if freeze.frozen else 0)
