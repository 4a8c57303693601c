"""The command post in Slack (issue 17): an engine processor that gives each incident its channel and
keeps it told, so a Slack outage delays the channel and never declaring, paging or the timeline.

One pass (only while ``slack_bot_token`` is set):

1. **Rows.** Each open incident without a ``slack_channel`` row gets one (``ON CONFLICT DO NOTHING``
   on the incident: two replicas insert one).
2. **Claim** due rows — pending ones, backoffs that ran out, channels whose incident's timeline moved
   past ``cursor``, closed ones whose postmortem became Final — with a conditional UPDATE that sets
   ``claimed_by`` and a claim expiry in ``next_attempt_at`` (a replica whose UPDATE matches nothing
   skips the row). **Commit**: no transaction is open during a Slack call.
3. **Work** each claimed row on a worker thread: read what the channel needs in a read-only session,
   then call Slack step by step — ``conversations.create`` (the incident's ``channel`` name, a ``-2``,
   ``-3``… on ``name_taken``), ``setTopic``, ``invite``, two ``bookmarks.add``, the opening message,
   the announcement — saving each step's result at once (conditional on the claim), so a retry or a
   crash never repeats a call that succeeded. Then it follows the timeline from ``cursor``: one message
   per pass with the new lines, invites for new role holders and the newly paged, the topic kept in
   step; on close a summary, and once the postmortem is Final (or none is required), when the org
   archives, ``conversations.archive``.
4. The pass waits at most ``wait`` seconds for its workers; one still talking to a slow Slack finishes
   on its own and saves its own results. A call that can succeed later (429 with ``Retry-After``, 5xx,
   ``ratelimited``, a timeout) backs the row off through ``next_attempt_at``; one Slack refuses for good
   skips an optional step (topic, invite, bookmark, announcement) or marks the row ``failed``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from commandpost.db.engine import make_session_factory, transaction
from commandpost.db.upsert import insert_for
from commandpost.errors import Unavailable
from commandpost.incidents import roles, timeline
from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident, PublicUpdate, TimelineEntry
from commandpost.paging import page as paging_page
from commandpost.policy import service as policy_service
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems.models import Postmortem
from commandpost.settings import Settings, get_settings
from commandpost.slack import blocks
from commandpost.slack import models as m
from commandpost.slack.client import SlackFailure, call, enabled, web_client
from commandpost.slack.models import SlackChannel

log = logging.getLogger("commandpost.slack")

BATCH = 20
"""Rows claimed per pass."""
CLAIM = timedelta(minutes=2)
"""A claim's life: a worker that died mid-row is taken over after this."""
BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(seconds=60)
"""Backoff of a row Slack could not serve (2 s, 4 s, … at most a minute): the command post matters."""
ENTRIES = 200
"""Timeline entries read per pass; the rest follow in the next pass."""
LINES = 20
"""Lines per update message (a section block each; Slack allows 50 blocks)."""
MAX_SUFFIX = 20
"""``name_taken``: the name with ``-2`` … ``-20`` is tried before the row fails."""
NAME_LIMIT = 80
USERS_KEPT = timedelta(hours=1)
"""How long a person's Slack id (or its absence) found by ``users.lookupByEmail`` is reused."""
WAIT_SECONDS = 0.5
ARCHIVABLE = ("final", "not_required")
"""Postmortem states that let a closed incident's channel be archived."""
ESSENTIAL = frozenset({m.CREATE, m.OPENING, m.FOLLOW, m.ARCHIVE})
"""Steps whose refusal fails the row; any other step Slack refuses is skipped and noted."""
ALREADY = frozenset({"already_in_channel", "cant_invite_self", "already_archived"})


class _Lost(Exception):
    """The claim is gone (it expired and another replica took the row): stop, save nothing."""


def channel_name(name: str, suffix: int = 1) -> str:
    """Slack's form of the incident's channel name: lowercase, ``[a-z0-9_-]``, at most 80 characters,
    ``-<suffix>`` from the second try on."""
    clean = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in name.lower())
    clean = clean.strip("-") or "incident"
    tail = f"-{suffix}" if suffix > 1 else ""
    return clean[: NAME_LIMIT - len(tail)].rstrip("-") + tail


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure in a row."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))


@dataclass
class _Job:
    """Everything one row's work needs, read before any Slack call."""

    row_id: int
    state: str
    step: str
    name: str
    channel_id: str | None
    cursor: int
    topic: str | None
    invited: set[str]
    attempts: int
    number: str
    status: str
    closed: bool
    page: paging_page.PageText
    ic: str | None
    paged: list[str]
    people: list[str]
    new_topic: str
    newest: int
    entries: list[tuple[int, str, dict[str, Any], str]]
    postmortem: str | None
    postmortem_url: str
    duration: str
    config: OpsConfig
    notes: list[str] = field(default_factory=list)


