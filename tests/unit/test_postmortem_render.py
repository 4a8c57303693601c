"""Transcribing the live document and rendering Markdown, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from commandpost.incidents.models import TimelineEntry
from commandpost.postmortems import draft, render
from commandpost.postmortems.sections import HINTS, SECTION_NAMES, SECTION_TITLES

T0 = datetime(2026, 11, 24, 14, 50, tzinfo=UTC)  # 23:50 JST: the timeline crosses midnight


def _entry(
    i: int, kind: str, text: str, *, author: str = "yuta", minutes: int = 0, **data: Any
) -> TimelineEntry:
    corrects = data.pop("corrects", None)
    if "page_kind" in data:  # ``kind`` is the entry's own argument
        data["kind"] = data.pop("page_kind")
    return TimelineEntry(
        id=i, incident_id=1, at=T0 + timedelta(minutes=minutes), author=author, kind=kind, text=text,
        data=data, corrects_id=corrects,
    )  # fmt: skip


ENTRIES = [
    _entry(
        1, "system", "INC-3 declared SEV2 on payment-platform by @yuta: Receipts stuck", detection="manual"
    ),
    _entry(2, "role", "INC-3: @yuta is IC"),
    _entry(3, "system", "INC-3: command post is #inc-3", channel="inc-3"),
    _entry(4, "note", "looking at the receipts job", minutes=2),
    _entry(5, "handover", "INC-3: Ops offered to @ken by @yuta", minutes=3, state="pending"),
    _entry(6, "handover", "INC-3: @ken accepted Ops from @yuta", author="ken", minutes=4, state="accepted"),
    _entry(7, "page", "INC-3: SEV2 paged level 1: @hana", author="commandpost", minutes=5, page_kind="page"),
    _entry(8, "page", "INC-3: SEV2 FYI to #payments", author="commandpost", minutes=5, page_kind="fyi"),
    _entry(9, "severity", "INC-3: severity SEV2 → SEV1 by @yuta: all charging affected", minutes=8),
    _entry(10, "action", "restarted the  receipts\njob", author="ken", minutes=11),
    _entry(11, "action", "restarted the receipts job twice", author="ken", minutes=12, corrects=10),
    _entry(
        12,
        "comms",
        "[SEV1] Receipts delayed\nNext update 00:30",
        minutes=13,
        comms_kind="update",
        audience="external",
    ),
    _entry(
        13,
        "runbook_step",
        "rb step 3.2-ab12cd done by @ken: Restart it: `systemctl restart receipts`",
        author="ken",
        minutes=14,
        section=3,
        state="done",
        step="3.2-ab12cd",
    ),
    _entry(
        14,
        "runbook_step",
        "rb step 4.1-ffffff done by @ken: Receipts flow again",
        author="ken",
        minutes=20,
        section=4,
        state="done",
        step="4.1-ffffff",
    ),
    _entry(
        15,
        "page",
        "INC-3: escalation stopped — acknowledged by hana",
        author="commandpost",
        minutes=21,
        escalation="acknowledged",
    ),
    _entry(16, "status", "INC-3 investigating → resolved by @yuta", minutes=30),
]


def test_transcription_keeps_what_a_reader_needs_in_order():
    rows = draft.transcribe(ENTRIES, detection="manual")
    assert [(r.entry_id, r.text) for r in rows] == [
        (1, "declared SEV2 on payment-platform by @yuta: Receipts stuck (manual detection)"),
        (2, "@yuta is IC"),
        (6, "@ken accepted Ops from @yuta"),
        (7, "SEV2 paged level 1: @hana"),
        (8, "SEV2 FYI to #payments"),
        (9, "severity SEV2 → SEV1 by @yuta: all charging affected"),
        (10, "@ken: restarted the receipts job"),
        (11, "@ken: restarted the receipts job twice (corrects entry #10)"),
        (12, "update (external) by @yuta: [SEV1] Receipts delayed …"),
        (13, "rb step 3.2 done by @ken: Restart it"),
        (14, "rb step 4.1 done by @ken: Receipts flow again"),
        (15, "escalation stopped — acknowledged by hana"),
        (16, "investigating → resolved by @yuta"),
    ]


def test_interventions_and_pages():
    found = draft.interventions(ENTRIES)
    assert [(i.what, i.author, i.step) for i in found] == [
        ("action", "ken", None),
        ("action", "ken", None),
        ("mitigate_step", "ken", "3.2-ab12cd"),  # Verify steps are not interventions
    ]
    assert sum(1 for e in ENTRIES if draft._is_page(e)) == 1


def test_a_timeline_across_midnight_gets_date_lines():
    text = draft.timeline_markdown(
        draft.transcribe(ENTRIES[:2] + ENTRIES[-1:], detection="manual"), "Asia/Tokyo"
    )
    assert text.splitlines() == [
        "**2026-11-24**",
        "- 23:50 **system** declared SEV2 on payment-platform by @yuta: Receipts stuck (manual detection)",
        "- 23:50 **role** @yuta is IC",
        "**2026-11-25**",
        "- 00:20 **status** investigating → resolved by @yuta",
    ]


FACTS = {
    "number": "INC-3",
    "severity": "SEV1",
    "service": None,
    "timezone": "Asia/Tokyo",
    "detected_at": T0.isoformat(),
    "resolved_at": None,
    "alerts": 0,
    "pages": 1,
    "comms": 1,
    "data_loss": True,
}


def _doc(**overrides: Any) -> render.Document:
    values: dict[str, Any] = {
        "title": "Receipts stuck",
        "status": "draft",
        "author": None,
        "reviewer": None,
        "revision": 0,
        "sections": {},
        "facts": FACTS,
        "criteria": {"summary": "required: SEV1; data loss"},
    }
    values.update(overrides)
    return render.Document(**values)


def test_empty_sections_show_their_hints_and_unresolved_impact_says_so():
    md = render.markdown(_doc())
    assert "- **Status:** Draft · **Author:** — · **Reviewer:** — · **Date:** 2026-11-24" in md
    assert "- **Incident:** INC-3 · service —\n- **Criteria:** required: SEV1; data loss" in md
    assert "- Duration: detected 23:50, not recovered yet" in md
    assert "- Data loss: yes" in md
    assert "> _To fill:_ Ask why five times, each answer the cause of the one before:\n> 1. Why did" in md
    assert "> _To fill:_ at least one SMART action item" in md
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "# Postmortem: Receipts stuck (SEV1)", "## Summary", "## Impact",
        "## Timeline (transcribed from the live document, Asia/Tokyo)", "## Root cause", "### Five whys",
        "### Technical factor", "### Process factor", "## Detection",
        "## What went well / what went poorly in the response", "### Went well", "### Went poorly",
        "### Where we got lucky", "## Action items",
    ]  # fmt: skip


def test_action_items_table_escapes_cells_and_lists_verifications_and_runbooks():
    items = [
        render.Item(
            7,
            "Split the | receipts\njob",
            "prevent",
            "ken",
            "2026-12-01",
            None,
            "in_progress",
            "kill it in a drill; receipts keep flowing",
            "receipts",
        ),
    ]
    md = render.action_items(_doc(items=items))
    assert (
        md.splitlines()[2]
        == "| 7 | Split the \\| receipts job | prevent | @ken | 2026-12-01 | — | in progress |"
    )
    assert "- #7: kill it in a drill; receipts keep flowing" in md
    assert "- #7: update runbook `receipts`" in md
    assert (
        render.action_items(_doc(no_action_reason="duplicate of INC-2"))
        == "No action needed: duplicate of INC-2"
    )


def test_multi_line_impact_text_stays_inside_its_bullet():
    md = render.impact(
        _doc(sections={"user_impact": "412 merchants\n1,832 charges late", "business_impact": "none"})
    )
    assert "- User impact: 412 merchants\n  1,832 charges late\n- Business impact: none" in md


def test_every_section_has_a_hint_and_a_title():
    assert set(HINTS) == set(SECTION_NAMES) == set(SECTION_TITLES)
