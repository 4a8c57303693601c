"""Can the people on call be woken? ``check`` warns before the 3 a.m. page that only reaches email.

A person on a rotation layer is paged (a stacked layer pages the members of its layers, so they
are counted there); a page that lands only in email or Slack waits until
someone looks. So each of them needs a method that rings or buzzes a phone (push, SMS or voice)
among those their high-urgency rules use, and each method a rule names needs its contact value.
Warnings, not errors: a team may page by email on purpose, but it should say so knowingly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commandpost.policy.durations import format_duration
from commandpost.policy.findings import Source
from commandpost.policy.opsfiles import METHODS, WAKING_METHODS, Person

if TYPE_CHECKING:
    from commandpost.policy.loader import Collected
    from commandpost.policy.xref import Report


def high_urgency_methods(person: Person) -> list[str]:
    """The methods a page (high urgency) uses: the rules' when written, else every one the person has."""
    rules = person.notification_rules.get("high")
    if rules:
        return list(dict.fromkeys(m for rule in rules for m in rule.methods))
    return [m for m in METHODS if m != "console"]


def wakes(person: Person) -> bool:
    return any(m in WAKING_METHODS and person.contact.address(m) for m in high_urgency_methods(person))


def check_reach(got: Collected, report: Report) -> None:
    if got.people is None:
        return
    people, source = got.people
    layers: dict[str, list[str]] = {}
    for schedule, _src in got.schedules:
        for layer in schedule.layers:
            for member in layer.rotation.members if layer.rotation else ():
                layers.setdefault(member.lstrip("@"), []).append(f"{schedule.name}/{layer.name}")
    for i, person in enumerate(people.people):
        _missing_contacts(person, i, source, report)
        on = layers.get(person.handle)
        if on and not wakes(person):
            reached = [m for m in high_urgency_methods(person) if person.contact.address(m)]
            report.warn(
                source,
                ("people", i, "contact"),
                f"{person.handle} is on call ({', '.join(sorted(set(on)))}) but no method can wake them at "
                f"3 a.m.: pages reach them by {', '.join(reached) or 'nothing but the console'}; add "
                "contact.ntfy_topic (push) or contact.phone (SMS, voice) and use it in notification_rules",
            )


def _missing_contacts(person: Person, i: int, source: Source, report: Report) -> None:
    """A rule that names a method the person has no contact value for skips that step."""
    for urgency, rules in person.notification_rules.items():
        for j, rule in enumerate(rules):
            for method in rule.methods:
                if method != "console" and not person.contact.address(method):
                    report.warn(
                        source,
                        ("people", i, "notification_rules", urgency, j, "methods"),
                        f"{person.handle}: the {urgency}-urgency rule at {format_duration(rule.after)} names "
                        f"{method}, but contact has no {_contact_key(method)}: that step reaches nobody",
                    )


def _contact_key(method: str) -> str:
    keys = {"push": "ntfy_topic", "sms": "phone", "voice": "phone", "slack": "slack_user or slack_webhook"}
    return keys.get(method, method)


def unsent(people: list[Person], *, push: bool, phones: bool) -> list[tuple[tuple[Any, ...], str]]:
    """Contact methods the server where ``check`` runs cannot send: (key path of the first, the warning)."""
    found: list[tuple[tuple[Any, ...], str]] = []
    for off, methods, key, fix in (
        (
            not push,
            ("push",),
            "ntfy_topic",
            "set COMMANDPOST_NTFY_URL (e.g. https://ntfy.sh or your own server)",
        ),
        (
            not phones,
            ("sms", "voice"),
            "phone",
            "configure Twilio or Vonage (COMMANDPOST_TWILIO_* / VONAGE_*)",
        ),
    ):
        who = [(i, p) for i, p in enumerate(people) if any(p.contact.address(m) for m in methods)]
        if off and who:
            names = ", ".join(p.handle for _, p in who)
            what = "push is" if methods == ("push",) else "SMS and voice are"
            found.append(
                (
                    ("people", who[0][0], "contact", key),
                    f"{what} off where this runs, but {names} {'has' if len(who) == 1 else 'have'} a "
                    f"contact.{key}: every such page becomes a dead letter and falls through to the next "
                    f"method; {fix}",
                )
            )
    return found
