"""The Slack calls that make and keep an incident's channel, each step's result saved as it succeeds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from commandpost.policy.opsfiles import OpsConfig
from commandpost.slack import blocks
from commandpost.slack import models as m
from commandpost.slack.channel_job import ARCHIVABLE, ENTRIES, ChannelJob
from commandpost.slack.client import SlackFailure, call

log = logging.getLogger("commandpost.slack")

LINES = 20
"""Lines per update message (a section block each; Slack allows 50 blocks)."""
MAX_SUFFIX = 20
"""``name_taken``: the name with ``-2`` … ``-20`` is tried before the row fails."""
NAME_LIMIT = 80
ESSENTIAL = frozenset({m.CREATE, m.OPENING, m.FOLLOW, m.ARCHIVE})
"""Steps whose refusal fails the row; any other step Slack refuses is skipped and noted."""
ALREADY = frozenset({"already_in_channel", "cant_invite_self", "already_archived"})


def channel_name(name: str, suffix: int = 1) -> str:
    """Slack's form of the incident's channel name: lowercase, ``[a-z0-9_-]``, at most 80 characters,
    ``-<suffix>`` from the second try on."""
    clean = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in name.lower())
    clean = clean.strip("-") or "incident"
    tail = f"-{suffix}" if suffix > 1 else ""
    return clean[: NAME_LIMIT - len(tail)].rstrip("-") + tail


class ChannelSteps:
    """The calls of one row, in the order the channel needs them; ``save`` stores each result."""

    def __init__(
        self,
        client: WebClient,
        save: Callable[..., None],
        slack_id: Callable[[OpsConfig, str, datetime], str | None],
    ) -> None:
        self.client = client
        self.save = save
        self.slack_id = slack_id

    def act(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        if job.step == m.CREATE:
            if job.closed:
                job.notes.append(f"{job.number} was closed before its channel could be made")
                self.save(writer, job, now, state=m.FAILED, step=m.DONE)
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
                self.save(writer, job, now, **values)
        if job.step == m.FOLLOW:
            self._follow(writer, job, now)
        if job.step == m.ARCHIVE and job.postmortem in ARCHIVABLE:
            self._archive(writer, job, now)

    def _optional(self, job: ChannelJob, step: str, do: Any) -> None:
        """Run ``do``; a refusal (not a "try later") of a step the channel can live without is noted."""
        try:
            do()
        except SlackFailure as failure:
            if failure.retry or step in ESSENTIAL:
                raise
            log.warning("slack: %s's channel: %s skipped: %s", job.number, step, failure)
            job.notes.append(str(failure))

    def _create(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        base = job.page.command_post or job.name
        suffix = next((n for n in range(1, MAX_SUFFIX + 1) if channel_name(base, n) == job.name), 1)
        while True:
            try:
                answer = call("conversations.create", self.client.conversations_create, name=job.name)
            except SlackFailure as failure:
                if failure.error != "name_taken" or suffix >= MAX_SUFFIX:
                    raise
                suffix += 1
                self.save(writer, job, now, name=channel_name(base, suffix))
                continue
            self.save(
                writer, job, now, channel_id=str(answer["channel"]["id"]), state=m.CREATED, step=m.TOPIC
            )
            return

    def _set_topic(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        call(
            "conversations.setTopic",
            self.client.conversations_setTopic,
            channel=job.channel_id,
            topic=job.new_topic,
        )
        self.save(writer, job, now, topic=job.new_topic)

    def _invite(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        """Everyone the channel should hold and does not yet: one call each, so one person Slack
        refuses (deactivated, a guest) never keeps the others out."""
        for handle in job.people:
            user = self.slack_id(job.config, handle, now)
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
            self.save(writer, job, now, invited=",".join(sorted(job.invited)))

    def _bookmark_runbook(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
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

    def _bookmark_incident(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        call(
            "bookmarks.add",
            self.client.bookmarks_add,
            channel_id=job.channel_id,
            title=f"{job.number} in commandpost",
            type="link",
            link=job.page.url,
            emoji=":rotating_light:",
        )

    def _opening(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        text, body = blocks.opening(job.page, ic=job.ic, paged=job.paged, channel=job.name)
        answer = call(
            "chat.postMessage", self.client.chat_postMessage, channel=job.channel_id, text=text, blocks=body
        )
        self.save(writer, job, now, opening_ts=str(answer.get("ts") or "") or None)

    def _announce(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        where = job.config.settings.slack.announce_channel
        if where and job.channel_id:
            text, body = blocks.announcement(job.page, channel_id=job.channel_id)
            call("chat.postMessage", self.client.chat_postMessage, channel=where, text=text, blocks=body)

    def _follow(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
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
            self.save(writer, job, now, cursor=chunk[-1][0])
        if entries and entries[-1][0] > job.cursor:
            self.save(writer, job, now, cursor=entries[-1][0])
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
            self.save(writer, job, now, step=m.ARCHIVE if archive else m.DONE)

    def _archive(self, writer: sessionmaker[Session], job: ChannelJob, now: datetime) -> None:
        text, body = blocks.archived(job.number, job.postmortem_url, final=job.postmortem == "final")
        call("chat.postMessage", self.client.chat_postMessage, channel=job.channel_id, text=text, blocks=body)
        try:
            call("conversations.archive", self.client.conversations_archive, channel=job.channel_id)
        except SlackFailure as failure:
            if failure.error not in ALREADY:
                raise
        self.save(writer, job, now, state=m.ARCHIVED, step=m.DONE)
