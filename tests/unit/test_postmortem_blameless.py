"""The blameless check: blaming and non-blaming sentences with the flags expected (guide §5-1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from commandpost.policy.loader import load_ops
from commandpost.postmortems.blameless import SUGGESTIONS, People, check_sections, check_text, sentences

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ops"


@pytest.fixture(scope="module")
def people() -> People:
    config = load_ops(EXAMPLE).config
    assert config is not None
    return People.of(config.people)


BLAMING = [
    ("@yuta deleted the table.", "actor-deleted", "@yuta", "delete"),
    ("Yuta accidentally dropped the payments index.", "actor-deleted", "Yuta", "delete"),
    ("Hana forgot to renew the certificate.", "actor-forgot", "Hana", "forget"),
    ("hana didn't check the DLQ before re-injecting.", "actor-forgot", "hana", "forget"),
    ("Ken Watanabe never ran the verify step.", "actor-forgot", "Ken Watanabe", "forget"),
    ("The root cause was human error.", "human-error", "a person", "human"),
    ("It was an operator mistake during the deploy.", "human-error", "a person", "human"),
    ("Mei's mistake broke the consumer.", "possessive-fault", "Mei", "human"),
    ("It was @ken's fault.", "possessive-fault", "@ken", "human"),
    ("@hana should have paged the secondary.", "should-have", "@hana", "should"),
    ("Sato could've rolled back sooner.", "should-have", "Sato", "should"),
    ("The blame lies with @yuta.", "blame-on", "@yuta", "human"),
    ("Hana Suzuki was responsible for the outage.", "to-blame", "Hana Suzuki", "human"),
    ("The outage happened because of Ken.", "because-of", "Ken", "human"),
    ("@mei misconfigured the consumer's concurrency.", "actor-misconfigured", "@mei", "config"),
    ("Yuta ran the wrong migration script.", "actor-misconfigured", "Yuta", "config"),
    ("@ken pushed a bad config to production.", "actor-misconfigured", "@ken", "config"),
    ("@yuta broke the webhook consumer with the 1.4 deploy.", "actor-broke", "@yuta", "break"),
    ("Someone purged the DLQ.", "actor-deleted", "Someone", "delete"),
    ("The on-call engineer ignored the warning alert.", "actor-forgot", "The on-call engineer", "forget"),
]

NOT_BLAMING = [
    "There was no guard preventing deletion of the table.",
    "@yuta rolled back the deploy at 03:21.",
    "Hana noticed the backlog on the dashboard and declared the incident.",
    "The deploy pipeline did not require a review for config changes.",
    "The alert did not fire because its threshold was evaluated per minute.",
    "Ken scaled the consumer out to 12 tasks, which drained the queue.",
    "Nobody could see the DLQ depth: there was no dashboard panel for it.",
    "The runbook had no step for re-injecting DLQ events.",
    "The config change was merged without a CI validation of the concurrency limit.",
    "@mei posted the comms updates on time.",
]


@pytest.mark.parametrize(("sentence", "rule", "actor", "suggestion"), BLAMING)
def test_blaming_sentences_are_flagged_with_a_system_focused_suggestion(
    people, sentence, rule, actor, suggestion
):
    (flag,) = check_text(sentence, people, section="root_cause")
    assert (flag.rule, flag.actor, flag.section) == (rule, actor, "root_cause")
    assert flag.sentence == sentence
    assert flag.suggestion == SUGGESTIONS[suggestion]
    assert flag.phrase and flag.phrase in sentence


@pytest.mark.parametrize("sentence", NOT_BLAMING)
def test_system_focused_sentences_pass(people, sentence):
    assert check_text(sentence, people) == []


def test_the_deletion_suggestion_is_the_guides_wording(people):
    (flag,) = check_text("@yuta deleted the table", people)
    assert flag.suggestion.startswith("there was no guard preventing deletion")


def test_only_root_cause_and_went_poorly_are_checked_one_flag_per_sentence(people):
    sections = {
        "summary": "@yuta deleted the table.",  # facts belong in the summary; not checked
        "root_cause": "1. Why? Hana forgot the flag.\n2. Why? There was no checklist. Ken forgot it too.",
        "technical_factor": "It was human error.",
        "process_factor": "Reviews were optional.",
        "went_poorly": "- @ken should have paged sooner\n- The dashboard was slow",
        "went_well": "@mei deleted the stale feature flag quickly.",
    }
    flags = check_sections(sections, people)
    assert [(f.section, f.rule) for f in flags] == [
        ("root_cause", "actor-forgot"),
        ("root_cause", "actor-forgot"),
        ("technical_factor", "human-error"),
        ("went_poorly", "should-have"),
    ]
    assert [f.sentence for f in flags][:2] == ["Hana forgot the flag.", "Ken forgot it too."]


def test_sentences_split_on_punctuation_lines_and_bullets():
    assert sentences("- One. Two!\n3) Three?\n\n  * four") == ["One.", "Two!", "Three?", "four"]


def test_words_that_merely_contain_a_name_are_not_people(people):
    assert check_text("The token forgot nothing; broken tokens are refused.", people) == []
