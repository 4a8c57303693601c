"""The memoized alert redaction is exactly security.redact's ``redact_data``, only faster on repeats."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from commandpost.alerts.scrub import scrub
from commandpost.security.redact import redact_data

SECRETS = st.sampled_from(
    [
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_" + "a1B2" * 9,
        "4111 1111 1111 1111",
        "postgres://admin:hunter2hunter2@db:5432/x",
        "xoxb-123456789012-1234567890123-abcdefghijABCDEFGHIJklmn",
    ]
)
TEXT = st.one_of(st.text(max_size=40), SECRETS, SECRETS.map(lambda s: f"key={s} leaked"))
KEYS = st.one_of(
    st.sampled_from(["password", "apiKey", "X-Auth-Token", "summary", "db_passwd"]), st.text(max_size=10)
)
JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([4111111111111111]),
        st.floats(allow_nan=False),
        TEXT,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_scrub_equals_redact_data(value):
    assert scrub(value) == redact_data(value)
    assert scrub(value) == redact_data(value), "the cached answer is the same answer"


def test_long_strings_bypass_the_cache_but_are_still_redacted():
    text = "x" * 600 + " AKIAIOSFODNN7EXAMPLE"
    assert "AKIA" not in scrub(text) and scrub(text) == redact_data(text)
