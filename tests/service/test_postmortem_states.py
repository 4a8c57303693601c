"""Review states on a real database: Draft → In Review → Final, the checks Final makes, revisions on
edit-after-final, reopen, strict blameless, and the runbook flagged for update. SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from commandpost.db.engine import transaction
from commandpost.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from commandpost.incidents import service, timeline
from commandpost.policy import service as policy_service
from commandpost.postmortems import actions
from commandpost.postmortems import service as pm_service
from commandpost.postmortems.models import PostmortemRevision
from commandpost.runbooks import service as runbooks_service

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ops"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # after the example runbook's last_updated (2026-11-01)
FILLED = {
    "user_impact": "1,832 charges confirmed late.",
    "business_impact": "Receipts delayed; the ledger reconciled.",
    "root_cause": "1. Why? The consumer crashed.\n2. Why? An unknown event type was fatal.",
    "technical_factor": "Unknown event types were fatal in the consumer.",
    "process_factor": "The provider changelog was not on the release checklist.",
    "went_well": "The rollback step worked.",
    "went_poorly": "The DLQ had no dashboard panel.",
    "got_lucky": "It happened in business hours.",
}


def _drafted(sessions, clock) -> int:  # type: ignore[no-untyped-def]
    """A declared SEV2 (manual detection: the draft pre-fills the missing-alert item), resolved, evaluated."""
    clock.set(NOW)
    with transaction(sessions) as s:
        number = service.declare(
            s,
            title="Receipts not issued",
            severity="SEV2",
            service="payment-platform",
            actor="yuta",
            now=clock.now(),
        ).number
    clock.advance(minutes=40)
    with transaction(sessions) as s:
        incident = timeline.incident(s, number=number, for_update=True)
        service.change_status(s, incident=incident, status="resolved", actor="yuta", now=clock.now())
        pm_service.evaluate(s, incident=incident, now=clock.now())
    return number


def _pm(sessions, number):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        _i, pm = pm_service.find(s, number=number)
        return pm


def _item_id(sessions, number) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        _i, pm = pm_service.find(s, number=number)
        return pm_service.items_of(s, pm=pm)[0].id


def _edit(sessions, clock, number, **sections):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return pm_service.edit(s, number=number, actor="yuta", now=clock.now(), sections=sections)


def _submit(sessions, clock, number, reviewer="hana"):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return pm_service.submit(s, number=number, reviewer=reviewer, actor="yuta", now=clock.now())


def _approve(sessions, clock, number, actor="hana"):  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return pm_service.approve(s, number=number, actor=actor, now=clock.now())


def _revisions(sessions, number) -> list[tuple[int, str, str]]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        _i, pm = pm_service.find(s, number=number)
        return [(r.revision, r.reason, r.sections["got_lucky"]) for r in pm_service.revisions(s, pm=pm)]


def _ticket(sessions, clock, number) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        actions.update_item(
            s, item_id=_item_id(sessions, number), changes={"ticket": "OPS-9"}, actor="yuta", now=clock.now()
        )


def test_submit_needs_a_known_reviewer_who_is_not_the_author(sessions, applied_ops, clock):
    number = _drafted(sessions, clock)
    with pytest.raises(ValidationFailed, match="unknown person @nobody; valid: @hana"):
        _submit(sessions, clock, number, reviewer="nobody")
    with pytest.raises(ValidationFailed, match="someone other than the author @yuta"):
        _submit(sessions, clock, number, reviewer="@yuta")
    assert _pm(sessions, number).status == "draft"
    pm, warnings = _submit(sessions, clock, number, reviewer="@hana")
    assert (pm.status, pm.reviewer, pm.submitted_at, warnings) == ("in_review", "hana", clock.now(), [])


def test_final_needs_the_reviewer_every_section_and_ticketed_items(sessions, applied_ops, clock):
    number = _drafted(sessions, clock)
    _submit(sessions, clock, number)
    with pytest.raises(Forbidden, match="only the reviewer @hana approves"):
        _approve(sessions, clock, number, actor="ken")
    with pytest.raises(Conflict) as caught:
        _approve(sessions, clock, number)
    assert caught.value.details["empty_sections"] == list(FILLED)
    assert caught.value.details["unticketed"] == [_item_id(sessions, number)]
    assert "empty required sections: user_impact, business_impact, root_cause" in caught.value.message
    assert _pm(sessions, number).status == "in_review"
    _edit(sessions, clock, number, **FILLED)
    with pytest.raises(Conflict, match=r"action item\(s\) without a ticket: #1"):
        _approve(sessions, clock, number)
    _ticket(sessions, clock, number)
    pm = _approve(sessions, clock, number)
    assert (pm.status, pm.revision, pm.approved_by, pm.finalized_at) == ("final", 1, "hana", clock.now())
    assert _revisions(sessions, number) == [(1, "approved", FILLED["got_lucky"])]
    with pytest.raises(InvalidTransition, match="is Final; it cannot approve"):
        _approve(sessions, clock, number)


def test_no_action_needed_must_be_explicit(sessions, applied_ops, clock):
    number = _drafted(sessions, clock)
    with transaction(sessions) as s, pytest.raises(ValidationFailed, match="wontfix needs a note"):
        actions.update_item(
            s,
            item_id=_item_id(sessions, number),
            changes={"status": "wontfix"},
            actor="yuta",
            now=clock.now(),
        )
    with transaction(sessions) as s:
        actions.update_item(
            s, item_id=_item_id(sessions, number),
            changes={"status": "wontfix", "note": "an alert exists: OPS-3"}, actor="yuta", now=clock.now(),
        )  # fmt: skip
    _edit(sessions, clock, number, **FILLED)
    _submit(sessions, clock, number)
    with pytest.raises(Conflict, match="no action items: add at least one"):
        _approve(sessions, clock, number)
    with transaction(sessions) as s:
        pm_service.edit(
            s,
            number=number,
            actor="yuta",
            now=clock.now(),
            no_action_reason="the receipts job is being retired",
        )
    assert _approve(sessions, clock, number).status == "final"


def test_editing_a_final_postmortem_makes_a_new_revision_and_keeps_the_old(sessions, applied_ops, clock):
    number = _drafted(sessions, clock)
    _ticket(sessions, clock, number)
    _edit(sessions, clock, number, **FILLED)
    _submit(sessions, clock, number)
    _approve(sessions, clock, number)
    clock.advance(days=2)
    pm = _edit(sessions, clock, number, got_lucky="It happened in business hours, with the author awake.")
    assert (pm.status, pm.revision) == ("final", 2)
    assert _revisions(sessions, number) == [
        (1, "approved", FILLED["got_lucky"]),
        (2, "edited", "It happened in business hours, with the author awake."),
    ]
    with transaction(sessions) as s:
        _i, pm = pm_service.find(s, number=number)
        old = pm_service.get_revision(s, pm=pm, revision=1)
        assert old.created_at == NOW + timedelta(minutes=40)  # approved, and never touched since
        assert FILLED["got_lucky"] in old.markdown and "revision 1" in old.markdown
    with pytest.raises(Conflict, match="an edit cannot empty required sections: went_well"):
        _edit(sessions, clock, number, went_well=" ")
    _edit(
        sessions, clock, number, got_lucky="It happened in business hours, with the author awake."
    )  # no change
    assert [r[0] for r in _revisions(sessions, number)] == [1, 2]
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(PostmortemRevision)) == 2


def test_reopen_goes_back_and_a_second_approval_is_a_new_revision(sessions, applied_ops, clock):
    number = _drafted(sessions, clock)
    _ticket(sessions, clock, number)
    _edit(sessions, clock, number, **FILLED)
    with pytest.raises(InvalidTransition, match="is Draft; it cannot reopen"), transaction(sessions) as s:
        pm_service.reopen(s, number=number, to=None, actor="yuta", now=clock.now())
    _submit(sessions, clock, number)
    _approve(sessions, clock, number)
    with transaction(sessions) as s:
        pm = pm_service.reopen(s, number=number, to=None, actor="yuta", now=clock.now())
        assert (pm.status, pm.submitted_at, pm.revision) == ("draft", None, 1)
    _edit(sessions, clock, number, got_lucky="Luck: the queue had headroom.")
    _submit(sessions, clock, number, reviewer="ken")
    assert _approve(sessions, clock, number, actor="ken").revision == 2
    assert _revisions(sessions, number)[1] == (2, "approved", "Luck: the queue had headroom.")


def test_a_not_required_postmortem_is_not_edited_until_started(sessions, applied_ops, clock):
    clock.set(NOW)
    with transaction(sessions) as s:
        incident, _ = service.open_or_attach(
            s, service="payment-platform", severity="SEV3", title="Slow export", group_key="x",
            impact_started_at=None, detected_at=None, runbook=None, no_runbook=True, source_summary="x",
            now=clock.now(),
        )  # fmt: skip
        service.change_status(s, incident=incident, status="resolved", actor="yuta", now=clock.now())
        pm_service.evaluate(s, incident=incident, now=clock.now())
        number = incident.number
    with pytest.raises(Conflict, match="needs no postmortem by the criteria; start one first"):
        _edit(sessions, clock, number, went_well="x")
    with transaction(sessions) as s:
        pm = pm_service.find(s, number=number)[1]
        with pytest.raises(Conflict, match="has no postmortem draft; start one first"):
            actions.add(
                s, pm=pm, incident=timeline.incident(s, number=number),
                title="Add an export latency alert now", type="prevent", owner="yuta",
                due=date(2026, 12, 1), ticket="OPS-1",
                verification="run the export load test",
                actor="yuta", now=clock.now(),
            )  # fmt: skip


# ---------------------------------------------------------------- blameless: warn and strict


def _apply(  # type: ignore[no-untyped-def]
    sessions,
    clock,
    tmp_path: Path,
    *,
    strict: bool = False,
    runbook_updated: str | None = None,
    vague_words: str | None = None,
):
    ops = tmp_path / "ops"
    shutil.copytree(EXAMPLE, ops)
    path = ops / "commandpost.yaml"
    if strict:
        path.write_text(path.read_text().replace("blameless: warn", "blameless: strict"))
    if vague_words:
        path.write_text(
            path.read_text().replace("blameless: warn", f"blameless: warn\n  vague_words: {vague_words}")
        )
    if runbook_updated:
        for path in (ops / "runbooks").glob("payment-webhook-backlog.md"):
            text = path.read_text().replace("2026-11-01", runbook_updated)
            path.write_text(text)
    with transaction(sessions) as s:
        policy_service.apply_folder(s, path=ops, now=clock.now(), actor="test")


def test_warn_mode_warns_at_review_and_strict_mode_blocks(sessions, applied_ops, clock, tmp_path):
    number = _drafted(sessions, clock)
    _ticket(sessions, clock, number)
    _edit(
        sessions,
        clock,
        number,
        **{**FILLED, "went_poorly": "@ken should have paged the DB team. Hana forgot."},
    )
    _, warnings = _submit(sessions, clock, number)
    assert [(w.section, w.actor, w.rule) for w in warnings] == [
        ("went_poorly", "@ken", "should-have"),
        ("went_poorly", "Hana", "actor-forgot"),
    ]
    _apply(sessions, clock, tmp_path, strict=True)
    with pytest.raises(Conflict) as caught:
        _approve(sessions, clock, number)
    assert caught.value.message.startswith(
        "blameless: strict — the postmortem of INC-1 makes a person the actor"
    )
    assert "went_poorly: '@ken should have paged the DB team.'" in caught.value.message
    assert len(caught.value.details["blameless"]) == 2
    assert _pm(sessions, number).status == "in_review"
    _edit(sessions, clock, number, went_poorly="Paging the DB team was not in the runbook.")
    assert _approve(sessions, clock, number).status == "final"
    with pytest.raises(Conflict, match="blameless: strict"):
        _edit(sessions, clock, number, root_cause="It was human error.")
    assert _pm(sessions, number).sections["root_cause"] == FILLED["root_cause"]


def test_strict_mode_blocks_submit(sessions, applied_ops, clock, tmp_path):
    number = _drafted(sessions, clock)
    _apply(sessions, clock, tmp_path, strict=True)
    _edit(sessions, clock, number, root_cause="@yuta deleted the receipts table.")
    with pytest.raises(Conflict, match="there was no guard preventing deletion"):
        _submit(sessions, clock, number)
    assert _pm(sessions, number).status == "draft"


# ---------------------------------------------------------------- SMART: the vague list is configured


def test_the_vague_wording_list_comes_from_commandpost_yaml(sessions, applied_ops, clock, tmp_path):
    number = _drafted(sessions, clock)
    _apply(sessions, clock, tmp_path, vague_words="[remember to, asap]")

    def add(title: str) -> None:
        with transaction(sessions) as s:
            incident, pm = pm_service.find(s, number=number, for_update=True)
            actions.add(
                s, pm=pm, incident=incident, title=title, type="process", owner="ken", due=date(2026, 12, 10),
                ticket="OPS-12", actor="yuta", now=clock.now(),
            )  # fmt: skip

    with pytest.raises(ValidationFailed) as caught:
        add("Remember to rotate the webhook signing secret ASAP")
    assert [(p["rule"], p["field"]) for p in caught.value.details["smart"]] == [("Specific", "title")] * 2
    # 'asap' is vague only because commandpost.yaml says so ('remember to' is filler either way)
    assert "'asap' is vague wording (postmortem.vague_words in commandpost.yaml)" in caught.value.message
    assert len(_items(sessions, number)) == 1  # only the pre-filled one: nothing stored
    add("Be careful: rotate the webhook signing secret every 90 days")  # the list replaces the default
    assert len(_items(sessions, number)) == 2


def _items(sessions, number) -> list[str]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return [i.title for i in pm_service.items_of(s, pm=pm_service.find(s, number=number)[1])]


# ---------------------------------------------------------------- runbooks flagged for update


def _flagged(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return runbooks_service.runbooks_flagged_for_update(s, app=runbooks_service.applied(s))


def test_a_final_postmortem_flags_the_runbook_until_its_last_updated_moves_past(
    sessions, applied_ops, clock, tmp_path
):
    number = _drafted(sessions, clock)
    _ticket(sessions, clock, number)
    with transaction(sessions) as s:
        incident, pm = pm_service.find(s, number=number, for_update=True)
        item = actions.add(
            s, pm=pm, incident=incident, title="Add a DLQ re-injection step to the backlog runbook",
            type="process", owner="ken", due=date(2026, 12, 10), ticket="OPS-11",
            runbook="payment-webhook-backlog", actor="yuta", now=clock.now(),
        )  # fmt: skip
        item_id = item.id
    _edit(sessions, clock, number, **FILLED)
    _submit(sessions, clock, number)
    assert _flagged(sessions) == {}  # not before Final
    _approve(sessions, clock, number)
    assert _flagged(sessions) == {
        "payment-webhook-backlog": f"postmortem action item #{item_id} of INC-1 (resolved 2026-11-24) "
        "asked for an update"
    }
    _apply(sessions, clock, tmp_path / "same-day", runbook_updated="2026-11-23")
    assert list(_flagged(sessions)) == ["payment-webhook-backlog"]
    _apply(sessions, clock, tmp_path / "updated", runbook_updated="2026-11-25")
    assert _flagged(sessions) == {}


def test_an_item_naming_a_runbook_added_after_final_flags_it_at_once(sessions, applied_ops, clock):
    number = _drafted(sessions, clock)
    _ticket(sessions, clock, number)
    _edit(sessions, clock, number, **FILLED)
    _submit(sessions, clock, number)
    _approve(sessions, clock, number)
    assert _flagged(sessions) == {}
    with transaction(sessions) as s:
        actions.update_item(
            s, item_id=_item_id(sessions, number), changes={"runbook": "payment-webhook-backlog"},
            actor="yuta", now=clock.now(),
        )  # fmt: skip
    assert list(_flagged(sessions)) == ["payment-webhook-backlog"]
