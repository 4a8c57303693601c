"""The guide's payment-webhook scenario (§3-2), played live through the API and narrated; then a drill."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from commandpost.console import console
from commandpost.demo.server import PASSWORD, USERS, FastClock


class Narrator:
    """Prints each step with the demo clock's time; the engine's console pages print in between."""

    def __init__(self, clock: FastClock) -> None:
        self.clock = clock
        self.number = 0

    def step(self, text: str) -> None:
        self.number += 1
        at = self.clock.now().astimezone(UTC)
        console.print(f"[bold cyan]{self.number:>2}.[/] [dim]{at:%H:%M:%S}Z[/] {text}", highlight=False)

    def note(self, text: str) -> None:
        console.print(f"    [dim]{text}[/]", highlight=False)

    def banner(self, base: str) -> None:
        console.rule("[bold]commandpost demo")
        console.print(f"  open [bold]{base}/incidents[/]  ·  status page {base}/status", highlight=False)
        logins = ", ".join(f"{h} ({r})" for h, r in USERS.items())
        console.print(f"  log in as any of {logins} — password [bold]{PASSWORD}[/]", highlight=False)
        console.rule()


class Actors:
    """Each person acts with their own token, through the same API the CLI uses."""

    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        import httpx

        self.http = httpx.Client(base_url=base, timeout=30)
        self.tokens = tokens

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path} as @{who}: {response.status_code} {response.text}")
        return response.json() if response.content else None


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise RuntimeError(f"the demo waited {timeout:.0f} s for {what}")


def _backlog_alert(at: datetime) -> dict[str, Any]:
    labels = {"alertname": "WebhookBacklogHigh", "queue": "payment-webhooks", "severity": "page"}
    return {
        "version": "4",
        "status": "firing",
        "receiver": "commandpost",
        "groupKey": '{}:{alertname="WebhookBacklogHigh"}',
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": "payment-webhooks backlog at 4,812 messages (> 1,000 for 3 periods)"
                },
                "startsAt": at.isoformat().replace("+00:00", "Z"),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://prometheus.internal/graph?g0.expr=sqs_backlog",
            }
        ],
    }


def play(base: str, tokens: dict[str, str], clock: FastClock, say: Narrator) -> None:
    """The guide's payment-webhook backlog, from the alert to the postmortem draft."""
    api = Actors(base, tokens)
    layers = {x["layer"]: x.get("person") for x in api.call("yuta", "GET", "/api/v1/oncall")["oncall"]}
    primary, secondary = layers.get("primary") or "hana", layers.get("secondary") or "ken"
    # the IC must be able to accept: never the read-only observer, whoever the rotation puts on call
    ic = next(
        p for p in ("yuta", "mei", "ken", "hana") if p not in (primary, secondary) and USERS[p] != "read"
    )
    comms_lead = next(p for p in ("mei", "ken", "hana", "yuta") if p not in (secondary, ic))
    key = next(i for i in api.call("yuta", "GET", "/api/v1/integrations") if i["source"] == "alertmanager")
    t0 = clock.now()

    def at(minutes: float) -> None:
        clock.sleep_until(t0 + timedelta(minutes=minutes))

    say.step("WebhookBacklogHigh fires: Alertmanager posts it to the intake endpoint")
    reply = api.http.post(f"/api/v1/intake/alertmanager/{key['key']}", json=_backlog_alert(t0))
    opened = str(reply.json()["events"][0]["incident"])
    number = opened if opened.startswith("INC-") else f"INC-{opened}"
    path = f"/incidents/{number}"
    say.note(
        f"{reply.status_code}: {number} opened SEV2 with the runbook payment-webhook-backlog — {base}{path}"
    )
    similar = api.call("yuta", "GET", f"/api/v1{path}/similar")
    if similar:  # the history holds earlier backlogs: the timeline's first lines name them too
        say.note(
            "similar past incidents: " + ", ".join(f"{base}{s['url']} ({s['score']:.2f})" for s in similar)
        )

    def pages(level: int) -> list[dict[str, Any]]:
        found = api.call("yuta", "GET", f"/api/v1{path}/pages")["pages"]
        return [p for p in found if p["kind"] == "page" and p["level"] == level]

    first = _wait_for(lambda: pages(1), "the first page")
    say.step(f"@{primary} (primary on-call) is paged: {first[0]['subject']}")
    say.note("the page carries severity, the runbook link and its first move (see the console above)")
    say.step("nobody acknowledges; the SEV2 policy escalates after 15 minutes …")
    second = _wait_for(
        lambda: pages(2), "the escalation to the secondary", timeout=15 * 60 / clock.speed + 60
    )
    say.note(f"escalated: {', '.join('@' + str(p['person']) for p in second if p['person'])} paged")
    at(17)
    api.call(secondary, "POST", f"/api/v1{path}/ack")
    say.step(f"@{secondary} acknowledges and becomes IC")
    at(19)
    api.call(secondary, "POST", f"/api/v1{path}/roles/ic/offer", json={"person": ic})
    say.step(f"@{secondary} offers IC to @{ic}: the handover is explicit, IC stays put until accepted")
    at(20)
    api.call(ic, "POST", f"/api/v1{path}/roles/ic/accept")
    say.step(f"@{ic} accepts: IC now; assigns Ops to @{secondary} and Comms to @{comms_lead}")
    api.call(ic, "POST", f"/api/v1{path}/roles/ops/assign", json={"person": secondary})
    api.call(ic, "POST", f"/api/v1{path}/roles/comms/assign", json={"person": comms_lead})
    for minute, step in ((22, "3.1"), (24, "3.2")):
        at(minute)
        api.call(
            secondary,
            "POST",
            f"/api/v1{path}/runbooks/payment-webhook-backlog/steps/{step}",
            json={"state": "done"},
        )
        say.step(f"Ops @{secondary} ticks Mitigate step {step}")
    at(26)
    public = f"/api/v1{path}/public-updates"
    first = {
        "title": "Delayed card payments",
        "message": "Card payments are confirmed late; no charge is lost. Next update within 30 minutes.",
        "services": {"payment-platform": "partial_outage"},
    }
    api.call(comms_lead, "POST", public, json=first)
    say.step(f"Comms @{comms_lead} publishes the first public update: {base}/status")
    at(30)
    reason = "charges for every merchant are now delayed: the impact reaches all charging"
    api.call(ic, "POST", f"/api/v1{path}/severity", json={"severity": "SEV1", "reason": reason})
    say.step("IC raises SEV2 → SEV1: SEV1 paging and a 30-minute comms cadence apply from now")
    at(33)
    api.call(
        secondary, "POST", f"/api/v1{path}/runbooks/payment-webhook-backlog/steps/3.3", json={"state": "done"}
    )
    say.step(f"Ops @{secondary} does the first move: scale out the consumer (step 3.3)")
    at(36)
    found = {"message": "We found the cause and are adding capacity.", "state": "identified"}
    api.call(comms_lead, "POST", public, json={**found, "services": {"payment-platform": "major_outage"}})
    say.step("Comms publishes an update: identified, major outage")
    at(45)
    api.call(ic, "POST", f"/api/v1{path}/status", json={"status": "mitigated", "note": "backlog draining"})
    api.call(
        ic,
        "POST",
        f"/api/v1{path}/severity",
        json={"severity": "SEV2", "reason": "backlog draining, charges flowing"},
    )
    say.step("mitigated; IC lowers SEV1 → SEV2")
    for minute, step in ((50, "4.1"), (53, "4.2"), (56, "4.3")):
        at(minute)
        api.call(
            secondary,
            "POST",
            f"/api/v1{path}/runbooks/payment-webhook-backlog/steps/{step}",
            json={"state": "done"},
        )
        say.step(f"verified: step {step}")
    at(60)
    done = {
        "message": "Card payments work normally again; delayed charges are complete.",
        "state": "resolved",
    }
    api.call(comms_lead, "POST", public, json=done)
    api.call(
        ic,
        "POST",
        f"/api/v1{path}/status",
        json={"status": "resolved", "note": "ledger reconciled, zero difference"},
    )
    say.step("Comms publishes the resolved update; the IC resolves")
    draft = _wait_for(
        lambda: _postmortem(api, number),
        "the postmortem draft (the engine evaluates the criteria)",
        timeout=60,
    )
    say.step(f"postmortem {draft['status']}: {base}/postmortems/{number}")
    _drill(api, say, base, played=number)


