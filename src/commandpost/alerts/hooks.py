"""Seams where paging plugs into alert intake, without alerts importing paging (paging is built on
alerts). :mod:`commandpost.wiring` connects them; see :mod:`commandpost.seams`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from commandpost.seams import Seam

acknowledged_at_source: Seam[[Session, int, str, datetime]] = Seam("alerts.acknowledged_at_source")
"""Someone took the page at the alert's source (PagerDuty ``acknowledge``): ``(session, incident
number, by, now)``; escalation of that incident to its next level stops."""
