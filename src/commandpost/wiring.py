"""The composition root: the one place that connects the domains to each other.

Domains never register themselves at import time. A lower layer that must hand control to a higher
one declares a seam (:mod:`commandpost.seams`) and :func:`wire` connects every seam here; the engine's
processors are listed once, in :func:`engine_plan`; the API routers in :func:`routers`. ``create_app``,
the CLI and the demo call :func:`wire` before they decide anything. A process that never calls it
raises :class:`~commandpost.seams.NotWired` at its first incident instead of opening one that pages
nobody.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from commandpost.alerts import heartbeats
from commandpost.alerts import hooks as alert_hooks
from commandpost.alerts.sources import sns_confirm
from commandpost.engine.processor import PassPlan
from commandpost.incidents import hooks as incident_hooks
from commandpost.incidents import notices
from commandpost.metrics import opscheck
from commandpost.oncall import service as oncall_service
from commandpost.paging import service as paging_service
from commandpost.policy import hooks as policy_hooks
from commandpost.security import ops_secrets
from commandpost.settings import Settings
from commandpost.similar import service as similar_service

if TYPE_CHECKING:
    from commandpost.postmortems.trackers import Trackers


def wire(settings: Settings) -> None:
    """Connect every seam for this process (again: the last call's settings win)."""
    sns_confirm.hide_tokens(logging.getLogger("httpx"))  # it logs each URL, a confirmation's token too
    incident_hooks.incident_opened.connect(paging_service.start, similar_service.note_declared)
    incident_hooks.severity_raised.connect(paging_service.restart)
    incident_hooks.command_post_opened.connect()  # the team channel hears of it in paging's FYI
    incident_hooks.comms_posted.connect()
    incident_hooks.comms_overdue.connect(partial(notices.comms_overdue, settings=settings))
    incident_hooks.role_offered.connect(partial(notices.role_offered, settings=settings))
    incident_hooks.offer_closed.connect(partial(notices.offer_closed, settings=settings))
    alert_hooks.acknowledged_at_source.connect(_stop_escalation)
    alert_hooks.incident_opened.connect(similar_service.note_opened)
    policy_hooks.ops_applied.connect(oncall_service.sync_rotations, heartbeats.sync)
    policy_hooks.service_checked.connect(opscheck.check_service)
    policy_hooks.ops_read.connect(ops_secrets.check_folder)


def _stop_escalation(session: Session, number: int, by: str, now: datetime) -> None:
    paging_service.acknowledge_number(session, number=number, by=by, now=now)


def tracker_client(settings: Settings) -> Trackers:
    """The action items' tracker client (the ticket API and the engine's TicketSync): the tokens from
    the settings, every request through notify's outbound guard — the tracker's address comes from
    the ops folder — to the address the guard checked (Host header and TLS name kept)."""
    from commandpost.notify.ssrf import OutboundGuard, Refused, Unresolvable
    from commandpost.postmortems import trackers

    guard = OutboundGuard(settings.outbound_allowlist)

    def outbound(url: str) -> trackers.Pinned:
        try:
            target = guard.check(url)
        except (Refused, Unresolvable) as exc:
            raise trackers.OutboundRefused(str(exc)) from None
        address = target.addresses[0]
        netloc = f"[{address}]:{target.port}" if ":" in address else f"{address}:{target.port}"
        sni = target.host if target.scheme == "https" and not target.host_is_ip else None
        return trackers.Pinned(urlsplit(url)._replace(netloc=netloc).geturl(), target.host_header, sni)

    tokens = {name: getattr(settings, f"{name}_token").get_secret_value() for name in trackers.TRACKERS}
    return trackers.Trackers(tokens=tokens, outbound=outbound, timeout=settings.tracker_timeout_seconds)


def engine_plan(settings: Settings) -> PassPlan:
    """The engine's processors, each once; :class:`PassPlan` says the order of one pass."""
    from commandpost.alerts.processors import HeartbeatsDue
    from commandpost.drills.processors import DrillPrompts
    from commandpost.incidents.processors import CommsReminders, HandoverExpiry
    from commandpost.metrics.processors import BurnRateAlerts
    from commandpost.notify.channels import Channels
    from commandpost.notify.sender import NotificationSender
    from commandpost.oncall.processors import HandoffNotices
    from commandpost.paging.processors import AlertChannelNotices, EscalationsDue
    from commandpost.postmortems.processors import ActionItemReminders, Criteria, TicketSync
    from commandpost.slack.command_post import CommandPost

    return PassPlan(
        pages=(EscalationsDue(settings),),
        decide=(
            HeartbeatsDue(),  # first: a miss that pages is paged in this pass's second half
            HandoverExpiry(),
            DrillPrompts(),
            CommsReminders(),
            HandoffNotices(),
            Criteria(),
            ActionItemReminders(),
            TicketSync(tracker_client(settings), every=timedelta(seconds=settings.tracker_sync_seconds)),
            BurnRateAlerts(),  # before the channel notices: a SEV3 it raises is told this pass
            AlertChannelNotices(settings),
            CommandPost(settings),  # last: the channel's opening message names who was paged
        ),
        send=(NotificationSender(settings, channels=Channels(settings)),),
    )


def routers() -> list[Any]:
    """Every domain's API router, in the order the app mounts them."""
    from commandpost.alerts import api as alerts_api
    from commandpost.drills import api as drills_api
    from commandpost.incidents import api as incidents_api
    from commandpost.metrics import api as metrics_api
    from commandpost.notify import api as notify_api
    from commandpost.oncall import api as oncall_api
    from commandpost.paging import api as paging_api
    from commandpost.paging import phone_api
    from commandpost.policy import api as policy_api
    from commandpost.postmortems import api as postmortems_api
    from commandpost.postmortems import praise_api
    from commandpost.runbooks import api as runbooks_api
    from commandpost.security import api as security_api
    from commandpost.similar import api as similar_api
    from commandpost.slack import api as slack_api

    return [
        alerts_api.intake_router,  # first: the hot intake paths match without scanning the others
        alerts_api.router,
        security_api.router,
        policy_api.router,
        incidents_api.router,
        similar_api.router,
        oncall_api.router,
        oncall_api.ical_router,
        paging_api.router,
        phone_api.router,
        notify_api.router,
        runbooks_api.router,
        postmortems_api.router,
        praise_api.router,
        drills_api.router,
        metrics_api.router,
        slack_api.router,
    ]
