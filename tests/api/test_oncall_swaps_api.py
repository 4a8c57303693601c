"""Shift swaps over HTTP on both databases: the acting person is the token's, a lead acts with their own
token, each refusal is a 4xx with a sentence, and hostile input changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from commandpost.notify.models import OutgoingMessage
from commandpost.oncall.models import Override, ShiftSwap
from commandpost.security import users
from commandpost.security.models import AuditLog
from tests import cli_support
from tests.api.test_web_auth import PASSWORD, csrf_of, login
from tests.service.test_oncall_cli import _serve as serve

THU = datetime(2026, 6, 25, 0, 0, tzinfo=UTC)  # clock: Wed 06-24 03:00 UTC; yuta primary, hana secondary
NEXT_WEEK = datetime(2026, 6, 29, 1, 0, tzinfo=UTC)
SWAPS = "/api/v1/oncall/swaps"


def body(**change: Any) -> dict[str, Any]:
    base = {
        "schedule": "payment-platform",
        "layer": "primary",
        "target": "ken",
        "start": THU.isoformat(),
        "end": (THU + timedelta(hours=6)).isoformat(),
        "note": "dentist",
    }
    return base | change


def stored(sessions) -> tuple[int, int, int]:
    with sessions() as s:
        return tuple(  # type: ignore[return-value]
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (ShiftSwap, Override, OutgoingMessage)
        )


def on_call(client, headers, at: datetime, layer: int = 0) -> dict[str, Any]:
    r = client.get("/api/v1/oncall", params={"at": at.isoformat()}, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json()["oncall"][layer])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", SWAPS),
        ("GET", SWAPS + "/1"),
        ("POST", SWAPS),
        ("POST", SWAPS + "/1/accept"),
        ("POST", SWAPS + "/1/decline"),
        ("POST", SWAPS + "/1/withdraw"),
        ("POST", "/api/v1/oncall/take"),
    ],
)
def test_every_route_needs_a_token_and_writes_need_responder(client, applied_ops, auth, method, path):
    r = client.request(method, path, json={})
    assert r.status_code == 401, r.text
    if method == "POST":
        r = client.request(method, path, json=body(), headers=auth("read", person="yuta"))
        assert r.status_code == 403 and "responder" in r.json()["error"]["message"]


def test_request_accept_and_the_layer_changes_for_exactly_the_range(client, applied_ops, auth, sessions):
    yuta, ken = auth("responder", person="yuta"), auth("responder", person="ken")
    r = client.post(SWAPS, json=body(), headers=yuta)
    assert r.status_code == 201, r.text
    swap = r.json()
    assert (swap["kind"], swap["state"], swap["requester"], swap["target"]) == (
        "cover",
        "requested",
        "yuta",
        "ken",
    )
    assert swap["override_ids"] == [] and swap["decided_by"] is None
    assert on_call(client, yuta, THU)["person"] == "yuta"
    r = client.post(f"{SWAPS}/{swap['id']}/accept", headers=ken)
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert (accepted["state"], accepted["decided_by"], len(accepted["override_ids"])) == (
        "accepted",
        "ken",
        1,
    )
    during = on_call(client, yuta, THU + timedelta(hours=1))
    assert (during["person"], during["override_id"]) == ("ken", accepted["override_ids"][0])
    assert on_call(client, yuta, THU + timedelta(hours=6))["person"] == "yuta"
    assert on_call(client, yuta, THU - timedelta(seconds=1))["person"] == "yuta"
    again = client.post(f"{SWAPS}/{swap['id']}/decline", headers=ken)
    assert again.status_code == 409 and "already accepted by @ken" in again.json()["error"]["message"]
    with sessions() as s:
        audit = s.scalars(select(AuditLog.target).where(AuditLog.target == f"swap:{swap['id']}")).all()
        people = set(
            s.scalars(select(OutgoingMessage.person).where(OutgoingMessage.key.like("swap/%accepted%")))
        )
    assert len(audit) == 2 and people == {"yuta", "ken"}
    listed = client.get(SWAPS, params={"state": "accepted", "person": "@ken"}, headers=auth("read")).json()
    assert [x["id"] for x in listed] == [swap["id"]]
    assert client.get(SWAPS, params={"state": "requested"}, headers=yuta).json() == []
    assert client.get(f"{SWAPS}/{swap['id']}", headers=yuta).json()["state"] == "accepted"


def test_a_lead_approves_with_their_own_token_a_stranger_gets_403(client, applied_ops, auth):
    hana = auth("responder", person="hana")
    r = client.post(SWAPS, json=body(layer="secondary", target="ken"), headers=hana)
    assert r.status_code == 201, r.text
    swap_id = r.json()["id"]
    stranger = client.post(f"{SWAPS}/{swap_id}/accept", headers=auth("responder", person="mei"))
    assert stranger.status_code == 403
    assert stranger.json()["error"]["message"] == (
        f"only @ken or a lead of their team (@yuta) can accept swap {swap_id}; you are @mei"
    )
    lead = client.post(f"{SWAPS}/{swap_id}/accept", headers=auth("responder", person="yuta"))
    assert lead.status_code == 200 and lead.json()["decided_by"] == "yuta"
    assert on_call(client, hana, THU, layer=1)["person"] == "ken"


def test_decline_withdraw_swap_and_take(client, applied_ops, auth, clock):
    yuta, hana, mei = (auth("responder", person=p) for p in ("yuta", "hana", "mei"))
    first = client.post(SWAPS, json=body(), headers=yuta).json()
    assert client.post(f"{SWAPS}/{first['id']}/withdraw", headers=mei).status_code == 403
    assert client.post(f"{SWAPS}/{first['id']}/withdraw", headers=yuta).json()["state"] == "withdrawn"
    second = client.post(SWAPS, json=body(target="mei"), headers=yuta).json()
    assert client.post(f"{SWAPS}/{second['id']}/decline", headers=mei).json()["state"] == "declined"
    trade = body(
        target="hana",
        counter_start=NEXT_WEEK.isoformat(),
        counter_end=(NEXT_WEEK + timedelta(hours=6)).isoformat(),
    )
    made = client.post(SWAPS, json=trade, headers=yuta)
    assert made.status_code == 201 and made.json()["kind"] == "swap", made.text
    assert len(client.post(f"{SWAPS}/{made.json()['id']}/accept", headers=hana).json()["override_ids"]) == 2
    assert on_call(client, yuta, NEXT_WEEK)["person"] == "yuta"
    taken = client.post(
        "/api/v1/oncall/take", json={"schedule": "payment-platform", "layer": "primary"}, headers=mei
    )
    assert taken.status_code == 201, taken.text
    assert (taken.json()["kind"], taken.json()["target"]) == ("take", "yuta")
    assert on_call(client, mei, clock.now())["person"] == "mei"
    again = client.post(
        "/api/v1/oncall/take", json={"schedule": "payment-platform", "layer": "primary"}, headers=mei
    )
    assert again.status_code == 409 and "already on call" in again.json()["error"]["message"]


def test_refusals_are_4xx_with_a_sentence_and_store_nothing(client, applied_ops, auth, sessions):
    yuta = auth("responder", person="yuta")
    cases: list[tuple[dict[str, Any], int, str]] = [
        (body(schedule="nope"), 422, "unknown schedule 'nope' (schedules: payment-platform)"),
        (body(layer="tertiary"), 422, "has no layer 'tertiary' (layers: primary, secondary)"),
        (body(target="nobody"), 422, "unknown person 'nobody'"),
        (body(end=(THU - timedelta(hours=1)).isoformat()), 422, "is not after 'start'"),
        (body(end=(NEXT_WEEK + timedelta(hours=2)).isoformat()), 422, "@hana from 2026-06-29T01:00:00Z"),
        (body(layer="secondary"), 422, "@yuta is not on call for payment-platform/secondary"),
        (body(schedule="pay\x00ment"), 422, "unknown schedule"),
        (body(note="x" * 100_000), 422, "note"),
        (body(start="tomorrow"), 422, "start"),
        (body(start="2026-06-25T00:00:00"), 422, "timezone"),
        (body(start="0001-01-01T00:00:00Z"), 422, "1970"),
        (body(counter_start=NEXT_WEEK.isoformat()), 422, "counter_start and counter_end"),
        (body(extra="field"), 422, "extra"),
    ]
    for sent, status, message in cases:
        r = client.post(SWAPS, json=sent, headers=yuta)
        assert r.status_code == status, (sent, r.text)
        assert message in r.text, (message, r.text)
    assert client.post(SWAPS, content=b"\x00\xff{", headers=yuta).status_code == 422
    assert client.post(f"{SWAPS}/{2**40}/accept", headers=yuta).status_code == 422
    r = client.post(f"{SWAPS}/77/accept", headers=yuta)
    assert r.status_code == 404 and "no shift swap with id 77" in r.json()["error"]["message"]
    assert client.get(SWAPS, params={"state": "lost"}, headers=yuta).status_code == 422
    outsider = client.post(SWAPS, json=body(), headers=auth("responder", person="stranger"))
    assert outsider.status_code == 403 and "not in people.yaml" in outsider.text
    assert stored(sessions) == (0, 0, 0)
    first = client.post(SWAPS, json=body(), headers=yuta)
    overlapping = client.post(SWAPS, json=body(target="mei"), headers=yuta)
    assert overlapping.status_code == 409
    assert f"swap {first.json()['id']} (to @ken) already asks about part of this range" in overlapping.text
    assert stored(sessions)[:2] == (1, 0)


def test_a_nul_in_the_note_is_stored_as_the_replacement_character(client, applied_ops, auth, sessions):
    r = client.post(SWAPS, json=body(note="call me\u0000maybe"), headers=auth("responder", person="yuta"))
    assert r.status_code == 201, r.text
    with sessions() as s:
        assert s.scalars(select(ShiftSwap.note)).one() == "call me\ufffdmaybe"


def test_the_cli_requests_accepts_lists_and_takes(app, applied_ops, make_token, tmp_path):
    """``commandpost oncall swap …`` and ``oncall take`` on a real server, each person with their token."""
    tokens = {p: make_token("responder", person=p) for p in ("yuta", "ken", "mei")}
    with serve(app) as url:

        def cli(person: str, *args: str) -> Any:
            env = {"COMMANDPOST_URL": url, "COMMANDPOST_TOKEN": tokens[person], "HOME": str(tmp_path)}
            return cli_support.run_cli(args, env=env | {"TZ": "UTC", "COLUMNS": "200"})

        asked = cli(
            "yuta", "oncall", "swap", "request", "payment-platform", "primary", "--to", "@ken",
            "--start", "2026-06-25T00:00Z", "--end", "2026-06-25 06:00", "--note", "dentist", "--json",
        )  # fmt: skip
        assert asked.returncode == 0, asked.stderr
        swap_id = json.loads(asked.stdout)["id"]
        listed = cli("ken", "oncall", "swap", "list", "--person", "ken")
        assert listed.returncode == 0 and "@yuta" in listed.stdout and "requested" in listed.stdout
        accepted = cli("ken", "oncall", "swap", "accept", str(swap_id))
        assert accepted.returncode == 0, accepted.stderr
        assert f"swap {swap_id} (accepted): @ken covers payment-platform/primary" in accepted.stdout
        now = json.loads(cli("yuta", "oncall", "--json", "--at", "2026-06-25T01:00Z").stdout)["oncall"][0]
        assert (now["person"], now["by_override"]) == ("ken", True)
        again = cli("ken", "oncall", "swap", "decline", str(swap_id))
        assert (
            again.returncode != 0 and "already accepted" in again.stderr and "Traceback" not in again.stderr
        )
        taken = cli("mei", "oncall", "take", "payment-platform", "primary")
        assert taken.returncode == 0 and "@mei took payment-platform/primary from @yuta" in taken.stdout
        rows = json.loads(cli("mei", "oncall", "swap", "list", "--state", "accepted", "--json").stdout)
        assert [(r["kind"], r["requester"]) for r in rows] == [("take", "mei"), ("cover", "yuta")]
        bad = cli("mei", "oncall", "take", "payment-platform", "tertiary")
        assert bad.returncode == 2 and "has no layer 'tertiary'" in bad.stderr
        bad = cli("yuta", "oncall", "swap", "request", "payment-platform", "primary", "--to", "ken",
                  "--start", "soon", "--end", "later")  # fmt: skip
        assert bad.returncode == 2 and "--start 'soon' is not an ISO 8601 time" in bad.stderr


def test_the_on_call_page_asks_answers_and_takes(client, applied_ops, sessions, clock, auth):
    with sessions() as s:
        for handle in ("yuta", "ken"):
            users.set_password(
                s, config=applied_ops, handle=handle, password=PASSWORD, role="responder", now=clock.now()
            )
        s.commit()
    login(client, "yuta")
    csrf = csrf_of(client.get("/oncall").text)
    form = {"layer": "payment-platform/primary", "person": "ken", "note": "dentist", "csrf_token": csrf}
    bad = client.post("/oncall/swaps", data={**form, "start": "tomorrow", "end": "x"})
    assert bad.status_code == 422 and "is not a date and time" in bad.text
    r = client.post(
        "/oncall/swaps",
        data={**form, "start": "2026-06-25T09:00", "end": "2026-06-25T15:00"},  # org clock: Asia/Tokyo
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get("/oncall").text
    assert 'action="/oncall/swaps/1/withdraw"' in page and 'action="/oncall/swaps/1/accept"' not in page
    login(client, "ken")
    page = client.get("/oncall").text
    assert 'action="/oncall/swaps/1/accept"' in page and "dentist" in page
    r = client.post("/oncall/swaps/1/accept", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert on_call(client, auth("read"), THU + timedelta(hours=1))["person"] == "ken"
    r = client.post("/oncall/swaps/1/explode", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 404 and "accept, decline, withdraw" in r.text
    assert 'action="/oncall/take"' in page
    r = client.post(
        "/oncall/take",
        data={"layer": "payment-platform/secondary", "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert on_call(client, auth("read"), clock.now(), layer=1)["person"] == "ken"
