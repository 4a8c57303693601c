"""Metrics tables: pushed SLI counts with their rollups, burn-alert state, and the response fact table.

- ``slo_series``: one row per (service, SLO) that has received counts; events refer to it by id so
  the 10-million-row event table stays narrow.
- ``slo_event``: pushed counts. (series, client_id) is unique: a retried batch inserts nothing
  (``INSERT … ON CONFLICT DO NOTHING``), and only the rows actually inserted reach the rollups.
- ``slo_rollup``: good/total summed per bucket of 60 s, 3 600 s and 86 400 s (``size``), bucket =
  epoch seconds of its start. Maintained in the same transaction as the insert, so a window sum
  reads at most a few hundred rows per SLO (days, then hours, then minutes at the edges).
- ``slo_alert_state``: whether a burn-rate condition is firing; the processor flips it with a
  conditional UPDATE, so two engine replicas raise or resolve the alert once.
- ``incident_response``: one narrow row per non-drill incident with its durations in whole
  seconds, kept by database triggers on ``incident`` (migration 0010), and
  ``incident_response_day``: counts and sums per (severity, service, UTC day), and
  ``incident_response_hist``: how many values of each duration fall in each of
  :data:`DURATION_BUCKETS` per (UTC day, severity), both kept by triggers on ``incident_response``.
  A percentile finds its bucket from the histogram, then walks that bucket's stretch of the
  per-metric covering index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from commandpost.db.base import Base

RESPONSE_METRICS = ("ttd", "tta", "ttm", "ttr")
"""Columns of ``incident_response``: the durations behind MTTD, MTTA, MTTM and MTTR."""
DURATION_BUCKETS = (
    *(10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200),
    *(10800, 14400, 21600, 28800, 43200, 64800, 86400, 129600, 172800, 259200, 432000, 604800),
    *(1209600, 2592000),
)
"""Upper bounds (seconds, exclusive) of the histogram buckets; bucket i holds [bound i−1, bound i),
the last one everything from 30 days. The migration installs the same bounds in its triggers."""


class SloSeries(Base):
    __tablename__ = "slo_series"
    __table_args__ = (UniqueConstraint("service", "slo"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service: Mapped[str] = mapped_column(String(100))
    slo: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class SloEvent(Base):
    __tablename__ = "slo_event"
    __table_args__ = (UniqueConstraint("series_id", "client_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("slo_series.id"))
    client_id: Mapped[str] = mapped_column(String(200), doc="the pusher's id of this count: retries dedupe")
    at: Mapped[datetime]
    good: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)


class SloRollup(Base):
    __tablename__ = "slo_rollup"

    size: Mapped[int] = mapped_column(Integer, primary_key=True, doc="bucket length in seconds")
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="epoch seconds of the start")
    series_id: Mapped[int] = mapped_column(ForeignKey("slo_series.id"), primary_key=True)
    good: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)


class SloAlertState(Base):
    __tablename__ = "slo_alert_state"

    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    slo: Mapped[str] = mapped_column(String(100), primary_key=True)
    condition: Mapped[str] = mapped_column(String(20), primary_key=True)
    firing: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime]
    alert_id: Mapped[int | None] = mapped_column(Integer, doc="the alert intake opened when it fired")


class IncidentResponse(Base):
    __tablename__ = "incident_response"
    __table_args__ = (
        Index("ix_incident_response_incident_id", "incident_id", unique=True),
        Index("ix_incident_response_service", "service", "severity", "impact_start"),
        *(Index(f"ix_incident_response_{m}", "severity", m, "detected", "service") for m in RESPONSE_METRICS),
        {"sqlite_with_rowid": False},
    )

    severity: Mapped[str] = mapped_column(String(10), primary_key=True)
    detected: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="epoch seconds")
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    service: Mapped[str] = mapped_column(String(100), default="")
    impact_start: Mapped[int] = mapped_column(BigInteger, doc="impact_started_at, else detected_at")
    impact_end: Mapped[int | None] = mapped_column(BigInteger, doc="mitigated_at, else resolved_at")
    ttd: Mapped[int | None] = mapped_column(Integer, doc="detected − impact started, seconds")
    tta: Mapped[int | None] = mapped_column(Integer, doc="acknowledged − detected")
    ttm: Mapped[int | None] = mapped_column(Integer, doc="mitigated − detected")
    ttr: Mapped[int | None] = mapped_column(Integer, doc="resolved − detected")


class IncidentResponseDay(Base):
    __tablename__ = "incident_response_day"

    severity: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="epoch seconds of the UTC day")
    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    incidents: Mapped[int] = mapped_column(Integer, default=0)
    n_ttd: Mapped[int] = mapped_column(Integer, default=0)
    s_ttd: Mapped[int] = mapped_column(BigInteger, default=0)
    n_tta: Mapped[int] = mapped_column(Integer, default=0)
    s_tta: Mapped[int] = mapped_column(BigInteger, default=0)
    n_ttm: Mapped[int] = mapped_column(Integer, default=0)
    s_ttm: Mapped[int] = mapped_column(BigInteger, default=0)
    n_ttr: Mapped[int] = mapped_column(Integer, default=0)
    s_ttr: Mapped[int] = mapped_column(BigInteger, default=0)


class IncidentResponseHist(Base):
    __tablename__ = "incident_response_hist"

    day: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="epoch seconds of the UTC day")
    severity: Mapped[str] = mapped_column(String(10), primary_key=True)
    metric: Mapped[str] = mapped_column(String(3), primary_key=True, doc="ttd, tta, ttm or ttr")
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, doc="index into DURATION_BUCKETS")
    n: Mapped[int] = mapped_column(Integer, default=0)
