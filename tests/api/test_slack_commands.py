"""``/inc`` from Slack on the real app: signed as Slack signs, acting through the services as the person.

Each subcommand family against the Slack stand-in (the far end): the answer Slack shows, what was
stored, the audit row (via Slack). Refusals — unsigned, forged, replayed, too large, Slack off, an
unknown member, nonsense — change nothing; a person's mistake is a 200 with an ephemeral sentence.
Both databases.
"""

# ruff: noqa: F811 (the fixtures imported from slack_support are arguments here)
from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from commandpost.db.engine import transaction
from commandpost.incidents import publish, roles, service, timeline
from commandpost.incidents.models import PublicUpdate, RoleOffer
from commandpost.runbooks import service as runbooks_service
from commandpost.settings import Settings
from commandpost.slack.models import SlackChannel
from tests.api.slack_support import (  # noqa: F401 (fixtures)
    FORM,
    HANA,
    KEN,
    MEI,
    STRANGER,
    YUTA,
    audits,
    command,
    entries,
    incident,
    post,
    settings,
    slack,
    slack_ops,
    snapshot,
)

DECLARE = "declare SEV2 payment-platform Receipts not issued"


def said(response: Any) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["blocks"], body
    return body["response_type"], body["text"]


def in_post(incident_: Any) -> tuple[str, str]:
    return ("C0INCIDENT", incident_.channel)


def test_declare_opens_the_incident_and_names_it(client, slack, clock, slack_ops, sessions) -> None:
    kind, text = said(command(client, slack, clock, DECLARE))
    assert kind == "in_channel"
    assert text.startswith("INC-1 declared SEV2 on payment-platform by @mei: Receipts not issued")
    found = incident(sessions)
    assert (found.severity, found.service, found.created_by) == ("SEV2", "payment-platform", "mei")
    with sessions() as s:
        assert roles.ic_holder(s, incident=found) == "mei"
    (row,) = [a for a in audits(sessions) if a.actor == "mei"]
    assert (row.action, row.target, row.details["via"]) == ("slack /inc declare", "incident:INC-1", "Slack")


def test_declare_with_only_a_title_is_sev3_and_says_so(client, slack, clock, slack_ops, sessions) -> None:
    _kind, text = said(command(client, slack, clock, "declare checkout looks slow"))
    assert "SEV3 by default" in text
    assert incident(sessions).title == "checkout looks slow"


def test_declare_without_arguments_opens_the_form_with_the_definitions(
    client, slack, clock, slack_ops
) -> None:
    kind, _text = said(command(client, slack, clock, "declare", trigger_id="123.456.abcdef"))
    assert kind == "ephemeral"
    (opened,) = slack.calls("views.open")
    assert opened["trigger_id"] == "123.456.abcdef"
    view = opened["view"]
    assert view["callback_id"] == "declare"
    shown = str(view["blocks"])
    for definition in ("Full outage / data loss", "Serious degradation of a major function"):
        assert definition in shown


def test_a_failed_form_says_how_to_declare_by_text(client, slack, clock, slack_ops, sessions) -> None:
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, "declare", trigger_id="not-a-trigger"))
    assert kind == "ephemeral" and "declare SEV2 service title" in text
    assert snapshot(sessions) == before


def test_ack_in_the_channel_acknowledges_via_slack(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, DECLARE, user=YUTA))  # yuta: found by email in Slack
    declared = incident(sessions)
    assert declared.created_by == "yuta" and declared.acknowledged_at is None
    kind, text = said(command(client, slack, clock, "ack", channel=in_post(declared)))
    assert (kind, text) == ("in_channel", "INC-1 acknowledged by @mei")
    acked = incident(sessions)
    assert (acked.acknowledged_by, acked.acknowledged_via) == ("mei", "Slack")


def test_the_channel_id_finds_the_incident_when_the_name_differs(
    client, slack, clock, slack_ops, sessions
) -> None:
    said(command(client, slack, clock, DECLARE))
    with transaction(sessions) as s:
        now = clock.now()
        s.add(SlackChannel(incident_id=incident(sessions).id, name="renamed", channel_id="C0RENAMED",
                           created_at=now, updated_at=now, state="created", step="follow"))  # fmt: skip
    said(
        command(client, slack, clock, "note seen from the renamed channel", channel=("C0RENAMED", "renamed"))
    )
    assert entries(sessions)[-1].text == "seen from the renamed channel"


def test_outside_a_channel_the_incident_is_named(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, DECLARE))
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, "status identified"))
    assert kind == "ephemeral" and "no incident's command post" in text and "INC-7" in text
    assert snapshot(sessions) == before
    kind, text = said(command(client, slack, clock, "INC-1 status identified bad deploy"))
    assert kind == "in_channel" and text == "INC-1 investigating → identified by @mei: bad deploy"
    assert incident(sessions).status == "identified"


def test_a_status_the_machine_refuses_is_an_ephemeral_sentence(
    client, slack, clock, slack_ops, sessions
) -> None:
    said(command(client, slack, clock, DECLARE))
    said(command(client, slack, clock, "status INC-1 resolved"))
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, "status INC-1 resolved"))
    assert kind == "ephemeral" and "resolved" in text
    assert snapshot(sessions) == before


