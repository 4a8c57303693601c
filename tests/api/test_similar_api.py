"""``GET /api/v1/incidents/{number}/similar`` and the opening note, on both databases, over the
labelled set (tests/fixtures/similar/labelled.yaml) stored through the triggers that keep the index."""

from __future__ import annotations

import re

import pytest

from tests.alert_support import PAYLOADS, keys
from tests.api.test_web_pages import hana  # noqa: F401  (the fixture: hana logged in)
from tests.similar_support import Labelled, load

BASE = "/api/v1/incidents"


@pytest.fixture
def labelled(sessions, applied_ops) -> Labelled:
    with sessions() as s:
        found = load(s)
        s.commit()
    return found


def _similar(client, headers, number):
    r = client.get(f"{BASE}/{number}/similar", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_three_best_come_first_with_scores_links_runbook_and_time_to_mitigate(client, auth, labelled):
    n = labelled.numbers
    found = _similar(client, auth("read", person="ken"), f"INC-{n['pw5']}")
    assert [f["number"] for f in found] == [f"INC-{n[i]}" for i in ("pw1", "pw2", "pw3")]
    scores = [f["score"] for f in found]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    first = found[0]
    assert first["url"] == f"/incidents/INC-{n['pw1']}"
    assert (first["postmortem_status"], first["postmortem_url"]) == ("final", f"/postmortems/INC-{n['pw1']}")
    assert first["runbook"] == "payment-platform-pw" and first["service"] == "payment-platform"
    assert first["time_to_mitigate_seconds"] == (17 + n["pw1"] % 40) * 60
    assert "same alert WebhookBacklogHigh" in first["reasons"]
    assert "same service payment-platform" in first["reasons"]


def test_never_the_incident_itself_a_later_one_or_a_drill(client, auth, labelled):
    n = labelled.numbers
    reader = auth("read")
    # pw1 is the first of its kind: its look-alikes (pw2…pw5, the drill d1) all came later
    assert _similar(client, reader, n["pw1"]) == []
    shown = {f["number"] for f in _similar(client, reader, n["au4"])}
    assert f"INC-{n['au4']}" not in shown and f"INC-{n['d2']}" not in shown  # d2: the same alert, a drill
    assert shown == {f"INC-{n[i]}" for i in ("au1", "au2", "au3")}


def test_unknown_malformed_and_unauthenticated(client, auth, labelled):
    assert client.get(f"{BASE}/INC-99999/similar", headers=auth("read")).status_code == 404
    r = client.get(f"{BASE}/not-a-number/similar", headers=auth("read"))
    assert r.status_code == 422 and "INC-7" in r.json()["error"]["message"]
    assert client.get(f"{BASE}/INC-{labelled.numbers['pw5']}/similar").status_code == 401


@pytest.mark.parametrize(
    "title",
    [
        'NEAR("payment" webhook*) : OR AND NOT -backlog ^queue',
        '"',
        "***",
        "title: summary: NEAR/3 {a b}",
        "' OR 1=1 --; DROP TABLE incident_search",
        "webhook " * 37,
        "ü漢字🙂 webhooks\t\r\x0b backlog",
        "webhook\x00backlog\x00\x00 NEAR\x00(",
    ],
)
def test_query_syntax_in_a_title_is_only_words(client, auth, labelled, title):
    r = client.post(
        BASE,
        json={"title": title[:300], "severity": 3, "service": "payment-platform", "summary": "x" * 20_000},
        headers=auth("responder"),
    )
    assert r.status_code == 201, r.text
    found = _similar(client, auth("read"), r.json()["number"])
    assert all(f["score"] >= 0.25 for f in found)
    assert {f["service"] for f in found} <= {"payment-platform"}


def test_a_title_of_only_punctuation_finds_by_service(client, auth, labelled):
    r = client.post(
        BASE, json={"title": "!!! ??? ***", "severity": 3, "service": "payment-platform"}, headers=auth()
    )
    found = _similar(client, auth("read"), r.json()["number"])
    assert len(found) == 3 and {f["service"] for f in found} == {"payment-platform"}
    assert all(f["reasons"][0] == "same service payment-platform" for f in found)


def test_opening_from_an_alert_names_them_on_the_timeline(client, auth, labelled, sessions):
    k = keys(sessions)
    r = client.post(
        f"/api/v1/intake/alertmanager/{k['alertmanager']}",
        content=(PAYLOADS / "alertmanager-0.25-firing.json").read_bytes(),
    )
    assert r.status_code == 202 and r.json()["outcome"] == "incident_opened", r.text
    timeline = client.get(f"{BASE}/{r.json()['incident']}/timeline", headers=auth("read"))
    assert timeline.status_code == 200, timeline.text
    entries = timeline.json()["entries"]
    notes = [e for e in entries if e["text"].startswith("Similar past incidents: ")]
    assert len(notes) == 1, [e["text"] for e in entries]
    n = labelled.numbers
    assert f"INC-{n['pw1']} Webhook delivery backlog above 10k" in notes[0]["text"]
    assert "runbook payment-platform-pw" in notes[0]["text"] and "postmortem final" in notes[0]["text"]
    assert f"INC-{n['d1']}" not in notes[0]["text"]
    assert len(notes[0]["text"]) < 600, "one line an IC reads at 3 a.m."
    # a repeat of the same alert attaches: no second note
    client.post(
        f"/api/v1/intake/alertmanager/{k['alertmanager']}",
        content=(PAYLOADS / "alertmanager-0.25-firing.json").read_bytes(),
    )
    entries = client.get(f"{BASE}/{r.json()['incident']}/timeline", headers=auth("read")).json()["entries"]
    assert sum(e["text"].startswith("Similar past incidents") for e in entries) == 1


def test_declaring_names_them_and_nothing_is_said_when_there_are_none(client, auth, applied_ops, sessions):
    r = client.post(BASE, json={"title": "Payment webhooks failing", "severity": 3}, headers=auth())
    entries = client.get(f"{BASE}/{r.json()['number']}/timeline", headers=auth("read")).json()["entries"]
    assert not [e for e in entries if "Similar past" in e["text"]], "an empty history says nothing"
    with sessions() as s:
        numbers = load(s).numbers
        s.commit()
    r = client.post(
        BASE,
        json={
            "title": "Webhook deliveries late, queue depth growing",
            "severity": 3,
            "service": "payment-platform",
        },
        headers=auth(),
    )
    entries = client.get(f"{BASE}/{r.json()['number']}/timeline", headers=auth("read")).json()["entries"]
    (note,) = [e for e in entries if e["text"].startswith("Similar past incidents: ")]
    assert note["text"].count("; ") == 2 and f"INC-{numbers['pw1']} " in note["text"]
    assert note["kind"] == "system" and note["author"] == "commandpost"


@pytest.mark.usefixtures("hana")
def test_the_incident_page_shows_them_with_links(client, labelled):
    n = labelled.numbers
    page = client.get(f"/incidents/INC-{n['pw5']}")
    assert page.status_code == 200
    panel = page.text.split('id="similar-title"', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'href="([^"]+)"', panel)
    assert links[:3] == [
        f"/incidents/INC-{n['pw1']}",
        "/runbooks/payment-platform-pw",
        f"/postmortems/INC-{n['pw1']}",
    ]
    assert len([link for link in links if link.startswith("/incidents/")]) == 3
    assert "same alert WebhookBacklogHigh" in panel and "mitigated in " in panel
    assert f"INC-{n['d1']}" not in panel
    first = client.get(f"/incidents/INC-{n['pw1']}")
    assert "None found: no earlier incident shares its alert, service or words." in first.text
