"""``commandpost demo``: a throw-away server with a 90-day history, then the guide's payment-webhook
scenario played live through the real endpoints while you watch it in the browser.

Everything goes through the real code: the history is written by the services with a frozen clock
moved step by step and real engine passes (so pages, escalations and postmortem drafts happen as
they would); the scenario posts an Alertmanager alert to the real intake endpoint and every person
acts through the API with their own token, while the engine pages on the console. The server runs
on a *fast clock* (``--speed`` × real time), so a 15-minute escalation takes 15 s at ``--speed 60``.
SLO counts for the charge-success SLO are pushed every 6 hours of the history, worse around incidents.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from commandpost import wiring
from commandpost.clock import Clock, FrozenClock, SystemClock
from commandpost.console import console, progress

PASSWORD = "commandpost-demo"
USERS = {"yuta": "admin", "hana": "responder", "ken": "responder", "mei": "responder", "sato": "read"}
EXAMPLE = Path(__file__).parent / "policy" / "example"


class FastClock:
    """Real time × ``speed`` from the moment it is made: the demo's escalations and reminders come sooner."""

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        self.speed = speed
        self.start = start or SystemClock().now()
        self._real = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._real) * self.speed)

    def sleep_until(self, at: datetime) -> None:
        wait = (at - self.now()).total_seconds() / self.speed
        if wait > 0:
            time.sleep(wait)


# ---------------------------------------------------------------- setup


def demo_ops(folder: Path) -> Path:
    """The packaged example, with every person and team notified on the console only (no real webhooks)."""
    target = folder / "ops"
    shutil.copytree(EXAMPLE, target)
    people_file = target / "people.yaml"
    people = yaml.safe_load(people_file.read_text())
    for person in people["people"]:
        person["contact"] = {}
        person["notify"] = {sev: [] for sev in ("SEV1", "SEV2", "SEV3", "SEV4")}
    for team in people.get("teams", []):
        if team.get("channel"):
            team["channel"] = {"name": team["channel"]["name"]}
    people_file.write_text(
        "# demo copy: console notifications only\n" + yaml.safe_dump(people, sort_keys=False)
    )
    return target


def _prepare(database_url: str, ops: Path, clock: Clock) -> dict[str, str]:
    """Schema, ops, users with the demo password, and one API token per person (the scenario's actors)."""
    from commandpost.db import migrate
    from commandpost.db.engine import create_db_engine, make_session_factory, transaction
    from commandpost.policy import service as policy_service
    from commandpost.security import service as security_service
    from commandpost.security import users

    engine = create_db_engine(database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    tokens = {}
    with transaction(sessions) as session:
        policy_service.apply_folder(session, path=ops, now=clock.now(), actor="demo")
        config = policy_service.current_config(session)
        for handle, role in USERS.items():
            users.set_password(
                session, config=config, handle=handle, password=PASSWORD, role=role, now=clock.now()
            )
            scope = "admin" if role == "admin" else role
            _row, tokens[handle] = security_service.create_token(
                session, person=handle, scope=scope, name="demo", now=clock.now(), people=USERS
            )
    engine.dispose()
    return tokens


# ---------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(database_url: str, clock: Clock, port: int) -> Iterator[str]:
    """The real app (API, pages, engine on the fast clock) under uvicorn in a thread."""
    import uvicorn

    from commandpost import public_url
    from commandpost.app import create_app
    from commandpost.db.engine import transaction
    from commandpost.settings import Settings

    base = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        host="127.0.0.1",
        port=port,
        public_url=base,
        engine_enabled=True,
        engine_max_sleep_seconds=0.25,
        notify_backoff_base_seconds=1.0,
    )
    app = create_app(settings, clock=clock, run_engine=True)
    with transaction(app.state.sessions) as session:  # links in notices point at this demo server
        public_url.record(session, base, now=clock.now())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the demo server did not start on {base}")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


# ---------------------------------------------------------------- the command


