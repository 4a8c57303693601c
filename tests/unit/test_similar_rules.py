"""The words a similarity query is made of: nothing a title holds reaches FTS5 or tsquery syntax."""

from __future__ import annotations

import re

import pytest

from commandpost.similar import rules

HOSTILE = [
    'NEAR("a" b*) : OR AND NOT -c ^d',
    "\x00payment\x00webhooks\x00",
    "title: summary: {a b} NEAR/3 (x OR y)",
    "' OR 1=1 --; DROP TABLE incident_search",
    "a" * 1_000_000,
    "ü漢字🙂 \t\r\x0b webhooks_backlog",
    "&|!<->:*",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_words_are_letters_and_digits_only_and_bounded(text):
    found = rules.words(text)
    assert len(found) <= rules.MAX_WORDS
    assert all(re.fullmatch(r"[^\W_]{2,40}", w) and w == w.lower() for w in found)
    assert all(re.fullmatch(r'"[^\W_]+"', part) for part in rules.fts5_query(found).split(" OR ") if found)
    assert set(rules.tsquery(found).replace(" | ", "")) <= set("".join(found))


def test_words_keep_order_drop_repeats_stopwords_and_blobs():
    assert rules.words("The webhook backlog", "webhook QUEUE of payments", "x" * 41) == [
        "webhook",
        "backlog",
        "queue",
        "payments",
    ]
    assert len(rules.words(" ".join(f"w{i}" for i in range(500)))) == rules.MAX_WORDS
    assert rules.words("webhooks_backlog") == ["webhooks", "backlog"]


def test_identity_scores_a_shared_alertname_and_label_overlap():
    query = rules.Identity.of([("HighErrorRate", {"alertname": "HighErrorRate", "team": "web"})], {})
    same = rules.Identity.of([("HighErrorRate", {"team": "web"})], {"drill": "false"})
    other = rules.Identity.of([("DiskSpaceLow", {"team": "data"})], {})
    assert rules.identity_score(query, same) == pytest.approx(1.0)  # the drill label never counts
    assert rules.identity_score(query, other) == 0.0
    scored = rules.combine(text=2.5, query=query, candidate=same, same_service=True, service="checkout")
    assert scored.score == 1.0
    assert scored.reasons == (
        "same alert HighErrorRate",
        "shared labels team=web",
        "same service checkout",
        "similar words",
    )
