"""security.stored.store_identifier remembers identifiers that hold no secret (a dedup key comes
back with every repeat) — and only those: a key with a secret is redacted every time and never kept
in memory; the memory is bounded."""

from __future__ import annotations

import pytest

from commandpost.security import stored
from commandpost.security.stored import store_identifier

TOKEN = "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"


@pytest.fixture(autouse=True)
def fresh() -> None:
    stored._CLEAN_IDENTIFIERS.clear()


def test_a_clean_identifier_is_kept_and_answered_the_same() -> None:
    fingerprint = "4edb6a9835d1ccad"  # random-looking: the entropy detectors flag it, identifiers keep it
    assert store_identifier(fingerprint) == fingerprint
    assert fingerprint in stored._CLEAN_IDENTIFIERS
    assert store_identifier(fingerprint) == fingerprint
    assert store_identifier(fingerprint, 8) == fingerprint  # a clean value is never cut, as before


def test_a_key_with_a_secret_is_redacted_every_time_and_never_kept() -> None:
    key = f"deploy/{TOKEN}"
    first = store_identifier(key)
    assert TOKEN not in first and first.endswith("]") and "[sha256:" in first
    assert store_identifier(key) == first  # the same stored key: a repeat finds its alert
    assert key not in stored._CLEAN_IDENTIFIERS
    assert not any(TOKEN in kept for kept in stored._CLEAN_IDENTIFIERS)


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored, "_CLEAN_LIMIT", 10)
    for n in range(25):
        assert store_identifier(f"worker-{n}/queue-depth") == f"worker-{n}/queue-depth"
        assert len(stored._CLEAN_IDENTIFIERS) <= 10
    long = "x" * (stored._CLEAN_MAX_CHARS + 1)
    assert store_identifier(long) == long
    assert long not in stored._CLEAN_IDENTIFIERS  # long values are scanned each time, not kept
