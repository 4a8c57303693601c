"""Seams where other domains plug into the incident lifecycle, without incidents importing them.

Each seam runs its targets *inside* the caller's transaction, in order, after the incident change
and its timeline entry are flushed. A target that raises rolls the whole change back, so targets
decide (insert rows), never send. :mod:`commandpost.wiring` connects every seam; one that was
never connected raises :class:`~commandpost.seams.NotWired`.

What the root connects:
- ``incident_opened`` / ``severity_raised``: paging starts or restarts escalation (its FYI to the
  severity route's ``notify`` targets also announces the command post to the team channel).
- ``comms_overdue`` / ``role_offered`` / ``offer_closed``: :mod:`commandpost.incidents.notices` tells
  the effective Comms holder, the person offered a role, and the offerer when the offer is declined or
  expires.
- ``comms_posted`` / ``command_post_opened``: nothing (the channel is announced by the FYI).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from commandpost.seams import Seam

if TYPE_CHECKING:
    from commandpost.incidents.models import Incident, RoleOffer, TimelineEntry

incident_opened: Seam[[Session, Incident, datetime]] = Seam("incidents.incident_opened")
"""An incident was declared by a person or opened from an alert."""
severity_raised: Seam[[Session, Incident, str, str, datetime]] = Seam("incidents.severity_raised")
"""Severity went up (e.g. SEV2 → SEV1): the new severity's paging applies from now."""
command_post_opened: Seam[[Session, Incident, TimelineEntry, datetime]] = Seam(
    "incidents.command_post_opened"
)
comms_posted: Seam[[Session, Incident, TimelineEntry, datetime]] = Seam("incidents.comms_posted")
comms_overdue: Seam[[Session, Incident, TimelineEntry, datetime]] = Seam("incidents.comms_overdue")
role_offered: Seam[[Session, Incident, RoleOffer, datetime]] = Seam("incidents.role_offered")
offer_closed: Seam[[Session, Incident, RoleOffer, datetime]] = Seam("incidents.offer_closed")
"""An offer was declined or expired unanswered: whoever made it should know the role stayed put."""
