"""SMS and voice text: what a page says in at most two segments, GSM-7 against UCS-2, and the spoken
page; the failover order; and our use of Twilio's and Vonage's webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest

from commandpost.notify.channels.base import Outbound
from commandpost.notify.phones import sms, twilio, voice, webhooks
from commandpost.notify.phones.base import Failover, ProviderResult, VoiceScript, delivery

LINK = "https://cp.example/a/a.1f.mei.7.6a5b3c2d~" + "x" * 43
NOW = datetime(2026, 6, 24, 3, 0, tzinfo=UTC)


def page(**payload: Any) -> Outbound:
    base = {
        "kind": "page",
        "incident": "INC-7",
        "service": "payments",
        "title": "Checkout 5xx above 5%",
        "first_move": "Roll back the last deploy",
        "ack_url": LINK,
        "reply_code": "4821",
    }
    return Outbound(
        id=1, key="page/x", channel="sms", destination="+819012345678", subject="[SEV1] Checkout 5xx",
        body="…", severity="SEV1", payload={**base, **payload},
    )  # fmt: skip


def test_a_short_page_reads_severity_service_title_first_move_link_and_reply_code() -> None:
    text = sms.compose(page())
    assert text.splitlines() == [
        "SEV1 INC-7 payments: Checkout 5xx above 5%",
        "First: Roll back the last deploy",
        f"Ack: {LINK}",
        "Reply 4821 to ack, ESC 4821 to escalate",
    ]
    assert sms.is_gsm(text) and sms.segments(text) == 2


def test_a_long_page_is_cut_to_two_gsm_segments_keeping_the_link_and_the_code() -> None:
    text = sms.compose(page(title="T" * 400, first_move="M" * 400))
    assert sms.units(text, gsm=True) <= 306 and sms.segments(text) == 2
    assert f"Ack: {LINK}" in text and text.endswith("Reply 4821 to ack, ESC 4821 to escalate")
    title, move = text.splitlines()[:2]
    assert title.endswith("T...") and move.startswith("First: M") and move.endswith("M...")


def test_a_short_first_move_is_kept_whole_and_the_title_gives_way() -> None:
    text = sms.compose(page(title="T" * 400))
    assert "First: Roll back the last deploy" in text
    assert sms.segments(text) == 2 and "T..." in text


def test_one_character_outside_gsm7_makes_it_ucs2_and_the_budget_134() -> None:
    text = sms.compose(page(title="決済が失敗しています " * 20, ack_url="https://cp.example/a/t0k3n"))
    assert not sms.is_gsm(text)
    assert sms.units(text, gsm=False) <= 134 and sms.segments(text) == 2
    assert "https://cp.example/a/t0k3n" in text and "4821" in text and "…" in text


def test_a_ucs2_page_whose_link_leaves_no_room_keeps_the_start_of_the_title() -> None:
    text = sms.compose(page(title="決済が失敗しています " * 20))
    assert text.splitlines()[0] == "SEV1 INC-7 payments: " + ("決済が失敗しています " * 4)[:39].rstrip() + "…"
    assert LINK in text and "First:" not in text and sms.segments(text) == 3


def test_the_link_and_code_are_never_cut_even_past_two_segments() -> None:
    long_link = "https://cp.example/a/" + "y" * 300
    text = sms.compose(page(ack_url=long_link))
    assert long_link in text and "Reply 4821" in text


def test_segments_count_extension_characters_twice_and_utf16_units() -> None:
    assert sms.units("{[]}", gsm=True) == 8 and sms.is_gsm("{[]}€")
    assert sms.segments("a" * 160) == 1 and sms.segments("a" * 161) == 2
    assert sms.segments("é" * 70) == 1  # é is GSM-7
    assert sms.segments("ł" * 70) == 1 and sms.segments("ł" * 71) == 2
    assert sms.units("🚨", gsm=False) == 2


def test_control_characters_in_the_title_do_not_reach_the_text() -> None:
    text = sms.compose(page(title="line\r\nbreak\x00\ttab"))
    assert (
        text.splitlines()[0] == "SEV1 INC-7 payments: line break\x00 tab" or "\n" not in text.splitlines()[0]
    )
    assert "\r" not in text


def test_a_notice_without_reply_code_is_its_subject_body_and_link() -> None:
    notice = Outbound(
        id=2, key="notice/x", channel="sms", destination="+819012345678", subject="Handoff: you are on call",
        body="Your shift starts at 09:00 JST", payload={"url": "https://cp.example/oncall"},
    )  # fmt: skip
    assert sms.compose(notice).splitlines() == [
        "Handoff: you are on call",
        "Your shift starts at 09:00 JST",
        "https://cp.example/oncall",
    ]


def test_the_voice_script_reads_the_page_and_carries_the_ack_token() -> None:
    message = page()
    script = voice.script(message.severity, message.subject, message.payload)
    assert script.page == (
        "This is commandpost. SEV1 incident INC-7. Service payments. Checkout 5xx above 5%. "
        "First move: Roll back the last deploy."
    )
    assert script.prompt == "Press 1 to acknowledge, 2 to escalate, 3 to repeat."
    assert script.gather_token == LINK.rsplit("/", 1)[1]


def test_the_twiml_gathers_one_key_and_posts_even_no_key_to_the_action() -> None:
    xml = str(
        twilio.page_twiml(
            VoiceScript("Page.", "Press 1.", "tok"), "https://cp.example/hooks/twilio/voice?t=tok"
        )
    )
    assert '<Gather action="https://cp.example/hooks/twilio/voice?t=tok" actionOnEmptyResult="true"' in xml
    assert 'input="dtmf"' in xml and 'numDigits="1"' in xml and "<Say>Page.</Say><Say>Press 1.</Say>" in xml


class Fake:
    def __init__(self, name: str, *results: ProviderResult) -> None:
        self.name, self.results, self.sent = name, list(results), 0

    def send_sms(self, to: str, body: str) -> ProviderResult:
        self.sent += 1
        return self.results.pop(0)

    def call(self, to: str, script: VoiceScript) -> ProviderResult:
        return self.send_sms(to, "")

    def close(self) -> None:
        pass


def test_the_countrys_provider_goes_first_then_the_org_order() -> None:
    twilio_, vonage_ = Fake("twilio"), Fake("vonage")
    failover = Failover([twilio_, vonage_], {"JP": "vonage"})
    assert [p.name for p in failover.order("+819012345678")] == ["vonage", "twilio"]
    assert [p.name for p in failover.order("+14155550100")] == ["twilio", "vonage"]
    assert [p.name for p in failover.order("not a number")] == ["twilio", "vonage"]


def test_a_failing_provider_falls_to_the_next_but_a_recipient_error_stops() -> None:
    first = Fake("twilio", ProviderResult("retry", "twilio", error="twilio 20500: down"),
                 ProviderResult("permanent", "twilio", error="twilio 21610: STOP"))  # fmt: skip
    second = Fake("vonage", ProviderResult("ok", "vonage", provider_ref="0A01"))
    failover = Failover([first, second])
    assert delivery(failover.send_sms("+819012345678", "x")) == delivery(ProviderResult("ok", "v", "0A01"))
    dead = delivery(failover.send_sms("+819012345678", "x"))
    assert (dead.outcome, dead.error, second.sent) == ("dead", "twilio 21610: STOP", 1)


def test_all_providers_failing_is_a_retry_naming_each_or_dead_when_none_will_ever_take_it() -> None:
    retry = Failover([
        Fake("twilio", ProviderResult("retry", "twilio", error="twilio 20429: busy")),
        Fake("vonage", ProviderResult("refused", "vonage", error="vonage 4: Bad Credentials")),
    ]).send_sms("+14155550100", "x")  # fmt: skip
    assert (retry.verdict, retry.error) == ("retry", "twilio 20429: busy; vonage 4: Bad Credentials")
    refused = Failover(
        [Fake("vonage", ProviderResult("refused", "vonage", error="vonage 4: Bad Credentials"))]
    )
    assert delivery(refused.send_sms("+14155550100", "x")).outcome == "dead"
    assert delivery(Failover([]).send_sms("+1", "x")).error == "no SMS/voice provider is configured"


def test_twilio_signature_test_vector() -> None:
    """The twilio-python test vector: our check accepts it, and a changed digit or URL fails it."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    signature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert webhooks.twilio_signed("12345", url, params, signature)
    assert not webhooks.twilio_signed("12345", url, {**params, "Digits": "1235"}, signature)
    assert not webhooks.twilio_signed("12345", url.replace("bar=2", "bar=3"), params, signature)
    assert not webhooks.twilio_signed("", url, params, signature)
    assert not webhooks.twilio_signed("12345", url, params, "")


@pytest.mark.parametrize("method", ["md5", "sha256"])
def test_vonage_sig_is_checked_over_sorted_params_with_a_fresh_timestamp(method: str) -> None:
    params = {"msisdn": "819012345678", "text": "ack 4821&x=y", "timestamp": str(int(NOW.timestamp()))}
    text = "&msisdn=819012345678&text=ack 4821_x_y&timestamp=" + params["timestamp"]
    sig = hmac.new(b"secret", text.encode(), getattr(hashlib, method)).hexdigest()
    assert webhooks.vonage_signed("secret", method, {**params, "sig": sig}, NOW)
    assert webhooks.vonage_signed("secret", method, {**params, "sig": sig.upper()}, NOW)
    assert not webhooks.vonage_signed("secret", method, {**params, "text": "ack 4822", "sig": sig}, NOW)
    stale = {**params, "timestamp": str(int(NOW.timestamp()) - 600)}
    assert not webhooks.vonage_signed(
        "secret", method, {**stale, "sig": webhooks.vonage_signature("secret", method, stale)}, NOW
    )
    assert not webhooks.vonage_signed("secret", method, params, NOW)
