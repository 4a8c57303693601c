"""Subscription confirmation and certificate fetching against a local HTTPS stand-in for AWS.

The stand-in is a stdlib HTTPS server on 127.0.0.1 whose certificate is for
sns.us-east-1.amazonaws.com; the injected httpx client connects there but verifies TLS for
the real AWS host name (see tests/fixtures/sns/aws_standin.py). No traffic leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from commandpost.alerts.sources.sns import parse_sns
from commandpost.alerts.sources.sns_verify import CERT_CACHE
from commandpost.errors import Forbidden, Unavailable
from commandpost.settings import Settings
from tests.fixtures.sns import signer
from tests.fixtures.sns.aws_standin import HOST, SUBSCRIPTION_ARN, StandIn, aws_standin

SUBSCRIBE_URL = (
    f"https://{HOST}/?Action=ConfirmSubscription&TopicArn={signer.TOPIC}&Token=2336412f37fb687f5d51e6e2425"
)


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[tuple[StandIn, httpx.Client]]:
    CERT_CACHE.clear()
    with aws_standin(tmp_path) as pair:
        yield pair
    CERT_CACHE.clear()


def confirmation(kind: str = "SubscriptionConfirmation", url: str = SUBSCRIBE_URL) -> dict[str, Any]:
    base = signer.fixture("subscription_confirmation.json")  # the AWS docs' example, re-signed
    for unsigned in ("Signature", "SignatureVersion", "SigningCertURL"):
        del base[unsigned]
    return dict(base, Type=kind, TopicArn=signer.TOPIC, SubscribeURL=url, Token="2336412f37fb687f5d51e6e2425")


def parse(message: dict[str, Any], settings: Settings, http: httpx.Client, *, version: str = "2") -> Any:
    body = (
        signer.body(signer.sign(message, version=version))
        if "Signature" not in message
        else signer.body(message)
    )
    return parse_sns(
        body, integration_topic_arns=[signer.TOPIC], settings=settings, now=signer.NOW, http=http
    )


def test_auto_confirm_visits_subscribe_url_over_verified_tls(
    standin: tuple[StandIn, httpx.Client], cert_dir: Path
) -> None:
    state, client = standin
    settings = Settings(sns_cert_dir=cert_dir, sns_auto_confirm=True)
    [event] = parse(confirmation(), settings, client)
    assert state.requests == [(SUBSCRIBE_URL.removeprefix(f"https://{HOST}"), HOST)]
    assert event.action == "record"
    assert event.dedup_key == f"sns-subscription:{signer.TOPIC}"
    assert event.details["subscription"] == {
        "topic_arn": signer.TOPIC,
        "message_id": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "state": "confirmed",
        "subscription_arn": SUBSCRIPTION_ARN,
    }
    assert event.summary == f"SNS subscription to {signer.TOPIC} confirmed"
    assert event.idempotency_key == "165545c9-2a5c-472c-8df2-7ff2be2b3b1b"


def test_confirmation_refused_by_aws_is_unavailable_so_sns_retries(
    standin: tuple[StandIn, httpx.Client], cert_dir: Path
) -> None:
    state, client = standin
    state.confirm_status = 403
    with pytest.raises(Unavailable, match="answered HTTP 403"):
        parse(confirmation(), Settings(sns_cert_dir=cert_dir, sns_auto_confirm=True), client)


def test_unreachable_aws_is_unavailable(cert_dir: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(Unavailable, match="cannot reach AWS SNS"):
        parse(confirmation(), Settings(sns_cert_dir=cert_dir, sns_auto_confirm=True), client)


def test_without_auto_confirm_the_subscription_is_recorded_for_an_operator(
    standin: tuple[StandIn, httpx.Client], cert_dir: Path
) -> None:
    state, client = standin
    [event] = parse(confirmation(), Settings(sns_cert_dir=cert_dir, sns_auto_confirm=False), client)
    assert state.requests == []
    assert event.action == "record"
    assert event.details["subscription"]["state"] == "pending_confirmation"
    assert event.details["subscription"]["subscribe_url"] == SUBSCRIBE_URL
    assert [(link.href, link.text) for link in event.links] == [(SUBSCRIBE_URL, "Confirm SNS subscription")]
    assert "awaits an operator" in event.summary


def test_unsubscribe_confirmation_is_recorded_never_resubscribed(
    standin: tuple[StandIn, httpx.Client], cert_dir: Path
) -> None:
    state, client = standin
    message = confirmation("UnsubscribeConfirmation")
    [event] = parse(message, Settings(sns_cert_dir=cert_dir, sns_auto_confirm=True), client, version="1")
    assert state.requests == []
    assert event.details["subscription"]["state"] == "unsubscribed"
    assert "was removed" in event.summary


def test_forged_subscribe_url_is_never_visited(standin: tuple[StandIn, httpx.Client], cert_dir: Path) -> None:
    state, client = standin
    settings = Settings(sns_cert_dir=cert_dir, sns_auto_confirm=True)
    tampered = dict(
        signer.sign(confirmation()),
        SubscribeURL="https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=evil",
    )
    with pytest.raises(Forbidden, match="signature does not match"):
        parse(tampered, settings, client)
    # Even a correctly signed message may not send us to another host (belt and braces).
    elsewhere = confirmation(url="https://attacker.example/?Action=ConfirmSubscription")
    with pytest.raises(Forbidden, match="not an AWS SNS host"):
        parse(elsewhere, settings, client)
    assert state.requests == []


def test_certificate_is_fetched_once_and_cached_by_url(standin: tuple[StandIn, httpx.Client]) -> None:
    state, client = standin
    pem = signer.certificate(signer.private_key()).public_bytes(serialization.Encoding.PEM)
    state.files[f"/{signer.CERT_NAME}"] = (200, pem)
    settings = Settings(sns_cert_dir=None, sns_auto_confirm=False)
    for _ in range(3):
        [event] = parse(signer.notification(signer.alarm()), settings, client)
        assert event.action == "trigger"
    assert state.requests == [(f"/{signer.CERT_NAME}", HOST)]


@pytest.mark.parametrize(
    ("status", "payload", "error", "text"),
    [
        (404, b"not found", Unavailable, "answered HTTP 404"),
        (200, b"-----BEGIN CERTIFICATE-----\n" + b"A" * 20_000, Forbidden, "larger than"),
        (200, b"<html>hello</html>", Forbidden, r"not a PEM X\.509 certificate"),
    ],
)
def test_bad_certificate_fetches_are_refused_and_not_cached(
    standin: tuple[StandIn, httpx.Client], status: int, payload: bytes, error: type[Exception], text: str
) -> None:
    state, client = standin
    state.files[f"/{signer.CERT_NAME}"] = (status, payload)
    settings = Settings(sns_cert_dir=None, sns_auto_confirm=False)
    for _ in range(2):
        with pytest.raises(error, match=text):
            parse(signer.notification(signer.alarm()), settings, client)
    assert len(state.requests) == 2
