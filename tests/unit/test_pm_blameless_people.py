"""Issue 14, item 18: the blameless check flags possessives and passives that name a person.

"Ken's change broke the build", "the migration was run by @ken", "the deploy by Ken" put a person
where the analysis needs a condition, as much as "@ken broke the build" does. People are the handles
and names of people.yaml (the example setup: yuta, hana, ken, mei, sato); the same shapes with a
system, a job or a thing in the person's place pass, and so do the passives that credit a response
("the backlog was noticed by Hana"), like their active forms do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from commandpost.policy.loader import load_ops
from commandpost.postmortems import smart
from commandpost.postmortems.blameless import SUGGESTIONS, People, check_text

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ops"


@pytest.fixture(scope="module")
def people() -> People:
    config = load_ops(EXAMPLE).config
    assert config is not None
    return People.of(config.people)


BLAMING = [
    # possessives: a person's change, commit, deploy … as the cause
    ("Ken's change broke the build.", "possessive-change", "Ken"),
    ("@yuta's PR caused the outage.", "possessive-change", "@yuta"),
    ("Hana's migration dropped the payments index.", "possessive-change", "Hana"),
    ("Mei’s late deploy took down checkout.", "possessive-change", "Mei"),
    ("The root cause was Ken Watanabe's config change.", "possessive-change", "Ken Watanabe"),
    ("It started with sato's commit to the consumer.", "possessive-change", "sato"),
    # passives naming the person who did it
    ("The migration was run by @ken.", "passive-by", "@ken"),
    ("The bad config was pushed by Yuta.", "passive-by", "Yuta"),
    ("The table was accidentally deleted by Hana Suzuki.", "passive-by", "Hana Suzuki"),
    ("The flag had been flipped by mei without a review.", "passive-by", "mei"),
    ("The queue got purged by someone.", "passive-by", "someone"),
    # "the <change> by <person>"
    ("The outage followed the deploy by Ken.", "change-by", "Ken"),
    ("A config change by @yuta removed the rate limit.", "change-by", "@yuta"),
    ("Errors began after the 14:02 rollout by Hana.", "change-by", "Hana"),
]

NOT_BLAMING = [
    "The system's cache served stale tokens.",
    "The consumer's change of schema broke the parser.",
    "The migration was run by the deploy job without a dry run.",
    "The bad config was pushed by the release pipeline.",
    "The outage followed the deploy by the CD system.",
    "A config change by the autoscaler removed the rate limit.",
    "The backlog was noticed by Hana on the dashboard.",
    "The incident was acknowledged by @yuta within three minutes.",
    "The consumer was rolled back by Ken at 12:21.",
    "Hana's dashboard showed the backlog first.",
    "Kendall's changelog lists the 1.4.2 release.",  # a word that merely starts with a name
    "The deploy by hand took 40 minutes because the pipeline was down.",
]


@pytest.mark.parametrize(("sentence", "rule", "actor"), BLAMING)
def test_possessives_and_passives_naming_a_person_are_flagged(people, sentence, rule, actor):
    flags = check_text(sentence, people, section="root_cause")
    assert [(f.rule, f.actor) for f in flags] == [(rule, actor)]
    (flag,) = flags
    assert flag.phrase and flag.phrase in sentence
    assert flag.suggestion in SUGGESTIONS.values()


@pytest.mark.parametrize("sentence", NOT_BLAMING)
def test_the_same_shapes_without_a_person_pass(people, sentence):
    assert check_text(sentence, people) == []


def test_an_action_item_title_with_a_possessive_is_not_smart(people):
    from datetime import date

    ctx = smart.SmartContext(
        today=date(2026, 6, 24),
        timezone="UTC",
        vague_words=[],
        people={"ken"},
        blame=lambda text: check_text(text, people),
    )
    item = smart.ActionDraft(
        title="Revert Ken's change to the consumer pool size",
        type="process",
        owner="ken",
        due=date(2026, 7, 15),
        ticket="OPS-1",
    )
    assert [(p.rule, p.field) for p in smart.smart_problems(item, ctx)] == [("Blameless", "title")]
