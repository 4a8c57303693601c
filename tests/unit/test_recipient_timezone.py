"""Every message is written in its recipient's own timezone, the incident's (or schedule's) in brackets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from commandpost.incidents import timeline
from commandpost.oncall.handoff_notice import HandoffNotice
from commandpost.oncall.rules import Handoff

AT = datetime(2026, 6, 29, 1, 0, tzinfo=UTC)  # Monday 10:00 JST, 03:00 CEST


def test_local_for_brackets_the_incident_zone_only_where_it_differs() -> None:
    assert timeline.local_for(AT, "Europe/Berlin", "Asia/Tokyo") == "03:00 CEST [10:00 JST]"
    assert timeline.local_for(AT, "Asia/Tokyo", "Asia/Tokyo") == "10:00 JST"
    assert timeline.local_for(AT, "Asia/Seoul", "Asia/Tokyo") == "10:00 KST [10:00 JST]"


def test_a_handoff_notice_reads_in_each_persons_own_timezone() -> None:
    at = AT
    handoff = Handoff(at=at, schedule="payment-platform", layer="primary", outgoing="yuta", incoming="hana")
    notice = HandoffNotice(
        handoff,
        "Asia/Tokyo",
        since=at - timedelta(days=7),
        zones={"hana": "Europe/Berlin", "yuta": "Asia/Tokyo"},
    )
    assert notice.subject("hana") == (
        "[handoff] you are on call for payment-platform primary from Mon 2026-06-29 03:00 CEST "
        "[Mon 2026-06-29 10:00 JST] (from @yuta)"
    )
    assert notice.subject("yuta") == (
        "[handoff] your payment-platform primary shift ends Mon 2026-06-29 10:00 JST: hand over to @hana"
    )