class CommandPost:
    """The engine processor ``slack.command_post`` (phase ``decide``); see the module docstring."""

    name = "slack.command_post"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        owner: str | None = None,
        wait: float = WAIT_SECONDS,
        workers: int = 2,
    ) -> None:
        self.settings = settings or get_settings()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.wait = wait
        self.workers = workers
        self._client: WebClient | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._running: set[Future[None]] = set()
        self._users: dict[str, tuple[str | None, datetime]] = {}
        self._factories: dict[int, tuple[sessionmaker[Session], sessionmaker[Session]]] = {}

    @property
    def client(self) -> WebClient:
        if self._client is None:
            self._client = web_client(self.settings)
        return self._client

    # ------------------------------------------------------------------ the processor interface

    def has_work(self, session: Session, now: datetime) -> bool:
        if not enabled(self.settings):
            return False
        return bool(session.scalar(select(or_(exists(self._unopened()), exists(self._due(now))))))

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        if not enabled(self.settings):
            return None
        if self.has_work(session, now):
            return now
        due: datetime | None = session.scalar(
            select(func.min(SlackChannel.next_attempt_at)).where(
                SlackChannel.state.in_((m.PENDING, m.CREATED))
            )
        )
        return due

    def run(self, session: Session, now: datetime) -> int:
        if not enabled(self.settings):
            return 0
        opened = self._open_rows(session, now)
        claimed = self._claim(session, now)
        session.commit()  # claims are durable, and no transaction is open during a Slack call
        if not claimed:
            return opened
        factories = self._factory(session.get_bind())
        futures = [self.pool.submit(self._work, factories, row_id, now) for row_id in claimed]
        with self._lock:
            self._running.update(futures)
        for future in futures:
            future.add_done_callback(self._forget)
        wait_for(futures, timeout=self.wait)
        return opened + len(claimed)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every worker of earlier passes is done (tests, shutdown)."""
        with self._lock:
            running = list(self._running)
        _done, pending = wait_for(running, timeout=timeout)
        return not pending

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="slack")
        return self._pool

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._running.discard(future)

    def _factory(self, bind: Any) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        engine: Engine = bind if isinstance(bind, Engine) else bind.engine
        found = self._factories.get(id(engine))
        if found is None:
            found = self._factories[id(engine)] = (
                make_session_factory(engine),
                make_session_factory(engine, read_only=True),
            )
        return found

    # ------------------------------------------------------------------ rows and claims

    @staticmethod
    def _unopened() -> Any:
        return (
            select(Incident.id)
            .outerjoin(SlackChannel, SlackChannel.incident_id == Incident.id)
            .where(Incident.status.in_(incident_rules.OPEN_STATUSES), SlackChannel.id.is_(None))
        )

    @staticmethod
    def _due(now: datetime) -> Any:
        moved = exists(
            select(TimelineEntry.id).where(
                TimelineEntry.incident_id == SlackChannel.incident_id, TimelineEntry.id > SlackChannel.cursor
            )
        )
        final = exists(
            select(Postmortem.id).where(
                Postmortem.incident_id == SlackChannel.incident_id, Postmortem.status.in_(ARCHIVABLE)
            )
        )
        idle = and_(SlackChannel.next_attempt_at.is_(None), SlackChannel.state == m.CREATED)
        return select(SlackChannel.id).where(
            SlackChannel.state.in_((m.PENDING, m.CREATED)),
            or_(
                SlackChannel.next_attempt_at <= now,
                and_(idle, SlackChannel.step == m.FOLLOW, moved),
                and_(idle, SlackChannel.step == m.ARCHIVE, final),
            ),
        )

    def _open_rows(self, session: Session, now: datetime) -> int:
        missing = session.execute(self._unopened().add_columns(Incident.channel).limit(BATCH)).all()
        if not missing:
            return 0
        rows = [
            {
                "incident_id": incident_id,
                "state": m.PENDING,
                "step": m.CREATE,
                "name": channel_name(name or f"inc-{incident_id}"),
                "cursor": 0,
                "invited": "",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for incident_id, name in missing
        ]
        statement = insert_for(session, SlackChannel.__table__).on_conflict_do_nothing(
            index_elements=["incident_id"]
        )
        session.execute(statement, rows)
        return len(rows)

    def _claim(self, session: Session, now: datetime) -> list[int]:
        candidates = session.scalars(self._due(now).order_by(SlackChannel.id).limit(BATCH)).all()
        claimed = []
        for row_id in candidates:
            result = session.execute(
                update(SlackChannel)
                .where(
                    SlackChannel.id == row_id,
                    SlackChannel.state.in_((m.PENDING, m.CREATED)),
                    or_(SlackChannel.next_attempt_at.is_(None), SlackChannel.next_attempt_at <= now),
                )
                .values(claimed_by=self.owner, next_attempt_at=now + CLAIM, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                claimed.append(row_id)
        return claimed

    def _save(self, factory: sessionmaker[Session], job: _Job, now: datetime, **values: Any) -> None:
        """Store a step's result at once, only while the claim is still ours."""
        with transaction(factory) as session:
            result = session.execute(
                update(SlackChannel)
                .where(SlackChannel.id == job.row_id, SlackChannel.claimed_by == self.owner)
                .values(**values, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise _Lost
        for name, value in values.items():
            if hasattr(job, name) and name != "invited":
                setattr(job, name, value)

    # ------------------------------------------------------------------ one row

    def _work(
        self, factories: tuple[sessionmaker[Session], sessionmaker[Session]], row_id: int, now: datetime
    ) -> None:
        writer, reader = factories
        try:
            with transaction(reader, commit=False) as session:
                job = self._read(session, row_id, now)
        except Unavailable:  # no ops applied: nothing to name or invite by yet
            job = None
        except Exception:
            log.exception("slack: reading the channel row %s failed", row_id)
            job = None
        if job is None:
            self._release_by_id(writer, row_id, now)
            return
        try:
            self._act(writer, job, now)
            self._save(
                writer,
                job,
                now,
                claimed_by=None,
                next_attempt_at=None,
                attempts=0,
                last_error="; ".join(job.notes)[:500] or None,
            )
        except _Lost:
            log.info("slack: the claim on %s's channel expired; another replica has it", job.number)
        except SlackFailure as failure:
            self._failed(writer, job, now, failure)
        except Exception as exc:
            log.exception("slack: the channel of %s failed", job.number)
            self._failed(writer, job, now, SlackFailure(job.step, f"{type(exc).__name__}: {exc}", True))

    def _release_by_id(self, writer: sessionmaker[Session], row_id: int, now: datetime) -> None:
        with transaction(writer) as session:
            session.execute(
                update(SlackChannel)
                .where(SlackChannel.id == row_id, SlackChannel.claimed_by == self.owner)
                .values(claimed_by=None, next_attempt_at=now + BACKOFF_CAP, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def _failed(self, writer: sessionmaker[Session], job: _Job, now: datetime, failure: SlackFailure) -> None:
        error = "; ".join([str(failure), *job.notes])[:500]
        try:
            if failure.retry:
                attempts = job.attempts + 1
                wait = (
                    timedelta(seconds=failure.retry_after)
                    if failure.retry_after is not None
                    else backoff(attempts)
                )
                log.warning("slack: %s's channel: %s; trying again in %s", job.number, failure, wait)
                self._save(
                    writer,
                    job,
                    now,
                    claimed_by=None,
                    attempts=attempts,
                    next_attempt_at=now + wait,
                    last_error=error,
                )
            else:
                log.error("slack: %s's channel: Slack refused %s; giving up", job.number, failure)
                self._save(
                    writer, job, now, claimed_by=None, state=m.FAILED, next_attempt_at=None, last_error=error
                )
        except _Lost:
            pass

    def _read(self, session: Session, row_id: int, now: datetime) -> _Job | None:
        row = session.get(SlackChannel, row_id)
        if row is None or row.claimed_by != self.owner:
            return None
        incident = session.get_one(Incident, row.incident_id)
        config = policy_service.current_config(session)
        base = self.settings.base_url()
        page = paging_page.build(config, incident, base_url=base)
        views = roles.view(session, incident=incident, now=now)
        ic = next((v.holder for v in views if v.role == "ic"), None)
        pages = session.scalars(
            select(TimelineEntry.data).where(
                TimelineEntry.incident_id == incident.id, TimelineEntry.kind == "page"
            )
        ).all()
        paged = list(
            dict.fromkeys(
                str(to)
                for data in pages
                if (data or {}).get("kind", "page") == "page"
                for to in (data or {}).get("to") or []
            )
        )
        people = [v.holder for v in views if v.holder]
        people += [label[1:] for label in paged if label.startswith("@")]
        for name in config.settings.slack.invite.get(incident.severity, []):  # type: ignore[call-overload]
            team = config.team(name)
            people += team.members if team else [name]
        entries = timeline.entries(session, incident=incident, after=row.cursor or None, limit=ENTRIES)
        pm = session.scalar(select(Postmortem.status).where(Postmortem.incident_id == incident.id))
        end = incident.resolved_at or incident.closed_at or now
        return _Job(
            row_id=row.id,
            state=row.state,
            step=row.step,
            name=row.name,
            channel_id=row.channel_id,
            cursor=row.cursor,
            topic=row.topic,
            invited={u for u in row.invited.split(",") if u},
            attempts=row.attempts,
            number=page.number,
            status=incident.status,
            closed=incident.status == "closed",
            page=page,
            ic=ic,
            paged=paged,
            people=list(dict.fromkeys(p.lstrip("@") for p in people)),
            new_topic=blocks.topic(
                severity=incident.severity,
                status=incident.status,
                ic=ic,
                status_page=_status_page(session, config, incident),
            ),
            newest=timeline.newest_id(session, incident=incident),
            entries=[(e.id, e.kind, dict(e.data or {}), e.text) for e in entries],
            postmortem=pm,
            postmortem_url=f"{base}/postmortems/{page.number}",
            duration=format_duration(max(timedelta(0), end - incident.declared_at)),
            config=config,
        )

    def _act(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        if job.step == m.CREATE:
            if job.closed:
                job.notes.append(f"{job.number} was closed before its channel could be made")
                self._save(writer, job, now, state=m.FAILED, step=m.DONE)
                return
            self._create(writer, job, now)
        for step, do in (
            (m.TOPIC, self._set_topic),
            (m.INVITE, self._invite),
            (m.BOOKMARK_RUNBOOK, self._bookmark_runbook),
            (m.BOOKMARK_INCIDENT, self._bookmark_incident),
            (m.OPENING, self._opening),
            (m.ANNOUNCE, self._announce),
        ):
            if job.step == step:
                self._optional(job, step, lambda do=do: do(writer, job, now))
                following = m.SETUP[m.SETUP.index(step) + 1] if step != m.ANNOUNCE else m.FOLLOW
                values: dict[str, Any] = {"step": following}
                if step == m.OPENING:
                    values["cursor"] = job.newest  # the opening message told everything before it
                self._save(writer, job, now, **values)
        if job.step == m.FOLLOW:
            self._follow(writer, job, now)
        if job.step == m.ARCHIVE and job.postmortem in ARCHIVABLE:
            self._archive(writer, job, now)

    def _optional(self, job: _Job, step: str, do: Any) -> None:
        """Run ``do``; a refusal (not a "try later") of a step the channel can live without is noted."""
        try:
            do()
        except SlackFailure as failure:
            if failure.retry or step in ESSENTIAL:
                raise
            log.warning("slack: %s's channel: %s skipped: %s", job.number, step, failure)
            job.notes.append(str(failure))

    # ------------------------------------------------------------------ the calls

    def _create(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        base = job.page.command_post or job.name
        suffix = next((n for n in range(1, MAX_SUFFIX + 1) if channel_name(base, n) == job.name), 1)
        while True:
            try:
                answer = call("conversations.create", self.client.conversations_create, name=job.name)
            except SlackFailure as failure:
                if failure.error != "name_taken" or suffix >= MAX_SUFFIX:
                    raise
                suffix += 1
                self._save(writer, job, now, name=channel_name(base, suffix))
                continue
            self._save(
                writer, job, now, channel_id=str(answer["channel"]["id"]), state=m.CREATED, step=m.TOPIC
            )
            return

    def _set_topic(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        call(
            "conversations.setTopic",
            self.client.conversations_setTopic,
            channel=job.channel_id,
            topic=job.new_topic,
        )
        self._save(writer, job, now, topic=job.new_topic)

    def _invite(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        """Everyone the channel should hold and does not yet: one call each, so one person Slack
        refuses (deactivated, a guest) never keeps the others out."""
        for handle in job.people:
            user = self._slack_id(job.config, handle, now)
            if user is None:
                job.notes.append(f"@{handle} has no Slack account (slack_user or an email Slack knows)")
                continue
            if user in job.invited:
                continue
            try:
                call(
                    "conversations.invite",
                    self.client.conversations_invite,
                    channel=job.channel_id,
                    users=user,
                )
            except SlackFailure as failure:
                if failure.retry:
                    raise
                if failure.error not in ALREADY:
                    job.notes.append(f"inviting @{handle}: {failure.error}")
            job.invited.add(user)
            self._save(writer, job, now, invited=",".join(sorted(job.invited)))

    def _slack_id(self, config: OpsConfig, handle: str, now: datetime) -> str | None:
        person = config.person(handle)
        if person is None:
            return None
        if person.contact.slack_user:
            return person.contact.slack_user
        email = person.contact.email
        if not email:
            return None
        with self._lock:
            cached = self._users.get(email)
        if cached is not None and now - cached[1] < USERS_KEPT:
            return cached[0]
        try:
            answer = call("users.lookupByEmail", self.client.users_lookupByEmail, email=email)
            found: str | None = str(answer["user"]["id"])
        except SlackFailure as failure:
            if failure.retry:
                raise
            found = None
        with self._lock:
            self._users[email] = (found, now)
        return found

    def _bookmark_runbook(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        if job.page.runbook_url:
            call(
                "bookmarks.add",
                self.client.bookmarks_add,
                channel_id=job.channel_id,
                title="Runbook",
                type="link",
                link=job.page.runbook_url,
                emoji=":book:",
            )

    def _bookmark_incident(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        call(
            "bookmarks.add",
            self.client.bookmarks_add,
            channel_id=job.channel_id,
            title=f"{job.number} in commandpost",
            type="link",
            link=job.page.url,
            emoji=":rotating_light:",
        )

    def _opening(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        text, body = blocks.opening(job.page, ic=job.ic, paged=job.paged, channel=job.name)
        answer = call(
            "chat.postMessage", self.client.chat_postMessage, channel=job.channel_id, text=text, blocks=body
        )
        self._save(writer, job, now, opening_ts=str(answer.get("ts") or "") or None)

    def _announce(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        where = job.config.settings.slack.announce_channel
        if where and job.channel_id:
            text, body = blocks.announcement(job.page, channel_id=job.channel_id)
            call("chat.postMessage", self.client.chat_postMessage, channel=where, text=text, blocks=body)

    def _follow(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        self._optional(job, m.INVITE, lambda: self._invite(writer, job, now))
        entries = [entry for entry in job.entries if entry[0] > job.cursor]
        lines = [
            (entry_id, line)
            for entry_id, kind, data, text in entries
            if (line := blocks.update_line(kind, data, text)) is not None
        ]
        for start in range(0, len(lines), LINES):
            chunk = lines[start : start + LINES]
            text, body = blocks.updates([line for _id, line in chunk])
            call(
                "chat.postMessage",
                self.client.chat_postMessage,
                channel=job.channel_id,
                text=text,
                blocks=body,
            )
            self._save(writer, job, now, cursor=chunk[-1][0])
        if entries and entries[-1][0] > job.cursor:
            self._save(writer, job, now, cursor=entries[-1][0])
        if job.new_topic != job.topic:
            self._optional(job, m.TOPIC, lambda: self._set_topic(writer, job, now))
        if job.closed and len(job.entries) < ENTRIES:
            text, body = blocks.summary(
                job.page,
                status=job.status,
                duration=job.duration,
                ic=job.ic,
                postmortem_url=job.postmortem_url,
                postmortem=(job.postmortem or "not yet evaluated").replace("_", " "),
            )
            call(
                "chat.postMessage",
                self.client.chat_postMessage,
                channel=job.channel_id,
                text=text,
                blocks=body,
            )
            archive = job.config.settings.slack.archive_on_close
            self._save(writer, job, now, step=m.ARCHIVE if archive else m.DONE)

    def _archive(self, writer: sessionmaker[Session], job: _Job, now: datetime) -> None:
        text, body = blocks.archived(job.number, job.postmortem_url, final=job.postmortem == "final")
        call("chat.postMessage", self.client.chat_postMessage, channel=job.channel_id, text=text, blocks=body)
        try:
            call("conversations.archive", self.client.conversations_archive, channel=job.channel_id)
        except SlackFailure as failure:
            if failure.error not in ALREADY:
                raise
        self._save(writer, job, now, state=m.ARCHIVED, step=m.DONE)


def _status_page(session: Session, config: OpsConfig, incident: Incident) -> str:
    """What the public status page says of the incident: only what Comms or the IC published there."""
    shown = session.scalars(
        select(PublicUpdate)
        .where(PublicUpdate.incident_id == incident.id)
        .order_by(PublicUpdate.id.desc())
        .limit(1)
    ).first()
    if shown is None:
        return "not published"
    return f"{shown.state}, updated {timeline.local(shown.at, config.settings.timezone, '%H:%M %Z')}"