def demo_command(
    port: Annotated[int, typer.Option("--port", help="0: any free port")] = 8080,
    speed: Annotated[
        float, typer.Option("--speed", min=1, help="clock speed: 60 = a minute per second")
    ] = 60.0,
    history_days: Annotated[int, typer.Option("--history-days", min=0, max=365)] = 90,
    keep: Annotated[bool, typer.Option("--keep/--exit", help="keep serving after the scenario")] = True,
    database: Annotated[
        Path | None, typer.Option("--database", help="SQLite file to use (default: a temporary one)")
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--start",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d"],
            help="play as if the clock read this instant (UTC unless an offset says otherwise)",
        ),
    ] = None,
) -> None:
    """A throw-away server with a seeded history; then the payment-webhook scenario plays live."""
    folder = Path(tempfile.mkdtemp(prefix="commandpost-demo-"))
    path = database or folder / "demo.db"
    database_url = f"sqlite:///{path}"
    port = port or _free_port()
    fast = FastClock(speed, start if start is None or start.tzinfo else start.replace(tzinfo=UTC))
    say = Narrator(fast)
    say.step(f"throw-away database {path}; ops: the packaged example (console notifications only)")
    tokens = _prepare(database_url, demo_ops(folder), fast)
    if history_days:
        say.step(
            f"seeding {history_days} days of history (incidents of every SEV, pages, postmortems, items)"
        )
        counts = seed_history(database_url, days=history_days, end=fast.now() - timedelta(hours=2))
        say.note(", ".join(f"{n} {what}" for what, n in counts.items()))
    with serving(database_url, fast, port) as base:
        say.banner(base)
        try:
            play(base, tokens, fast, say)
        except RuntimeError as exc:
            console.print(f"[bold red]demo stopped:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        if keep:
            say.step("scenario done; the server keeps running — Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(1)
    if database is None:
        shutil.rmtree(folder, ignore_errors=True)


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


# ---------------------------------------------------------------- the 90-day history

HISTORY = (
    # severity, title, how it was detected (an alert name, or None: a person declared it)
    ("SEV1", "Payment webhooks all failing", "DBConnectionsExhausted"),
    ("SEV1", "All APIs 5xx: database connections exhausted", "DBConnectionsExhausted"),
    ("SEV2", "Payment-webhook backlog growing", "WebhookBacklogHigh"),
    ("SEV2", "Receipts not issued after successful charges", None),
    ("SEV2", "Payment-webhook backlog after provider retry storm", "WebhookBacklogHigh"),
    ("SEV2", "Login failing for some regions", None),
    ("SEV3", "Admin-panel CSV export fails", None),
    ("SEV3", "Nightly settlement job delayed", None),
    ("SEV3", "Refund emails delayed", None),
    ("SEV4", "Staging deploy error", None),
    ("SEV4", "Log noise from the webhook consumer", None),
)
REPEAT = 3  # each row happens about every month over 90 days


def _history_plan(days: int) -> list[tuple[timedelta, int, str, str, str | None]]:
    import random

    rng = random.Random(20260624)
    rows = [(sev, title, alert) for _ in range(REPEAT) for sev, title, alert in HISTORY]
    plan = []
    for i, (sev, title, alert) in enumerate(rows):
        offset = timedelta(days=days) * (i + rng.random()) / len(rows)
        plan.append((offset, rng.randint(2, 14), sev, title, alert))
    return sorted(plan)


def seed_history(database_url: str, *, days: int, end: datetime) -> dict[str, int]:
    """Incidents of every SEV over ``days`` before ``end``: alerts, pages, acks, runbook steps, comms,
    status changes, postmortems taken to Final with action items — each by the service that owns it,
    with engine passes at the instants they would have run."""
    from commandpost.db.engine import create_db_engine, make_session_factory
    from commandpost.engine.runner import Runner
    from commandpost.settings import Settings

    engine = create_db_engine(database_url)
    sessions = make_session_factory(engine)
    clock = FrozenClock(end - timedelta(days=days))
    settings = Settings(database_url=database_url, engine_enabled=False)
    runner = Runner(sessions, clock, settings=settings, processors=wiring.engine_plan(settings).sequence())
    start = clock.now()
    counts = {"incidents": 0, "postmortems": 0, "action items": 0}
    plan = _history_plan(days)
    with progress("seeding incidents", total=len(plan)) as advance:
        for n, (offset, ack_minutes, sev, title, alert) in enumerate(plan):
            clock.set(start + offset)
            with contextlib.redirect_stdout(io.StringIO()):  # the console channel's historical pages
                _history_incident(sessions, runner, clock, n, sev, title, alert, ack_minutes, counts)
            advance(1)
    counts["SLO counts"] = _slo_counts(sessions, start, end, [start + o for o, *_ in _history_plan(days)])
    engine.dispose()
    return counts


def _slo_counts(sessions: Any, start: datetime, end: datetime, incidents: list[datetime]) -> int:
    """Charges counted every 6 hours for the charge-success SLO (99.99 %), worse around incidents."""
    from commandpost.db.engine import transaction
    from commandpost.metrics import slo
    from commandpost.policy import service as policy_service

    counts = []
    at = start
    while at < end:
        near = any(abs((at - when).total_seconds()) < 6 * 3600 for when in incidents)
        bad = 1 + (at.hour % 3) + (40 if near else 0)
        counts.append(slo.Count(client_id=f"demo-{at:%Y%m%d%H}", good=50_000 - bad, total=50_000, at=at))
        at += timedelta(hours=6)
    with transaction(sessions) as session:
        config = policy_service.current_config(session)
        for i in range(0, len(counts), slo.MAX_BATCH):
            slo.push(
                session,
                config=config,
                service="payment-platform",
                slo="charge-success",
                counts=counts[i : i + slo.MAX_BATCH],
                now=end,
            )
    return len(counts)


def _history_incident(
    sessions: Any,
    runner: Any,
    clock: FrozenClock,
    n: int,
    sev: str,
    title: str,
    alert: str | None,
    ack_minutes: int,
    counts: dict[str, int],
) -> None:
    from commandpost.alerts import service as alerts_service
    from commandpost.alerts.normalized import NormalizedEvent
    from commandpost.db.engine import transaction
    from commandpost.incidents import publish, service
    from commandpost.oncall import service as oncall_service
    from commandpost.policy import service as policy_service
    from commandpost.runbooks import service as runbook_service

    with transaction(sessions) as session:
        config = policy_service.current_config(session)
        primary = oncall_service.who_is_on_call(
            session, config=config, schedule="payment-platform", layer="primary", at=clock.now()
        )
        responder = primary or "hana"
        if alert:
            key = next(k for k in policy_service.list_integrations(session) if k.source == "alertmanager")
            ref = alerts_service.integration_for_key(session, key=key.key)
            assert ref is not None
            event = NormalizedEvent(
                action="trigger",
                dedup_key=f"history-{n}",
                alertname=alert,
                summary=title,
                labels={"alertname": alert, "service": "payment-platform"},
                starts_at=clock.now() - timedelta(minutes=3),
            )
            outcome = alerts_service.ingest(session, integration=ref, events=[event], now=clock.now())[0]
            number = outcome.incident
            if number is None:
                raise RuntimeError(f"history: the {alert} alert opened no incident ({outcome.outcome})")
        else:
            number = service.declare(
                session,
                title=title,
                severity=sev,
                service="payment-platform",
                actor=responder,
                now=clock.now(),
            ).number
    runner.run_once()
    clock.advance(minutes=ack_minutes)
    with transaction(sessions) as session:
        incident = service.timeline.incident(session, number=number, for_update=True)
        service.acknowledge(session, incident=incident, person=responder, now=clock.now())
        if incident.severity != sev:
            service.change_severity(
                session,
                incident=incident,
                severity=sev,
                reason="impact confirmed",
                actor=responder,
                now=clock.now(),
            )
        if incident.runbook:
            for step in ("3.1", "3.2", "3.3"):
                runbook_service.mark_step(
                    session,
                    incident=incident,
                    slug=incident.runbook,
                    step_ref=step,
                    state="done",
                    by=responder,
                    now=clock.now(),
                )
        if config.severities[sev].comms_cadence:  # the IC publishes to the status page (a comms update)
            publish.publish(
                session,
                incident=incident,
                title="Delayed card payments" if sev == "SEV2" else "Card payments failing",
                message="We are looking into it; the next update follows within the hour.",
                services={"payment-platform": "partial_outage" if sev == "SEV2" else "major_outage"},
                actor=responder,
                config=config,
                now=clock.now(),
            )
        service.add_entry(
            session,
            incident=incident,
            kind="decision",
            text="Mitigate first: scale out, root cause later",
            actor=responder,
            now=clock.now(),
        )
    clock.advance(minutes=15 + 7 * (n % 6))
    with transaction(sessions) as session:
        incident = service.timeline.incident(session, number=number, for_update=True)
        service.change_status(
            session, incident=incident, status="mitigated", actor=responder, now=clock.now()
        )
        clock.advance(minutes=20)
        if publish.shown_unresolved(session, incident=incident) is not None:
            publish.publish(
                session,
                incident=incident,
                message="Payments work normally again.",
                state="resolved",
                actor=responder,
                config=config,
                now=clock.now(),
            )
        service.change_status(session, incident=incident, status="resolved", actor=responder, now=clock.now())
        counts["incidents"] += 1
    runner.run_once()  # the postmortem criteria are evaluated and a draft written where they apply
    _history_postmortem(sessions, clock, number, responder, n, counts)


FILLER = {
    "root_cause": "1. The consumer fell behind. 2. Its task count was fixed. 3. Auto-scaling had no "
    "queue-depth signal. 4. The scaling policy predates the webhook volume. "
    "5. No capacity review after growth.",
    "technical_factor": "No auto-scaling on queue depth for the webhook consumer.",
    "process_factor": "Capacity is not reviewed when webhook volume grows.",
    "went_well": "The runbook's first move drained the backlog within minutes.",
    "went_poorly": "The page reached the secondary only after the escalation delay.",
    "got_lucky": "The provider kept retrying, so no event was lost.",
    "user_impact": "Charges confirmed late for a few minutes; none lost or doubled.",
    "business_impact": "Delayed confirmations; data consistency maintained.",
}


def _history_postmortem(
    sessions: Any, clock: FrozenClock, number: int, author: str, n: int, counts: dict[str, int]
) -> None:
    from commandpost.db.engine import transaction
    from commandpost.errors import NotFound
    from commandpost.postmortems import actions
    from commandpost.postmortems import service as pm_service

    with transaction(sessions) as session:
        try:
            incident, pm = pm_service.find(session, number=number)
        except NotFound:
            return
        if pm.status != "draft":
            return
        counts["postmortems"] += 1
        sections = {k: v for k, v in FILLER.items() if not (pm.sections or {}).get(k, "").strip()}
        sections.update(
            {k: "—" for k, v in (pm.sections or {}).items() if not str(v).strip() and k not in sections}
        )
        pm_service.edit(session, number=number, actor=author, now=clock.now(), sections=sections)
        actions.add(
            session,
            pm=pm,
            incident=incident,
            title="Add queue-depth auto-scaling to the payment-webhook consumer",
            type="prevent",
            owner=author,
            due=(clock.now() + timedelta(days=14 + n % 21)).date(),
            ticket=f"OPS-{100 + n}",
            verification="reproduce the backlog in a failure drill and confirm the consumer scales out",
            actor=author,
            now=clock.now(),
        )
        for item in pm_service.items_of(session, pm=pm):
            if not item.ticket:  # e.g. the pre-filled "add the missing alert" item
                actions.update_item(
                    session,
                    item_id=item.id,
                    changes={"ticket": f"OPS-{200 + item.id}"},
                    actor=author,
                    now=clock.now(),
                )
        counts["action items"] += len(pm_service.items_of(session, pm=pm))
        if n % 3 == 0:
            return  # some stay in draft
        reviewer = "yuta" if author != "yuta" else "hana"
        pm_service.submit(session, number=number, reviewer=reviewer, actor=author, now=clock.now())
        if n % 3 == 1:
            pm_service.approve(session, number=number, actor=reviewer, now=clock.now())


# ---------------------------------------------------------------- the live scenario (guide §3-2)


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
