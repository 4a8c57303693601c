"""SNS through the real intake endpoint, on SQLite and PostgreSQL: signed CloudWatch alarms open and
resolve, retries change nothing, and every forgery is answered 4xx with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commandpost.alerts.sources import registry, sns
from commandpost.settings import Settings
from tests.alert_support import counts, keys
from tests.fixtures.sns import signer

TOPIC = signer.EXAMPLE_OPS_TOPIC


@pytest.fixture
def settings(db_url: str, cert_dir: Path) -> Settings:
    return Settings(database_url=db_url, engine_enabled=False, sns_cert_dir=cert_dir, sns_auto_confirm=False)


@pytest.fixture
def post(client: TestClient, applied_ops: Any, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(registry.SOURCES, "sns", registry.Source("sns", sns.parse, blocking=True))
    url = f"/api/v1/intake/sns/{keys(sessions)['sns']}"

    def send(message: dict[str, Any] | bytes) -> Any:
        body = message if isinstance(message, bytes) else signer.body(message)
        return client.post(url, content=body, headers={"Content-Type": "text/plain; charset=UTF-8"})

    return send


def alarm_message(state: str = "ALARM", message_id: str = "m-alarm", version: str = "1") -> dict[str, Any]:
    note = signer.notification(signer.alarm(NewStateValue=state), topic=TOPIC, message_id=message_id)
    return signer.sign(note, version=version)


def test_alarm_opens_an_incident_ok_resolves_the_alert_and_retries_change_nothing(
    post: Any, session: Any
) -> None:
    opened = post(alarm_message())
    assert opened.status_code == 202, opened.text
    assert opened.json()["outcome"] == "incident_opened"
    assert (
        opened.json()["dedup_key"]
        == "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:WebhookBacklogHigh"
    )
    before = counts(session)

    retried = post(alarm_message())  # SNS redelivers with the same MessageId
    assert retried.status_code == 202
    assert counts(session) == before

    resolved = post(alarm_message("OK", message_id="m-ok", version="2"))
    assert resolved.status_code == 202, resolved.text
    assert resolved.json()["outcome"] == "resolved"

    recorded = post(alarm_message("INSUFFICIENT_DATA", message_id="m-insufficient"))
    assert (recorded.status_code, recorded.json()["outcome"]) == (202, "recorded")


def test_subscription_confirmation_is_recorded_for_an_operator(post: Any) -> None:
    message = signer.fixture("subscription_confirmation.json")
    for unsigned in ("Signature", "SignatureVersion", "SigningCertURL"):
        del message[unsigned]
    message.update(
        TopicArn=TOPIC,
        SubscribeURL=f"https://sns.ap-northeast-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=x",
    )
    answer = post(signer.sign(message))
    assert (answer.status_code, answer.json()["outcome"]) == (202, "recorded")


def _tampered() -> dict[str, Any]:
    return dict(alarm_message(), Message=json.dumps(signer.alarm(NewStateValue="OK")))


REFUSED = [
    ("forged body", _tampered, 403),
    ("wrong cert host",
     lambda: dict(alarm_message(), SigningCertURL="https://sns.us-east-1.amazonaws.com.evil.com/x.pem"), 403),
    ("http cert URL", lambda: signer.sign(signer.notification(signer.alarm(), topic=TOPIC),
                                          cert_url=signer.CERT_URL.replace("https:", "http:")), 403),
    ("unknown TopicArn", lambda: signer.sign(signer.notification(signer.alarm(), topic=signer.TOPIC)), 403),
    ("SignatureVersion 3", lambda: dict(alarm_message(), SignatureVersion="3"), 403),
    ("missing fields", lambda: {"Type": "Notification", "Message": "hi"}, 400),
    ("malformed JSON", lambda: b"{not json", 400),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "status"), REFUSED, ids=[r[0] for r in REFUSED])
def test_forgeries_are_refused_and_nothing_is_stored(
    post: Any, session: Any, case: str, make: Any, status: int
) -> None:
    before = counts(session)
    answer = post(make())
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]
    assert counts(session) == before
