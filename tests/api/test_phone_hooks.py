"""The phone providers' webhooks on the app: only what Twilio (or Vonage) signed is acted on.

A reply, a keypress and a status callback come from the stand-ins, signed as each provider signs
(the far end); forged, missing or altered signatures get 403 and change nothing; a signed reply
acknowledges once and the second says who did; hostile bodies are a 4xx. Both databases.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from commandpost.db.engine import transaction
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.notify.models import OutgoingMessage
from commandpost.security import links
from commandpost.settings import Settings
from tests.paging_support import act, apply, open_alert, ops_variant
from tests.standins import twilio as twilio_standin
from tests.standins import vonage as vonage_standin

PUBLIC = "https://cp.example"
MEI = "+819012345678"
OUR_NUMBER = "+15017122661"
SMS_HOOK, VOICE_HOOK, STATUS_HOOK = (f"{PUBLIC}/hooks/twilio/{p}" for p in ("sms", "voice", "status"))


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        engine_enabled=False,
        public_url=PUBLIC,
        twilio_account_sid=twilio_standin.ACCOUNT_SID,
        twilio_auth_token=SecretStr(twilio_standin.AUTH_TOKEN),
        twilio_from=OUR_NUMBER,
        vonage_signature_secret=SecretStr(vonage_standin.SIGNATURE_SECRET),
        link_secret=SecretStr("link-secret-for-tests"),
    )


@pytest.fixture
def twilio() -> twilio_standin.TwilioStandin:
    """Only its signing is used here (the app is reached through the TestClient): no server needed."""
    return twilio_standin.TwilioStandin(server=None)  # type: ignore[arg-type]


@pytest.fixture
def vonage(clock) -> vonage_standin.VonageStandin:  # type: ignore[no-untyped-def]
    return vonage_standin.VonageStandin(server=None, clock=lambda: clock.now().timestamp())  # type: ignore[arg-type]


@pytest.fixture
def paged(sessions: sessionmaker[Session], clock, settings, tmp_path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """INC-1 open, and mei paged about it by SMS (as the sender leaves the row): its id, reply code, token."""

    def phones(data: dict[str, Any]) -> None:
        for person in data["people"]:
            if person["handle"] == "mei":
                person["contact"] = {**person.get("contact", {}), "phone": MEI}

    apply(sessions, clock, ops_variant(tmp_path, {"people.yaml": phones}))
    now = clock.now()
    incident = act(
        sessions, lambda s: open_alert(s, severity="SEV1", title="Checkout 5xx", now=now, group="g")
    )
    with transaction(sessions) as s:
        message = OutgoingMessage(
            key=f"page/incident={incident.id}/level=1/person=mei/channel=sms/repeat=0",
            channel="sms", destination=MEI, subject="[SEV1] Checkout 5xx", body="Checkout 5xx",
            severity="SEV1", incident_id=incident.id, person="mei", status="delivered",
            payload={"kind": "page", "incident": "INC-1", "service": "payments", "title": "Checkout 5xx",
                     "first_move": "Roll back"},
            created_at=now, due_at=now, next_attempt_at=now, provider_ref="SM" + "1" * 32,
        )  # fmt: skip
        s.add(message)
        s.flush()
        signer = links.LinkSigner(links.key(s, settings))
        token = signer.token(
            action="ack", message_id=message.id, person="mei", incident_id=incident.id,
            expires_at=now + timedelta(hours=1),
        )  # fmt: skip
        return {
            "id": message.id,
            "code": signer.reply_code(message.id),
            "token": token,
            "incident": incident.id,
        }


def state(sessions: sessionmaker[Session]) -> tuple[Any, ...]:
    with sessions() as s:
        incident = s.scalars(select(Incident)).one()
        entries = len(s.scalars(select(TimelineEntry)).all())
        message = s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id)).first()
        assert message is not None
        return incident.acknowledged_by, incident.status, entries, message.receipt, message.acted


def reply(client, twilio, text: str, sender: str = MEI) -> Any:  # type: ignore[no-untyped-def]
    return twilio.inbound_sms(SMS_HOOK, sender=sender, to=OUR_NUMBER, body=text, send=client.post)


def said(response: Any) -> str:
    assert response.headers["content-type"].startswith("text/xml")
    return " ".join(re.findall(r"<(?:Message|Say)>([^<]*)</", response.text))


def test_a_signed_reply_acknowledges_once_and_the_second_says_who(client, twilio, paged, sessions) -> None:
    first = reply(client, twilio, f"ack {paged['code']}")
    assert first.status_code == 200 and said(first) == "INC-1 acknowledged by @mei."
    assert state(sessions)[0] == "mei"
    with sessions() as s:
        entries = [e.text for e in s.scalars(select(TimelineEntry))]
    assert any("via SMS" in text for text in entries)
    second = reply(client, twilio, paged["code"])
    assert said(second).startswith("INC-1 was already acknowledged by @mei at ")


def test_a_reply_that_is_no_command_gets_help_and_changes_nothing(client, twilio, paged, sessions) -> None:
    before = state(sessions)
    answer = reply(client, twilio, "who is this?")
    assert answer.status_code == 200 and "reply with the 4-digit code" in said(answer)
    assert state(sessions) == before


def test_a_reply_from_an_unknown_number_says_so(client, twilio, paged, sessions) -> None:
    before = state(sessions)
    answer = reply(client, twilio, f"ack {paged['code']}", sender="+14155550100")
    assert answer.status_code == 200 and "belongs to nobody" in said(answer)
    assert state(sessions) == before


def signed_then(
    twilio, url: str, signed: dict[str, str], tamper: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:  # type: ignore[no-untyped-def]
    body, headers = twilio.signed(url, signed)
    if "params" in tamper:
        body = urlencode(tamper["params"]).encode()
    if "signature" in tamper:
        if tamper["signature"] is None:
            del headers["X-Twilio-Signature"]
        else:
            headers["X-Twilio-Signature"] = tamper["signature"]
    return body, headers


@pytest.mark.parametrize(
    "tamper",
    [
        {"signature": None},
        {"signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
        {"signature": ""},
        {"params": {"From": MEI, "To": OUR_NUMBER, "Body": "esc CODE"}},
        {"url": "http://testserver/hooks/twilio/sms"},
        {"token": "another-auth-token"},
    ],
    ids=["missing", "forged", "empty", "altered body", "signed for the Host header", "other account"],
)
def test_an_unsigned_or_altered_request_is_403_and_changes_nothing(client, paged, sessions, tamper) -> None:
    twilio = twilio_standin.TwilioStandin(
        server=None, auth_token=tamper.get("token", twilio_standin.AUTH_TOKEN)
    )  # type: ignore[arg-type]
    params = {"From": MEI, "To": OUR_NUMBER, "Body": f"ack {paged['code']}", "MessageSid": "SM" + "2" * 32}
    if "params" in tamper:
        tamper = {
            "params": {**tamper["params"], "Body": tamper["params"]["Body"].replace("CODE", paged["code"])}
        }
    body, headers = signed_then(twilio, tamper.get("url", SMS_HOOK), params, tamper)
    before = state(sessions)
    answer = client.post(SMS_HOOK, content=body, headers=headers)
    assert answer.status_code == 403
    assert "X-Twilio-Signature" in answer.json()["error"]["message"]
    assert state(sessions) == before


def test_twilio_hooks_are_refused_when_no_auth_token_is_set(app, client, twilio, paged, sessions) -> None:
    app.state.settings = app.state.settings.model_copy(update={"twilio_auth_token": SecretStr("")})
    answer = reply(client, twilio, f"ack {paged['code']}")
    assert answer.status_code == 403 and "COMMANDPOST_TWILIO_AUTH_TOKEN" in answer.json()["error"]["message"]
    assert state(sessions)[0] is None


def gather(client, twilio, token: str, digits: str, repeat: int = 1) -> Any:  # type: ignore[no-untyped-def]
    query = {"t": token} if repeat == 1 else {"t": token, "r": str(repeat)}
    twilio.created["CA1"] = twilio_standin.Request("Calls", {"From": [OUR_NUMBER], "To": [MEI]}, "")
    return twilio.gather(f"{VOICE_HOOK}?{urlencode(query)}", "CA1", digits, send=client.post)


def test_pressing_1_acknowledges_via_voice(client, twilio, paged, sessions) -> None:
    answer = gather(client, twilio, paged["token"], "1")
    assert answer.status_code == 200 and said(answer) == "INC-1 acknowledged by @mei. Goodbye."
    assert "<Hangup />" in answer.text
    assert state(sessions)[0] == "mei" and state(sessions)[4] == "ack"
    again = gather(client, twilio, paged["token"], "1")
    assert said(again).startswith("INC-1 was already acknowledged by @mei at ")


def test_pressing_2_passes_the_page_on(client, twilio, paged, sessions) -> None:
    answer = gather(client, twilio, paged["token"], "2")
    assert said(answer) == "INC-1 passed on; the next level is being paged by @mei. Goodbye."
    assert state(sessions)[0] is None and state(sessions)[4] == "escalate"


@pytest.mark.parametrize("digits", ["3", "", "9"])
def test_3_or_no_key_reads_the_page_again_then_says_goodbye(client, twilio, paged, sessions, digits) -> None:
    before = state(sessions)
    answer = gather(client, twilio, paged["token"], digits)
    assert "This is commandpost. SEV1 incident INC-1. Service payments. Checkout 5xx." in said(answer)
    assert 'numDigits="1"' in answer.text and "r=2" in answer.text
    last = gather(client, twilio, paged["token"], digits, repeat=3)
    assert said(last) == "No key pressed. Goodbye."
    assert state(sessions) == before


def test_a_tampered_token_in_a_signed_gather_acts_on_nothing(client, twilio, paged, sessions) -> None:
    before = state(sessions)
    answer = gather(client, twilio, paged["token"][:-2] + "xx", "1")
    assert answer.status_code == 200 and "can no longer be answered by phone" in said(answer)
    assert state(sessions) == before


def test_status_callbacks_keep_the_furthest_state(client, twilio, paged, sessions) -> None:
    sid = "SM" + "1" * 32
    twilio.created[sid] = twilio_standin.Request(
        "Messages", {"From": [OUR_NUMBER], "To": [MEI], "StatusCallback": [STATUS_HOOK]}, ""
    )
    assert twilio.message_status(sid, "delivered", send=client.post).status_code == 204
    assert twilio.message_status(sid, "sent", send=client.post).status_code == 204
    assert state(sessions)[3] == "delivered"


def test_an_undelivered_callback_records_the_error(client, twilio, paged, sessions) -> None:
    sid = "SM" + "1" * 32
    twilio.created[sid] = twilio_standin.Request("Messages", {"StatusCallback": [STATUS_HOOK]}, "")
    twilio.message_status(sid, "undelivered", error_code="30003", send=client.post)
    with sessions() as s:
        message = s.scalars(select(OutgoingMessage).order_by(OutgoingMessage.id)).first()
        assert message is not None and (message.receipt, message.last_error) == (
            "undelivered",
            "twilio reported undelivered (error 30003)",
        )


def test_hostile_bodies_are_4xx_and_change_nothing(client, twilio, paged, sessions) -> None:
    before = state(sessions)
    params = {"From": MEI, "To": OUR_NUMBER, "Body": f"ack {paged['code']}\x00\x1b"}
    nul = twilio.post(SMS_HOOK, params, send=client.post)
    assert nul.status_code == 400 and "'Body'" in nul.json()["error"]["message"]
    huge = twilio.post(SMS_HOOK, {**params, "Body": "x" * 100_000}, send=client.post)
    assert huge.status_code == 413
    latin = client.post(
        SMS_HOOK, content=b"Body=%ff%fe", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert latin.status_code == 400 and "UTF-8" in latin.json()["error"]["message"]
    multipart = client.post(SMS_HOOK, files={"Body": ("x", b"ack")})
    assert multipart.status_code == 403
    long_token = gather(client, twilio, "t" * 2000, "1")
    assert long_token.status_code == 422
    assert state(sessions) == before


# ---------------------------------------------------------------- Vonage


def test_a_signed_vonage_reply_acknowledges(client, vonage, paged, sessions) -> None:
    url = f"{PUBLIC}/hooks/vonage/inbound"
    answer = vonage.inbound(url, msisdn=MEI, to="CommandPost", text=f"ACK {paged['code']}", send=client.post)
    assert answer.status_code == 204 and state(sessions)[0] == "mei"


def test_a_vonage_reply_with_a_bad_or_stale_sig_is_403(client, vonage, paged, sessions, clock) -> None:
    url = f"{PUBLIC}/hooks/vonage/inbound"
    signed = vonage.sign({"msisdn": MEI.lstrip("+"), "text": f"ack {paged['code']}"})
    forged = client.post(url, json={**signed, "text": "esc " + paged["code"]})
    assert forged.status_code == 403 and "'sig'" in forged.json()["error"]["message"]
    clock.advance(timedelta(minutes=10))
    assert client.post(url, json=signed).status_code == 403
    assert client.post(url, json={k: v for k, v in signed.items() if k != "sig"}).status_code == 403
    assert state(sessions)[0] is None


def test_a_vonage_dlr_records_the_receipt(client, vonage, paged, sessions) -> None:
    with transaction(sessions) as s:
        s.get(OutgoingMessage, paged["id"]).provider_ref = "0A0000001234567B"  # type: ignore[union-attr]
    message = {"to": MEI.lstrip("+"), "from": "CommandPost", "message-id": "0A0000001234567B",
               "callback": f"{PUBLIC}/hooks/vonage/dlr"}  # fmt: skip
    assert vonage.dlr(message, "delivered", send=client.post).status_code == 204
    assert state(sessions)[3] == "delivered"


def test_a_vonage_keypress_with_a_valid_jwt_acknowledges_and_a_forged_one_is_403(
    client, vonage, paged, sessions
) -> None:
    call = {
        "uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356", "conversation_uuid": "CON-1",
        "from": {"type": "phone", "number": "15017122661"}, "to": [{"type": "phone", "number": MEI[1:]}],
        "ncco": [{"action": "input", "eventUrl": [f"{PUBLIC}/hooks/vonage/voice/input?t={paged['token']}"]}],
        "event_url": [f"{PUBLIC}/hooks/vonage/voice/event"],
    }  # fmt: skip
    forger = vonage_standin.VonageStandin(
        server=None, signature_secret="not-the-signature-secret-0123456789abcdef"
    )  # type: ignore[arg-type]
    forger.clock = vonage.clock
    assert forger.input(call, "1", send=client.post).status_code == 403
    assert state(sessions)[0] is None
    answer = vonage.input(call, "1", send=client.post)
    assert answer.status_code == 200
    assert answer.json() == [{"action": "talk", "text": "INC-1 acknowledged by @mei. Goodbye."}]
    assert state(sessions)[0] == "mei"
