"""Seams where paging (and similar incidents) plug into alert intake, without alerts importing them
(both are built on alerts). :mod:`commandpost.wiring` connects them; see :mod:`commandpost.seams`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from commandpost.seams import Seam

if TYPE_CHECKING:
    from commandpost.incidents.models import Incident

acknowledged_at_source: Seam[[Session, int, str, datetime]] = Seam("alerts.acknowledged_at_source")
"""Someone took the page at the alert's source (PagerDuty ``acknowledge``): ``(session, incident
number, by, now)``; escalation of that incident to its next level stops."""
incident_opened: Seam[[Session, Incident, datetime]] = Seam("alerts.incident_opened")
"""An alert opened an incident and is now attached to it (incidents' own ``incident_opened`` runs
before the alert is linked): what needs the alert's identity — similar past incidents — runs here."""
