"""The engine's processors, in the order one pass runs them. Each domain adds its own here."""

from __future__ import annotations

from commandpost.engine.processor import Processor
from commandpost.settings import Settings


def processors(settings: Settings) -> list[Processor]:
    """The runner's own settings go to the processors that read them (page links use its base URL)."""
    from commandpost.incidents.processors import CommsReminders, HandoverExpiry
    from commandpost.metrics.processors import BurnRateAlerts
    from commandpost.notify.sender import NotificationSender
    from commandpost.oncall.processors import HandoffNotices
    from commandpost.paging.processors import AlertChannelNotices, EscalationsDue, SendPagesFirst
    from commandpost.postmortems.processors import ActionItemReminders, Criteria

    escalations, sender = EscalationsDue(settings), NotificationSender(settings)
    # The sender runs last, so a pass sends what the processors before it decided.
    return [
        escalations,  # pages first: a level that fell due is decided and sent before anything else runs
        SendPagesFirst(sender),
        HandoverExpiry(),
        CommsReminders(),
        HandoffNotices(),
        Criteria(),
        ActionItemReminders(),
        BurnRateAlerts(),  # before escalations: an SLO page raised now goes out in this pass
        AlertChannelNotices(settings),  # after the burn-rate alerts: a SEV3 they raise is told this pass
        escalations,  # right before the sender: a page due now goes out in the same pass
        sender,
    ]
