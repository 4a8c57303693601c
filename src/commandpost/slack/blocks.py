"""What the command post says in Slack, as Block Kit (``slack_sdk.models.blocks``) with a plain-text
fallback (Slack shows it in notifications and reads it to screen readers).

- :func:`opening`: the incident's first message — severity, title, service, runbook link and first
  move (the page's own words, :class:`commandpost.paging.page.PageText`), IC, who is paged — with the
  **Acknowledge** (``ack``), **Escalate** (``escalate``) and **Open** buttons; the two actions carry
  ``INC-n`` as their value.
- :func:`update_line` / :func:`updates`: one short line per timeline entry worth telling the channel
  (role changes, status and severity changes, handover offers and answers, comms updates, pages).
- :func:`announcement`, :func:`topic`, :func:`summary` (on close, with the postmortem link) and
  :func:`archived`.

Everything shown comes from stored, redacted columns; mrkdwn's ``& < >`` are escaped so a title can
neither mention ``@channel`` nor forge a link.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from commandpost.paging.page import PageText

TOPIC_LIMIT = 250
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
ACK, ESCALATE, OPEN = "ack", "escalate", "open"
MARKS = {
    "status": ":arrows_counterclockwise:",
    "severity": ":rotating_light:",
    "role": ":bust_in_silhouette:",
    "handover": ":handshake:",
    "comms": ":mega:",
    "page": ":pager:",
}

Message = tuple[str, list[dict[str, Any]]]
"""(fallback text, blocks as JSON)"""


def escape(text: str) -> str:
    """``text`` as literal mrkdwn: Slack's three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, label: str) -> str:
    """A mrkdwn link, or the escaped label alone when the URL could break out of ``<…|…>``."""
    if not url or any(c in url for c in "<>| \n"):
        return escape(label)
    return f"<{url}|{escape(label)}>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def _who(people: Sequence[str]) -> str:
    return ", ".join(escape(p) for p in people) if people else "nobody yet"


def opening(page: PageText, *, ic: str | None, paged: Sequence[str], channel: str) -> Message:
    """The opening message of the command post: the page's facts and the three buttons."""
    lines = []
    if page.missing:
        lines.append(f":warning: *NO RUNBOOK* — {escape(page.missing)}")
    if page.runbook_url:
        lines.append(f"*Runbook:* {link(page.runbook_url, page.runbook_url)}")
    if page.first_move is not None:
        lines.append(f"*First move:* {escape(page.first_move.words)}")
        if page.first_move.command_apart:
            lines.append(f"```{escape(page.first_move.command_apart)}```")
    elif page.move_note:
        lines.append(f"*First move:* {escape(page.move_note)}")
    fields = [
        MarkdownTextObject(text=f"*Severity*\n{escape(page.severity)}"),
        MarkdownTextObject(text=f"*Service*\n{escape(page.service or '—')}"),
        MarkdownTextObject(text=f"*IC*\n{escape('@' + ic) if ic else 'nobody yet (the first ack)'}"),
        MarkdownTextObject(text=f"*Paged*\n{_cut(_who(paged), 1900)}"),
    ]
    blocks: list[Block] = [
        HeaderBlock(block_id="title", text=_cut(page.headline, HEADER_LIMIT)),
        SectionBlock(block_id="facts", fields=fields),
    ]
    if lines:
        blocks.append(
            SectionBlock(
                block_id="runbook", text=MarkdownTextObject(text=_cut("\n".join(lines), SECTION_LIMIT))
            )
        )
    blocks += [
        ActionsBlock(
            block_id=f"incident-{page.number}",
            elements=[
                ButtonElement(text="Acknowledge", action_id=ACK, value=page.number, style="primary"),
                ButtonElement(text="Escalate", action_id=ESCALATE, value=page.number, style="danger"),
                ButtonElement(text="Open", action_id=OPEN, url=page.url),
            ],
        ),
        ContextBlock(
            elements=[MarkdownTextObject(text=f"Command post of {escape(page.number)}: #{escape(channel)}")]
        ),
    ]
    fallback = "\n".join(
        [
            escape(page.subject()),
            escape(f"Runbook: {page.runbook_url or page.missing or '—'}"),
            escape(f"Paged: {', '.join(paged) or '—'}"),
        ]
    )
    return fallback, _json(blocks)


def announcement(page: PageText, *, channel_id: str) -> Message:
    """The line in the org's announcement channel: what broke, and where the command post is."""
    where = f"command post <#{channel_id}> · {link(page.url, 'open')}"
    text = f":rotating_light: *{escape(page.headline)}* — {where}"
    return escape(f"{page.subject()} — command post #{page.command_post}"), _json(
        [SectionBlock(block_id="announce", text=MarkdownTextObject(text=_cut(text, SECTION_LIMIT)))]
    )


def topic(*, severity: str, status: str, ic: str | None, status_page: str) -> str:
    """The channel topic: what anyone joining needs first."""
    return _cut(
        f"{severity} · {status} · IC {'@' + ic if ic else '—'} · status page: {status_page}", TOPIC_LIMIT
    )


def update_line(kind: str, data: dict[str, Any], text: str) -> str | None:
    """The channel's line for a timeline entry, or None for what the channel does not need to hear
    (notes it already has, alerts, FYIs, runbook ticks). The entry's own sentence is the line."""
    if kind not in MARKS:
        return None
    if kind == "page" and data.get("kind", "page") != "page":
        return None
    if kind == "comms":
        audience = str(data.get("audience") or "internal")
        what = str(data.get("comms_kind") or "update")
        return f"{MARKS[kind]} *Comms {escape(what)} ({escape(audience)})*\n{escape(text)}"
    return f"{MARKS[kind]} {escape(text)}"


def updates(lines: Sequence[str]) -> Message:
    """One message for the lines of a pass (one ``chat.postMessage`` per channel and pass: Slack
    allows about one a second per channel)."""
    blocks = [SectionBlock(text=MarkdownTextObject(text=_cut(line, SECTION_LIMIT))) for line in lines]
    return "\n".join(lines), _json(blocks)


def summary(
    page: PageText, *, status: str, duration: str, ic: str | None, postmortem_url: str, postmortem: str
) -> Message:
    """The close summary: what it was, how long, who led, and where the postmortem is."""
    text = (
        f":white_check_mark: *{escape(page.number)} is {escape(status)}* — {escape(page.title)}\n"
        f"*Severity:* {escape(page.severity)} · *Service:* {escape(page.service or '—')} · "
        f"*Duration:* {escape(duration)} · *IC:* {escape('@' + ic) if ic else '—'}\n"
        f"*Postmortem ({escape(postmortem)}):* {link(postmortem_url, postmortem_url)}"
    )
    fallback = escape(f"{page.number} {status}: {page.title} — postmortem {postmortem_url}")
    return fallback, _json(
        [SectionBlock(block_id="summary", text=MarkdownTextObject(text=_cut(text, SECTION_LIMIT)))]
    )


def archived(number: str, postmortem_url: str, *, final: bool) -> Message:
    """The last word before the channel is archived: the postmortem is Final, or none is required."""
    why = f"Postmortem of {number} is Final" if final else f"{number} needs no postmortem"
    text = f":file_folder: {escape(why)}: {link(postmortem_url, postmortem_url)} — archiving this channel."
    return escape(f"{why}: {postmortem_url} — archiving this channel."), _json(
        [SectionBlock(block_id="archived", text=MarkdownTextObject(text=text))]
    )
