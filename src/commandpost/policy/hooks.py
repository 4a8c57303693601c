"""Seams where other domains plug into the ops folder's check and apply, without policy importing
them (they are all built on policy). :mod:`commandpost.wiring` connects them; see
:mod:`commandpost.seams`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from commandpost.seams import Seam

if TYPE_CHECKING:
    from commandpost.policy.findings import Source
    from commandpost.policy.ops_services import Service
    from commandpost.policy.opsfiles import OpsConfig
    from commandpost.policy.xref import Names, Report

ops_applied: Seam[[Session, OpsConfig, datetime]] = Seam("policy.ops_applied")
"""A new revision was stored: on-call keeps who is on call now across a changed rotation."""
service_checked: Seam[[Service, Source, Names, Report]] = Seam("policy.service_checked")
"""One service of the ops folder, checked against what other domains make of it: a paging SEV must
fit the SLO's allowed downtime, and the engine's own burn-rate pages must reach a paging rule."""
ops_read: Seam[[dict[str, str], Report]] = Seam("policy.ops_read")
"""Every file of an ops folder was read (relative path → text): security refuses the credentials
written in them (the folder lives in git, and apply stores it as it is) and redacts what the
report's findings quote."""
