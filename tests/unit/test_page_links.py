"""The one-tap link tokens: bound to action, message, person and incident; signed; expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from commandpost.errors import Forbidden
from commandpost.security.links import Links, LinkSigner

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
SIGNER = LinkSigner(b"k" * 32)


def token(**overrides: object) -> str:
    values: dict[str, object] = {
        "action": "ack",
        "message_id": 42,
        "person": "mei",
        "incident_id": 7,
        "expires_at": NOW + timedelta(hours=1),
    }
    values.update(overrides)
    return SIGNER.token(**values)  # type: ignore[arg-type]


def test_a_token_reads_back_what_it_was_made_for() -> None:
    grant = SIGNER.read(token(), now=NOW)
    assert (grant.action, grant.message_id, grant.person, grant.incident_id) == ("ack", 42, "mei", 7)
    assert grant.expires_at == NOW + timedelta(hours=1)
    assert SIGNER.read(token(action="escalate", incident_id=None), now=NOW).incident_id is None


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("a.2a.", "e.2a.", 1),  # an ack link used to escalate
        lambda t: t.replace(".mei.", ".ken.", 1),  # someone else
        lambda t: t.replace(".2a.", ".2b.", 1),  # another message
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: t + "x",
        lambda t: t.split("~")[0],  # no signature at all
        lambda t: "",
        lambda t: "a.2a.mei.7.ffffffff~" + "A" * 43,
        lambda t: t.replace("~", "\x00"),
        lambda t: "é" + t,
    ],
)
def test_an_altered_token_is_refused(change) -> None:  # type: ignore[no-untyped-def]
    original = token()
    assert original.startswith("a.2a.mei.7.")
    with pytest.raises(Forbidden, match="not valid"):
        SIGNER.read(change(original), now=NOW)


def test_a_token_made_with_another_key_is_refused() -> None:
    with pytest.raises(Forbidden, match="not valid"):
        LinkSigner(b"other key").read(token(), now=NOW)


def test_an_expired_token_is_refused_at_its_expiry() -> None:
    made = token(expires_at=NOW + timedelta(minutes=5))
    assert SIGNER.read(made, now=NOW + timedelta(minutes=4, seconds=59)).person == "mei"
    with pytest.raises(Forbidden, match="expired"):
        SIGNER.read(made, now=NOW + timedelta(minutes=5))


def test_links_of_a_message_and_its_reply_code() -> None:
    links = Links(SIGNER, "https://cp.example/", timedelta(hours=24))
    made = links.for_message(message_id=42, person="mei", incident_id=7, now=NOW)
    assert made["ack_url"].startswith("https://cp.example/a/a.2a.mei.7.")
    assert made["escalate_url"].startswith("https://cp.example/a/e.2a.mei.7.")
    grant = SIGNER.read(made["ack_url"].rsplit("/", 1)[1], now=NOW + timedelta(hours=23))
    assert grant.action == "ack"
    assert len(made["ack_url"]) < 110  # it has to fit an SMS beside the page
    code = made["reply_code"]
    assert code.isdigit() and len(code) == 4
    assert SIGNER.reply_code(42) == code  # stable: the reply finds the page by it
    codes = {SIGNER.reply_code(i) for i in range(200)}
    assert len(codes) > 190  # spread out: neighbouring pages rarely share a code
