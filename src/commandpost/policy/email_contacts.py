"""Who would be emailed, so a missing SMTP server is said before the first page goes missing.

Without ``COMMANDPOST_SMTP_HOST`` every email becomes a dead letter ("email is not configured").
``check`` warns at the first email contact in people.yaml and ``/readyz`` carries the same words
(issue 14, item 18). Pure: the people and teams in, the message out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from commandpost.policy.opsfiles import SEVERITIES, Person, Team


@dataclass
class EmailRecipients:
    """People and team channels that would be emailed, with the key path of the first address."""

    people: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    first: tuple[Any, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.people or self.teams)


def emails_person(person: Person) -> bool:
    """Whether anything is ever emailed to ``person``: an address, and email among the methods of some
    severity (``notify``), or of their notification rules (an urgency without rules uses every
    contact method)."""
    if not person.contact.email:
        return False
    listed = person.notify
    if any("email" in methods for methods in listed.values()):
        return True
    if all(sev in listed for sev in SEVERITIES):
        return False
    rules = person.notification_rules
    return any(
        not rules.get(urgency) or any("email" in rule.methods for rule in rules[urgency])
        for urgency in ("high", "low")
    )


def email_recipients(people: Iterable[Person], teams: Iterable[Team]) -> EmailRecipients:
    found = EmailRecipients()
    for i, person in enumerate(people):
        if emails_person(person):
            found.people.append(person.handle)
            found.first = found.first or ("people", i, "contact", "email")
    for i, team in enumerate(teams):
        if team.channel is not None and team.channel.email:
            found.teams.append(team.name)
            found.first = found.first or ("teams", i, "channel", "email")
    return found


def smtp_missing(recipients: EmailRecipients) -> str:
    """What to say when email is off but ``recipients`` would be emailed."""
    parts = []
    if recipients.people:
        n = len(recipients.people)
        names = ", ".join(sorted(recipients.people))
        parts.append(f"{n} {'person has' if n == 1 else 'people have'} an email contact ({names})")
    if recipients.teams:
        n = len(recipients.teams)
        names = ", ".join(sorted(recipients.teams))
        parts.append(f"{n} team channel{' has' if n == 1 else 's have'} an email address ({names})")
    them = "it" if not recipients.people and len(recipients.teams) == 1 else "them"
    return (
        f"email is off (COMMANDPOST_SMTP_HOST is not set), but {' and '.join(parts)}: every email to "
        f"{them} becomes a dead letter; set COMMANDPOST_SMTP_HOST (and COMMANDPOST_SMTP_FROM) where "
        "commandpost runs, or remove the email contacts"
    )
