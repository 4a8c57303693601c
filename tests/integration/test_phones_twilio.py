"""SMS and voice pages through the real ``twilio`` client and our Vonage client, against local stand-ins
that follow each provider's documented API: what each provider receives, and the failover — Twilio
answering 500 or not at all sends the page through Vonage; a recipient error (21610 STOP, Vonage 3) is a
dead letter with the reason; throttling everywhere is a retry."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from commandpost.notify.channels.base import Outbound
from commandpost.notify.phones.setup import PhoneChannels, phone_channels
from commandpost.settings import Settings
from tests.standins import twilio as twilio_standin
from tests.standins import vonage as vonage_standin
from tests.standins.twilio import TwilioStandin
from tests.standins.vonage import VonageStandin

pytestmark = pytest.mark.integration
PUBLIC = "https://cp.example"
TOKEN = "a.1f.mei.7.6a5b3c2d~signature"
JP, US = "+819012345678", "+14155550100"


@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    standin = twilio_standin.start(hang_seconds=1.5)
    yield standin
    twilio_standin.stop(standin)


@pytest.fixture
def vonage() -> Iterator[VonageStandin]:
    standin = vonage_standin.start(hang_seconds=1.5)
    yield standin
    vonage_standin.stop(standin)


@pytest.fixture
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def settings_for(twilio: TwilioStandin, vonage: VonageStandin, **changes: object) -> Settings:
    base = Settings(
        public_url=PUBLIC,
        engine_enabled=False,
        notify_timeout_seconds=0.5,
        twilio_account_sid=twilio.account_sid,
        twilio_auth_token=SecretStr(twilio.auth_token),
        twilio_from="+15017122661",
        twilio_api_url=twilio.url,
        vonage_api_key=vonage.api_key,
        vonage_api_secret=SecretStr(vonage.api_secret),
        vonage_from="CommandPost",
        vonage_rest_url=vonage.url,
        vonage_api_url=vonage.url,
    )
    return base.model_copy(update=changes)


@pytest.fixture
def channels(twilio: TwilioStandin, vonage: VonageStandin) -> Iterator[PhoneChannels]:
    made = phone_channels(settings_for(twilio, vonage))
    yield made
    made.close()


def page(to: str = US, channel: str = "sms") -> Outbound:
    return Outbound(
        id=7, key="page/incident=7", channel=channel, destination=to, subject="[SEV1] Checkout 5xx",
        body="Checkout 5xx", severity="SEV1", incident_id=7, person="mei",
        payload={"kind": "page", "incident": "INC-7", "service": "payments", "title": "Checkout 5xx above 5%",
                 "first_move": "Roll back", "ack_url": f"{PUBLIC}/a/{TOKEN}", "reply_code": "4821"},
    )  # fmt: skip


def test_an_sms_page_goes_through_the_twilio_client_with_our_status_callback(
    channels, twilio, vonage
) -> None:
    delivery = channels.sms.send(page(), now=None)  # type: ignore[arg-type]
    (sent,) = twilio.to("Messages")
    assert (sent.get("To"), sent.get("From")) == (US, "+15017122661")
    assert sent.get("StatusCallback") == f"{PUBLIC}/hooks/twilio/status"
    assert sent.get(
        "Body",
    ).startswith("SEV1 INC-7 payments: Checkout 5xx above 5%\nFirst: Roll back\n")  # type: ignore[union-attr]
    assert "Reply 4821 to ack, ESC 4821 to escalate" in sent.get("Body")  # type: ignore[operator]
    assert delivery.outcome == "delivered" and delivery.provider_ref in twilio.created
    assert vonage.sms == []


@pytest.mark.parametrize("failure", [20500, "hang"], ids=["500", "timeout"])
def test_twilio_failing_or_silent_hands_the_page_to_vonage(channels, twilio, vonage, failure) -> None:
    twilio.script("Messages", failure)
    delivery = channels.sms.send(page(), now=None)  # type: ignore[arg-type]
    (sent,) = vonage.sms
    assert delivery.outcome == "delivered" and delivery.provider_ref == sent["message-id"]
    assert (sent["to"], sent["from"], sent["type"]) == (US.lstrip("+"), "CommandPost", "text")
    assert sent["callback"] == f"{PUBLIC}/hooks/vonage/dlr" and "Reply 4821" in sent["text"]


def test_an_unsubscribed_recipient_is_dead_with_the_reason_and_no_other_provider_is_tried(
    channels, twilio, vonage
) -> None:
    twilio.script("Messages", 21610)
    delivery = channels.sms.send(page(), now=None)  # type: ignore[arg-type]
    assert (delivery.outcome, delivery.error) == (
        "dead",
        "twilio 21610: the recipient replied STOP (unsubscribed)",
    )
    assert vonage.sms == []


@pytest.mark.parametrize(("code", "reason"), [(21211, "invalid 'To' number"), (21614, "not a mobile number")])
def test_other_recipient_errors_are_dead_too(channels, twilio, code, reason) -> None:
    twilio.script("Messages", code)
    delivery = channels.sms.send(page(), now=None)  # type: ignore[arg-type]
    assert delivery.outcome == "dead" and delivery.error is not None
    assert delivery.error.startswith(f"twilio {code}: ") and reason in delivery.error


def test_throttled_everywhere_is_a_retry_naming_each_provider(channels, twilio, vonage) -> None:
    twilio.script("Messages", 20429)
    vonage.script("sms", "1")
    delivery = channels.sms.send(page(), now=None)  # type: ignore[arg-type]
    assert delivery.outcome == "retry"
    assert delivery.error == "twilio 20429: Unable to create record: Too Many Requests; vonage 1: Throttled"


def test_vonage_recipient_status_is_dead_after_twilio_fails(channels, twilio, vonage) -> None:
    twilio.script("Messages", 20500)
    vonage.script("sms", "3")
    delivery = channels.sms.send(page(), now=None)  # type: ignore[arg-type]
    assert (delivery.outcome, delivery.error) == ("dead", "vonage 3: invalid number")


def test_the_countrys_provider_is_tried_first(twilio, vonage) -> None:
    made = phone_channels(settings_for(twilio, vonage, sms_provider_by_country={"JP": "vonage"}))
    try:
        made.sms.send(page(JP), now=None)  # type: ignore[arg-type]
        made.sms.send(page(US), now=None)  # type: ignore[arg-type]
    finally:
        made.close()
    assert [m["to"] for m in vonage.sms] == [JP.lstrip("+")]
    assert [r.get("To") for r in twilio.to("Messages")] == [US]


def test_wrong_twilio_credentials_fall_to_vonage(twilio, vonage) -> None:
    made = phone_channels(settings_for(twilio, vonage, twilio_auth_token=SecretStr("wrong")))
    try:
        delivery = made.sms.send(page(), now=None)  # type: ignore[arg-type]
    finally:
        made.close()
    assert delivery.outcome == "delivered" and len(vonage.sms) == 1


def test_a_voice_page_is_a_twilio_call_reading_the_page_in_a_gather_with_the_ack_token(
    channels, twilio
) -> None:
    delivery = channels.voice.send(page(channel="voice"), now=None)  # type: ignore[arg-type]
    (call,) = twilio.to("Calls")
    assert delivery.outcome == "delivered" and delivery.provider_ref in twilio.created
    assert call.form["StatusCallbackEvent"] == ["answered", "completed"]
    assert call.get("StatusCallback") == f"{PUBLIC}/hooks/twilio/status"
    twiml = call.get("Twiml") or ""
    action = twiml.split('action="', 1)[1].split('"', 1)[0]
    assert urlsplit(action).path == "/hooks/twilio/voice" and parse_qs(urlsplit(action).query) == {
        "t": [TOKEN]
    }
    assert "<Say>This is commandpost. SEV1 incident INC-7. Service payments." in twiml
    assert "Press 1 to acknowledge, 2 to escalate, 3 to repeat." in twiml


def test_a_vonage_call_carries_an_ncco_and_an_rs256_application_jwt(twilio, vonage, private_key) -> None:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    vonage.public_key = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    twilio.script("Calls", 20500)
    made = phone_channels(
        settings_for(twilio, vonage, vonage_application_id="app-1", vonage_private_key=SecretStr(pem))
    )
    try:
        delivery = made.voice.send(page(channel="voice"), now=None)  # type: ignore[arg-type]
    finally:
        made.close()
    (call,) = vonage.calls
    assert delivery.outcome == "delivered" and delivery.provider_ref == call["uuid"]
    assert call["to"] == [{"type": "phone", "number": US.lstrip("+")}]
    talk, gather = call["ncco"]
    assert talk["action"] == "talk" and talk["bargeIn"] is True and talk["text"].endswith("3 to repeat.")
    assert gather["dtmf"]["maxDigits"] == 1
    assert gather["eventUrl"] == [f"{PUBLIC}/hooks/vonage/voice/input?t={TOKEN}"]
    assert call["event_url"] == [f"{PUBLIC}/hooks/vonage/voice/event"]
    # the stand-in checked the JWT with the public key (a bad one is 401); it names the application
    assert vonage.calls_auth == ["app-1"]


def test_without_a_voice_application_vonage_only_texts(twilio, vonage) -> None:
    twilio.script("Calls", 20500)
    made = phone_channels(settings_for(twilio, vonage))
    try:
        delivery = made.voice.send(page(channel="voice"), now=None)  # type: ignore[arg-type]
    finally:
        made.close()
    assert delivery.outcome == "retry" and vonage.calls == []
