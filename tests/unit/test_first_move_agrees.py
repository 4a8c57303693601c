"""The first move of a runbook is decided and worded once (``runbooks.service.first_move`` and
``FirstMove.words``): the page's text, the Slack command post's opening blocks and the payload the
phone channels read say the same first move for the same runbook."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import pytest

from commandpost.incidents.models import Incident
from commandpost.paging import page
from commandpost.policy.loader import load_ops
from commandpost.slack import blocks
from tests.paging_support import EXAMPLE_OPS

MITIGATE = "## 3. Mitigate — first stop the bleeding (before root-cause analysis)\n"
UNLABELLED = "- [ ] Restart the consumer\n\n  ```\n  systemctl restart payment-webhook-consumer\n  ```\n\n"
ESCAPED = "- [ ] first move — drain <the> queue & wait: `kubectl scale deploy/consumer --replicas=12`\n\n"


def _ops(tmp_path: Path, mitigate: str | None) -> Path:
    """examples/ops, with payment-webhook-backlog's Mitigate section replaced by ``mitigate``."""
    folder = tmp_path / "ops"
    shutil.copytree(EXAMPLE_OPS, folder)
    if mitigate is not None:
        path = folder / "runbooks" / "payment-webhook-backlog.md"
        text = path.read_text(encoding="utf-8")
        start, end = text.index(MITIGATE) + len(MITIGATE), text.index("## 4. Verify")
        path.write_text(text[:start] + mitigate + text[end:], encoding="utf-8")
    return folder


def _from_page(body: str) -> tuple[str, str | None]:
    lines = body.splitlines()
    at = next(n for n, line in enumerate(lines) if line.startswith("First move: "))
    command = lines[at + 1].removeprefix("    $ ") if lines[at + 1].startswith("    $ ") else None
    return lines[at].removeprefix("First move: "), command


def _from_slack(message: list[dict[str, object]]) -> tuple[str, str | None]:
    section = next(b for b in message if b.get("block_id") == "runbook")
    lines = html.unescape(str(section["text"]["text"])).splitlines()  # type: ignore[index]
    at = next(n for n, line in enumerate(lines) if line.startswith("*First move:* "))
    following = lines[at + 1] if at + 1 < len(lines) else ""
    command = following.strip("`") if following.startswith("```") else None
    return lines[at].removeprefix("*First move:* "), command


@pytest.mark.parametrize(
    ("slug", "mitigate", "words", "command"),
    [
        (
            "db-connection-exhaustion",
            None,
            "rate-limit the runaway caller / temporarily narrow the concurrency: "
            "`aws lambda put-function-concurrency --function-name payments-api "
            "--reserved-concurrent-executions 50`",
            None,  # the words quote it: not repeated on a line of its own
        ),
        (
            "payment-webhook-backlog",
            UNLABELLED,
            "Restart the consumer",
            "systemctl restart payment-webhook-consumer",
        ),
        (
            "payment-webhook-backlog",
            ESCAPED,
            "drain <the> queue & wait: `kubectl scale deploy/consumer --replicas=12`",
            None,
        ),
    ],
)
def test_the_page_and_the_slack_opening_say_the_same_first_move(
    tmp_path: Path, slug: str, mitigate: str | None, words: str, command: str | None
) -> None:
    config = load_ops(_ops(tmp_path, mitigate)).config
    assert config is not None
    incident = Incident(
        number=7, severity="SEV1", service="payment-platform", title="Backlog", runbook=slug, channel=None
    )
    said = page.build(config, incident, base_url="https://cp.example")
    _fallback, message = blocks.opening(said, ic=None, paged=["ken"], channel="inc-7")
    on_page = _from_page(said.page_body("primary_oncall (level 1 of 2)", ""))
    assert on_page == (words, command)
    assert _from_slack(message) == on_page
    assert said.payload("page")["first_move"] == words  # what SMS and voice read
