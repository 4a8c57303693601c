"""Issue 14, item 18: the SMART vague-word check catches variants of a vague phrase.

Case, hyphens and spacing ("Double check", "double - check", "DOUBLE‐CHECK"), inflections
("double-checking", "paying attention"), adverbs put between the words of a phrase ("be much more
careful", "pay close attention") and filler that promises without naming a change ("… going
forward") are all flagged; good action items — including ones that merely share a word with a vague
phrase — are not. The list still comes from ``postmortem.vague_words`` in commandpost.yaml.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from commandpost.policy.loader import load_ops
from commandpost.policy.opsfiles import PostmortemSettings
from commandpost.postmortems import smart, vague

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ops"
DEFAULT = PostmortemSettings().vague_words

VAGUE = [
    ("Double check the config before deploying the consumer", "double-check"),
    ("double-check the config before deploying the consumer", "double-check"),
    ("DOUBLE-CHECK the config before deploying the consumer", "double-check"),
    ("Double - check the config before deploying the consumer", "double-check"),
    ("Double\u2010check the config before deploying the consumer", "double-check"),  # Unicode hyphen
    ("Doublecheck the config before deploying the consumer", "double-check"),
    ("Double-checking configs before every deploy of the consumer", "double-check"),
    ("Be careful when deploying the consumer", "be careful"),
    ("Be more careful when deploying the consumer", "be careful"),
    ("Be much more careful when deploying the consumer", "be careful"),
    ("be  extra\tcareful with the migration scripts", "be careful"),
    ("Be really, really careful with the migration scripts", "be careful"),
    ("Improve monitoring going forward", "going forward"),
    ("Going forward, review every deploy of the consumer", "going forward"),
    ("Watch the webhook dashboards more carefully from now on", "more carefully"),
    ("Pay close attention to the DLQ depth during deploys", "pay attention"),
    ("Paying more attention to disk usage alerts", "pay attention"),
    ("Try harder to keep the runbook up to date", "try to"),
    ("Make really sure to run the migration dry run", "make sure to"),
    ("Test the consumer release thoroughly before rollout", "thoroughly"),
    ("Keep an eye on the queue depth after each deploy", "keep an eye on"),
    ("Scale the consumer out as needed during peaks", "as needed"),
]

GOOD = [
    "Park unknown webhook event types in the DLQ instead of crashing the consumer",
    "Add the payment provider's API changelog to the consumer release checklist",
    "Add a DLQ depth panel and a DLQ re-injection step to the webhook backlog runbook",
    "Add a pre-deploy check that diffs the consumer config against production",
    "Fail the release pipeline on a double-digit error rate check in the canary",
    "Make the deploy job refuse a migration without a dry run",
    "Try the rollback script in a drill to confirm it restores the consumer",
    "Alert when the queue depth exceeds 1,000 for 5 minutes and page the payments on-call",
    "Move the DLQ alert forward to fire at 500 messages instead of 1,000",
    "Add a future-dated certificate check to the renewal job",
    "Automate the certificate renewal with a 30-day expiry alert",
    "Rate-limit the reporting batch to 50 connections in the pool config",
]


def _found(text: str, words: list[str] | None = None) -> list[str]:
    return vague.vague_phrases(text, DEFAULT if words is None else words)


@pytest.mark.parametrize(("title", "phrase"), VAGUE)
def test_variants_of_a_vague_phrase_are_flagged(title: str, phrase: str) -> None:
    assert phrase in _found(title)


@pytest.mark.parametrize("title", GOOD)
def test_good_action_items_are_not_flagged(title: str) -> None:
    assert _found(title) == []


def test_the_tables_are_big_enough() -> None:
    assert len(VAGUE) >= 20 and len(GOOD) >= 10


@pytest.mark.parametrize(("title", "phrase"), VAGUE)
def test_a_vague_title_is_not_smart(title: str, phrase: str) -> None:
    ctx = smart.SmartContext(today=date(2026, 6, 24), timezone="UTC", vague_words=DEFAULT, people={"ken"})
    item = smart.ActionDraft(
        title=title, type="process", owner="ken", due=date(2026, 7, 15), ticket="OPS-1", verification=None
    )
    problems = smart.smart_problems(item, ctx)
    assert any(p.rule == "Specific" and f"'{phrase}'" in p.message for p in problems), problems


def _ops_with(tmp_path: Path, vague_words: list[str]) -> Path:
    folder = tmp_path / "ops"
    shutil.copytree(EXAMPLE, folder)
    path = folder / "commandpost.yaml"
    data = yaml.safe_load(path.read_text())
    data["postmortem"]["vague_words"] = vague_words
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return folder


def test_the_list_comes_from_commandpost_yaml_and_is_normalised(tmp_path: Path) -> None:
    config = load_ops(_ops_with(tmp_path, ["keep in mind", "look-into"])).config
    assert config is not None
    words = config.settings.postmortem.vague_words
    assert words == ["keep in mind", "look-into"]
    assert _found("Keep-in-mind the DLQ limits when deploying", words) == ["keep in mind"]
    assert _found("Look into the consumer crash loops", words) == ["look-into"]
    assert _found("Look very closely into the consumer crash loops", words) == ["look-into"]
    # the configured list replaces the default one …
    assert _found("Be much more careful when deploying the consumer", words) == []
    # … while filler that never names a change is flagged whatever the list
    assert _found("Improve monitoring going forward", words) == ["going forward"]
