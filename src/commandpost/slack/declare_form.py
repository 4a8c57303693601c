"""``/inc declare`` with no arguments: the web form's modal — each severity's definition beside it.

The same texts as the web page's declare form (web/templates/declare.html): pick the first row that
matches; a paging severity on a service pages its on-call; with no service nobody is paged. The
answers come back as a ``view_submission`` (:func:`answers`).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import OpsConfig

CALLBACK = "declare"
TITLE, SEVERITY, SERVICE = "title", "severity", "service"
MAX_TITLE = 300
_MAX_OPTION_DESCRIPTION = 75  # Block Kit's limit for an option's description


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def view(config: OpsConfig) -> dict[str, Any]:
    """The modal ``views.open`` shows."""
    rows = []
    options = []
    for name, sev in config.severities.items():
        pages = "pages" if sev.paging else "no paging"
        examples = f" · e.g. {'; '.join(sev.examples)}" if sev.examples else ""
        rows.append(
            f"*{name} — {sev.name}:* {sev.definition}\n_respond within "
            f"{format_duration(sev.response_target)} · {pages}{examples}_"
        )
        options.append(
            Option(
                value=name,
                text=f"{name} — {sev.name}",
                description=_short(sev.definition, _MAX_OPTION_DESCRIPTION),
            )
        )
    services = [Option(value=s.name, text=_short(s.name, 75)) for s in config.services[:100]]
    blocks: list[Any] = [
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="When in doubt, declare: it costs one channel. You become IC; hand it over "
                    "explicitly later."
                )
            ]
        ),
        InputBlock(
            block_id=TITLE,
            label="What is happening",
            element=PlainTextInputElement(
                action_id=TITLE, max_length=MAX_TITLE, placeholder="Payment webhooks piling up"
            ),
        ),
        SectionBlock(text=MarkdownTextObject(text=_short("\n".join(rows), 3000))),
        InputBlock(
            block_id=SEVERITY,
            label="Severity — pick the first row that matches",
            element=RadioButtonsElement(action_id=SEVERITY, options=options),
        ),
    ]
    if services:
        blocks.append(
            InputBlock(
                block_id=SERVICE,
                label="Service",
                optional=True,
                hint=PlainTextObject(
                    text="A severity that pages, declared on a service, pages that service's on-call "
                    "(not you, if you are on call). With no service, nobody is paged."
                ),
                element=StaticSelectElement(
                    action_id=SERVICE, placeholder="(not sure yet)", options=services
                ),
            )
        )
    return View(
        type="modal",
        callback_id=CALLBACK,
        title="Declare an incident",
        submit="Declare",
        close="Cancel",
        blocks=blocks,
    ).to_dict()


def answers(state: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """``view.state.values`` → (title, severity, service); absent answers are empty/None."""

    def value(block: str) -> dict[str, Any]:
        found = state.get(block, {}).get(block, {})
        return found if isinstance(found, dict) else {}

    title = value(TITLE).get("value")
    severity = (value(SEVERITY).get("selected_option") or {}).get("value")
    service = (value(SERVICE).get("selected_option") or {}).get("value")
    return (
        title if isinstance(title, str) else "",
        severity if isinstance(severity, str) else None,
        service if isinstance(service, str) else None,
    )


def done(text: str) -> dict[str, Any]:
    """The modal after declaring: what was declared, and where the command post is."""
    return View(
        type="modal",
        title="Declared",
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=_short(text, 3000)))],
    ).to_dict()