def test_sev_changes_severity_with_the_reason(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, DECLARE))
    kind, text = said(
        command(client, slack, clock, "sev SEV1 every region now", channel=in_post(incident(sessions)))
    )
    assert text == "INC-1 severity SEV2 → SEV1 by @mei: every region now"
    assert incident(sessions).severity == "SEV1"
    kind, text = said(command(client, slack, clock, "sev SEV1", channel=in_post(incident(sessions))))
    assert kind == "ephemeral" and "needs a reason" in text


def test_ic_moves_only_when_the_new_ic_accepts(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, "declare SEV3 checkout slow"))
    where = in_post(incident(sessions))
    kind, text = said(command(client, slack, clock, f"ic offer <@{HANA}|hana>", channel=where))
    assert kind == "in_channel" and "offers IC of INC-1 to @hana" in text

    def ic() -> str | None:
        with sessions() as s:
            return roles.ic_holder(s, incident=timeline.incident(s, number=1))

    assert ic() == "mei"
    kind, text = said(command(client, slack, clock, "ic accept", user=YUTA, channel=where))
    assert kind == "ephemeral" and "is for @hana; you are @yuta" in text
    assert ic() == "mei"
    kind, text = said(command(client, slack, clock, "ic accept", user=HANA, channel=where))
    assert text == "@hana is now IC of INC-1 from @mei"
    assert ic() == "hana"
    with sessions() as s:
        assert s.scalars(select(RoleOffer.state)).one() == "accepted"


def test_ic_decline_leaves_it_with_the_holder(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, "declare SEV3 checkout slow"))
    where = in_post(incident(sessions))
    said(command(client, slack, clock, "ic offer @hana", channel=where))
    _kind, text = said(command(client, slack, clock, "ic decline", user=HANA, channel=where))
    assert text == "@hana declined IC of INC-1; it stays with @mei"


def test_an_offer_to_a_member_nobody_maps_names_the_fix(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, "declare SEV3 checkout slow"))
    before = snapshot(sessions)
    kind, text = said(
        command(client, slack, clock, f"ic offer <@{STRANGER}>", channel=in_post(incident(sessions)))
    )
    assert kind == "ephemeral" and f"contact.slack_user: {STRANGER}" in text
    assert snapshot(sessions) == before


def test_role_and_the_ops_only_runbook_steps(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, DECLARE))
    where = in_post(incident(sessions))
    with transaction(sessions) as s:
        runbooks_service.attach(s, incident=timeline.incident(s, number=1), slug="payment-webhook-backlog",
                                by="mei", now=clock.now())  # fmt: skip
    kind, text = said(command(client, slack, clock, "runbook", channel=where))
    assert kind == "ephemeral" and "payment-webhook-backlog" in text and "⬜" in text
    kind, text = said(command(client, slack, clock, "role ops @hana", channel=where))
    assert text == "Ops of INC-1 is now @hana (by @mei)"
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, "runbook step 3.3 done", channel=where))
    assert kind == "ephemeral" and "only the Ops holder" in text
    assert snapshot(sessions) == before
    kind, text = said(command(client, slack, clock, "runbook step 3.3 done", user=HANA, channel=where))
    assert kind == "in_channel" and text.startswith("payment-webhook-backlog step 3.3 done by @hana")
    assert entries(sessions)[-1].kind == "runbook_step"


def test_note_is_stored_redacted_with_its_author(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, DECLARE))
    _kind, text = said(command(client, slack, clock, "note rolled back; key was AKIAIOSFODNN7EXAMPLE",
                              channel=in_post(incident(sessions))))  # fmt: skip
    last = entries(sessions)[-1]
    assert (last.kind, last.author) == ("note", "mei")
    assert "AKIAIOSFODNN7EXAMPLE" not in last.text and "[REDACTED:aws-access-key]" in last.text
    assert "AKIAIOSFODNN7EXAMPLE" not in text


def test_update_posts_comms_and_public_publishes_to_the_status_page(
    client, slack, clock, slack_ops, sessions
) -> None:
    """``--public`` goes through the status page's publication (incidents.publish): as last published,
    with this message; before anything was published it says how to publish the first update."""
    said(command(client, slack, clock, DECLARE))
    where = in_post(incident(sessions))
    said(command(client, slack, clock, "update rolling back the deploy", channel=where))
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, "update --public Receipts are delayed", channel=where))
    assert kind == "ephemeral" and text.startswith(
        "INC-1 is not on the status page yet: its first update needs a public title"
    )
    assert "commandpost incident publish INC-1 --title" in text and snapshot(sessions) == before
    with transaction(sessions) as s:
        publish.publish(
            s, incident=timeline.incident(s, number=1, for_update=True), title="Receipts are late",
            message="We are looking into it.", services={"payment-platform": "degraded"}, actor="mei",
            config=service.config_of(s), now=clock.now(),
        )  # fmt: skip
    _kind, text = said(command(client, slack, clock, "update --public Receipts are delayed", channel=where))
    assert text == "Public update (status page, investigating) on INC-1 by @mei: Receipts are delayed"
    comms = [(e.data["audience"], e.data.get("public_state")) for e in entries(sessions) if e.kind == "comms"]
    assert comms == [("internal", None), ("external", "investigating"), ("external", "investigating")]
    with sessions() as s:
        shown = s.scalars(select(PublicUpdate).order_by(PublicUpdate.id.desc())).first()
        assert shown is not None
        assert (shown.title, shown.message, shown.services) == (
            "Receipts are late", "Receipts are delayed", {"payment-platform": "degraded"},
        )  # fmt: skip
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, "update --public all good", user=HANA, channel=where))
    assert kind == "ephemeral" and "only the Comms holder or the IC publishes INC-1" in text
    assert snapshot(sessions) == before