def _drill(api: Actors, say: Narrator, base: str, *, played: str) -> None:
    """Wheel of Misfortune (docs/drills.md): @mei runs a drill of a seeded past incident (the one just
    played when there is no history) for @ken; it pages only the two of them. Its scorecard so far."""
    past = api.call("mei", "GET", "/api/v1/incidents", params={"status": "closed", "limit": 1})
    source = past[0]["number"] if past else played
    drill = api.call("mei", "POST", "/api/v1/drills", json={"source": source, "trainee": "ken", "speed": 10})
    number = drill["number"]
    say.step(
        f"Wheel of Misfortune: @mei starts a drill of {source} for @ken at 10×: {base}/incidents/{number}"
    )
    say.note("it pages only @ken and @mei, never the on-call; metrics and the status page leave it out")
    api.call("ken", "POST", f"/api/v1/incidents/{number}/ack")
    card = api.call("mei", "GET", f"/api/v1/drills/{number}/scorecard")
    ack = card["lines"][0]
    say.note(
        f"scorecard so far (commandpost drill scorecard {number}): time to ack {ack['drill']}s, "
        f"the original {ack['original']}s; target at 10× {ack['target']}s"
    )


def _postmortem(api: Actors, number: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = api.call("yuta", "GET", f"/api/v1/postmortems/{number}")
    except RuntimeError:
        return None
    return found if found.get("status") == "draft" else None
