"""Who a Slack member is here: ``contact.slack_user`` in people.yaml, else the same email address.

The email comes from Slack's ``users.info`` through the :class:`~commandpost.slack.directory.Directory`.
A person acts with the ``responder`` scope unless every credential they hold is read-only, as a token
would.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from commandpost.errors import Forbidden
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security import service as security_service
from commandpost.security.rules import Principal
from commandpost.slack.directory import Directory


class Unmapped(Forbidden):
    """A Slack member nobody in people.yaml is: the message says how to map them."""


@dataclass(frozen=True)
class Caller:
    """A person acting from Slack: their handle, the scope they act with, their Slack id."""

    person: str
    scope: str
    slack_user: str

    @property
    def principal(self) -> Principal:
        return Principal(person=self.person, scope=self.scope)


def handle_for(config: OpsConfig, slack_user: str, directory: Directory) -> str | None:
    """The handle of the person who is ``slack_user``, or None.

    ``contact.slack_user`` first; else the member's email (``users.info``); when Slack does not say
    it, each unmapped person's email is looked up (``users.lookupByEmail``, kept an hour)."""
    for person in config.people:
        if person.contact.slack_user == slack_user:
            return person.handle
    unmapped = [p for p in config.people if p.contact.email and not p.contact.slack_user]
    email = directory.email(slack_user)
    if email is not None:
        return next((p.handle for p in unmapped if (p.contact.email or "").lower() == email), None)
    return next(
        (p.handle for p in unmapped if p.contact.email and directory.member(p.contact.email) == slack_user),
        None,
    )


def caller(session: Session, *, config: OpsConfig, slack_user: str, directory: Directory) -> Caller:
    """The person acting; :class:`Unmapped` (with how to map them) for a member nobody is."""
    handle = handle_for(config, slack_user, directory)
    if handle is None:
        raise Unmapped(
            f"your Slack account ({slack_user}) is not anyone in people.yaml: add "
            f"`contact.slack_user: {slack_user}` to your entry there (or use the same email in both), "
            "then apply the ops folder",
            details={"slack_user": slack_user},
        )
    writes = security_service.may_answer_offers(session, person=handle)
    return Caller(person=handle, scope="responder" if writes else "read", slack_user=slack_user)


def slack_user_of(config: OpsConfig, handle: str) -> str | None:
    """The Slack id people.yaml gives ``handle`` (for mentions in answers)."""
    person = config.person(handle)
    return person.contact.slack_user if person else None