def test_escalate_pages_the_next_level(client, slack, clock, slack_ops, sessions) -> None:
    said(command(client, slack, clock, DECLARE))
    kind, text = said(command(client, slack, clock, "escalate", channel=in_post(incident(sessions))))
    assert kind == "in_channel" and text.startswith("INC-1 escalated by @mei")
    assert any(a.action == "slack /inc escalate" and a.details["via"] == "Slack" for a in audits(sessions))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "`/inc ack`"),
        ("help", "`/inc ack`"),
        ("dance", "unknown subcommand 'dance'"),
        ("note \x00 hi", "control characters"),
        ("note " + "x" * 5000, "at most 4000"),
        ("status sleeping", "`status` takes one of"),
        ("page @mei", "not available yet"),
    ],
)
def test_nonsense_gets_an_ephemeral_sentence_and_changes_nothing(
    client, slack, clock, slack_ops, sessions, text, says
) -> None:
    said(command(client, slack, clock, DECLARE))
    before = snapshot(sessions)
    kind, answer = said(command(client, slack, clock, text, channel=in_post(incident(sessions))))
    assert kind == "ephemeral" and says in answer
    assert snapshot(sessions) == before


@pytest.mark.parametrize("who", [STRANGER, KEN, ""])
def test_an_unknown_member_is_told_how_to_be_mapped(client, slack, clock, slack_ops, sessions, who) -> None:
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, DECLARE, user=who))
    assert kind == "ephemeral" and f"`contact.slack_user: {who}`" in text and "people.yaml" in text
    assert snapshot(sessions) == before


def test_a_person_with_only_read_credentials_cannot_act(
    client, slack, clock, slack_ops, sessions, make_token
) -> None:
    make_token("read", person="mei")
    before = snapshot(sessions)
    kind, text = said(command(client, slack, clock, DECLARE))
    assert kind == "ephemeral" and "read-only" in text
    assert snapshot(sessions) == before


def _form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode({"user_id": MEI, "text": DECLARE, "channel_name": "general", **fields}).encode()


def test_replayed_unsigned_and_forged_requests_are_401_and_change_nothing(
    client, slack, clock, slack_ops, sessions
) -> None:
    body = _form()
    now = int(clock.now().timestamp())
    before = snapshot(sessions)
    old = post(client, slack, "commands", body, at=now - 360, kind=FORM)
    assert old.status_code == 401 and "6 minutes" not in old.text and "360 s old" in old.text
    unsigned = client.post("/api/v1/slack/commands", content=body, headers={"Content-Type": FORM})
    assert unsigned.status_code == 401 and "X-Slack-Signature" in unsigned.text
    headers = {**slack.signed(body, now), "Content-Type": FORM}
    forged = client.post("/api/v1/slack/commands", content=body + b"&x=1", headers=headers)
    assert forged.status_code == 401 and "does not match" in forged.text
    other = {**headers, "X-Slack-Request-Timestamp": "yesterday"}
    assert client.post("/api/v1/slack/commands", content=body, headers=other).status_code == 401
    assert snapshot(sessions) == before
    assert post(client, slack, "commands", body, at=now - 290, kind=FORM).status_code == 200


def test_a_body_over_64_kib_is_413(client, slack, clock, slack_ops, sessions) -> None:
    before = snapshot(sessions)
    body = _form(text="note " + "x" * 70_000)
    answer = post(client, slack, "commands", body, at=int(clock.now().timestamp()), kind=FORM)
    assert answer.status_code == 413 and "65536" in answer.text
    assert snapshot(sessions) == before


@pytest.fixture
def slack_off(db_url: str) -> Settings:
    return Settings(database_url=db_url, engine_enabled=False, slack_signing_secret=SecretStr(""))


def test_with_slack_off_the_endpoints_are_404_with_a_sentence(slack_off, clock, engine, slack) -> None:
    from fastapi.testclient import TestClient

    from commandpost.app import create_app

    app = create_app(slack_off, clock=clock, engine=engine, run_engine=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("commands", "interactions", "events"):
            answer = post(c, slack, path, _form(), at=int(clock.now().timestamp()), kind=FORM)
            assert answer.status_code == 404 and "COMMANDPOST_SLACK_SIGNING_SECRET" in answer.text
