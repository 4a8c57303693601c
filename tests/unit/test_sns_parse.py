"""parse_sns: signed CloudWatch alarms become events; every forgery is refused before anything is kept."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from commandpost.alerts.sources import sns
from commandpost.alerts.sources.registry import SourceContext
from commandpost.alerts.sources.sns import parse_sns
from commandpost.errors import BadRequest, CommandpostError, Forbidden, ValidationFailed
from commandpost.settings import Settings
from tests.fixtures.sns import signer

TOPICS = [signer.TOPIC]


@pytest.fixture
def settings(cert_dir: Path) -> Settings:
    return Settings(sns_cert_dir=cert_dir, sns_auto_confirm=False)


def parse(settings: Settings, message: dict[str, Any] | bytes, topics: list[str] = TOPICS) -> Any:
    body = message if isinstance(message, bytes) else signer.body(message)
    return parse_sns(body, integration_topic_arns=topics, settings=settings, now=signer.NOW)


@pytest.mark.parametrize("version", ["1", "2"])
def test_guide_alarm_signed_v1_and_v2_becomes_a_trigger(settings: Settings, version: str) -> None:
    message = signer.sign(signer.notification(signer.alarm(), message_id="m-1"), version=version)
    [event] = parse(settings, message)
    assert event.action == "trigger"
    assert event.dedup_key == "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:WebhookBacklogHigh"
    assert event.alertname == "WebhookBacklogHigh"
    assert event.summary.startswith("WebhookBacklogHigh: Threshold Crossed: 3 out of the last 3 datapoints")
    assert event.source == "QueueName=payment-webhooks"  # the affected thing, as in PagerDuty
    assert event.source_severity == "SEV2"
    assert event.runbook_url == "https://runbooks.internal/payment-webhook-backlog"
    assert event.annotations["runbook_url"] == event.runbook_url
    assert event.annotations["description"].startswith("SEV2: Payment webhook backlog")
    assert event.starts_at == datetime(2026, 6, 24, 2, 59, 12, 345000, tzinfo=UTC)
    assert event.ends_at is None
    assert event.idempotency_key == "m-1"
    assert event.labels == {
        "alertname": "WebhookBacklogHigh",
        "region": "ap-northeast-1",
        "aws_account_id": "123456789012",
        "namespace": "AWS/SQS",
        "metric_name": "ApproximateNumberOfMessagesVisible",
        "QueueName": "payment-webhooks",
    }
    [link] = event.links
    assert link.href == (
        "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-1"
        "#alarmsV2:alarm/WebhookBacklogHigh"
    )
    assert event.details["sns"]["MessageId"] == "m-1"
    assert "UnsubscribeURL" not in event.details["sns"]
    assert event.details["cloudwatch"]["Trigger"]["Threshold"] == 1000.0


@pytest.mark.parametrize(
    ("state", "action"), [("ALARM", "trigger"), ("OK", "resolve"), ("INSUFFICIENT_DATA", "record")]
)
def test_alarm_state_maps_to_action(settings: Settings, state: str, action: str) -> None:
    message = signer.sign(signer.notification(signer.alarm(NewStateValue=state)))
    [event] = parse(settings, message)
    assert event.action == action
    changed = datetime(2026, 6, 24, 2, 59, 12, 345000, tzinfo=UTC)
    assert (event.starts_at, event.ends_at) == ((None, changed) if action == "resolve" else (changed, None))
    # Same alarm, same dedup key, whatever the state: OK resolves what ALARM opened.
    assert event.dedup_key.endswith(":alarm:WebhookBacklogHigh")


def test_the_aws_example_alarm_from_the_payloads(settings: Settings) -> None:
    alarm = signer.fixture("cloudwatch_alarm_single_metric.json")
    [event] = parse(settings, signer.sign(signer.notification(alarm, subject="TestInvoke")))
    assert event.action == "trigger"
    # "arn:aws:cloudwatch:REGION:ACCOUNT_NUMBER:alarm:EXAMPLE" is not a real ARN: key from name+region.
    assert event.dedup_key == "cloudwatch:us-east-1:123456789012:EXAMPLE"
    assert event.source_severity == ""  # "EXAMPLE" carries no SEVn: prefix
    assert event.runbook_url is None
    assert event.labels["InstanceId"] == "TestInstance"
    assert event.labels["namespace"] == "AWS/EC2"
    # Region comes from the TopicArn then (the alarm's "Region" is a human name, not a code).
    assert event.labels["region"] == "us-east-1"
    assert event.links[0].href.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/")


def test_metric_math_alarm_takes_labels_from_its_metric(settings: Settings) -> None:
    alarm = signer.fixture("cloudwatch_alarm_metric_math.json")
    [event] = parse(settings, signer.sign(signer.notification(alarm)))
    assert event.labels["metric_name"] == "NetworkOut"
    assert event.labels["InstanceId"] == "TestInstance"
    assert event.details["cloudwatch"]["Trigger"]["Metrics"][0]["Expression"] == "m1*1"


def test_dimension_named_like_a_fixed_label_does_not_override_it(settings: Settings) -> None:
    alarm = signer.alarm()
    alarm["Trigger"]["Dimensions"] = [
        {"name": "alertname", "value": "x"},
        {"name": "bad name!", "value": "y"},
    ]
    [event] = parse(settings, signer.sign(signer.notification(alarm)))
    assert event.labels["alertname"] == "WebhookBacklogHigh"
    assert "bad name!" not in event.labels


def test_very_long_alarm_arn_gets_a_stable_hashed_key(settings: Settings) -> None:
    name = "a" * 255
    arn = f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}"
    alarm = signer.alarm(AlarmName=name, AlarmArn=arn)
    [first] = parse(settings, signer.sign(signer.notification(alarm)))
    [again] = parse(settings, signer.sign(signer.notification(alarm)))
    assert first.dedup_key == again.dedup_key
    assert first.dedup_key.startswith("cloudwatch:sha256:") and len(first.dedup_key) <= 255


def test_non_json_message_is_recorded_with_subject(settings: Settings) -> None:
    plain = signer.fixture("notification.json")  # the AWS docs' "Hello world!" with subject
    plain["TopicArn"] = signer.TOPIC
    [event] = parse(settings, signer.sign(plain))
    assert event.action == "record"
    assert event.summary == "My First Message"
    assert event.details["message"] == "Hello world!"
    assert event.idempotency_key == plain["MessageId"]
    assert event.dedup_key == f"sns:{plain['MessageId']}"


def test_non_json_message_without_subject_is_summarized_by_its_text(settings: Settings) -> None:
    [event] = parse(settings, signer.sign(signer.notification("  disk almost full \n", subject=None)))
    assert (event.action, event.summary) == ("record", "disk almost full")
    [event] = parse(settings, signer.sign(signer.notification('{"not": "an alarm"}', subject=None)))
    assert (event.action, event.summary) == ("record", '{"not": "an alarm"}')


def test_body_is_parsed_whatever_it_looks_like_compact_or_pretty(settings: Settings) -> None:
    message = signer.sign(signer.notification(signer.alarm()))
    [event] = parse(settings, json.dumps(message, separators=(",", ":")).encode())
    assert event.action == "trigger"


# ---------------------------------------------------------------- the forgery matrix


def _signed(**changes: Any) -> dict[str, Any]:
    """A validly signed alarm notification, then ``changes`` applied after signing (a forgery)."""
    return dict(signer.sign(signer.notification(signer.alarm())), **changes)


def _without(key: str) -> dict[str, Any]:
    return {k: v for k, v in _signed().items() if k != key}


def _cert_at(url: str) -> dict[str, Any]:
    return signer.sign(signer.notification(signer.alarm()), cert_url=url)


SNS = "https://sns.us-east-1.amazonaws.com"
OK_ALARM = json.dumps(signer.alarm(NewStateValue="OK"))
MISMATCH = "signature does not match"
FORGERIES: list[tuple[str, Any, type[CommandpostError], str]] = [
    ("tampered Message", lambda: _signed(Message=OK_ALARM), Forbidden, MISMATCH),
    ("tampered Subject", lambda: _signed(Subject="OK: all good"), Forbidden, MISMATCH),
    ("Subject removed", lambda: _without("Subject"), Forbidden, MISMATCH),
    ("tampered MessageId", lambda: _signed(MessageId="other"), Forbidden, MISMATCH),
    ("tampered Timestamp", lambda: _signed(Timestamp="2026-06-24T03:59:13.012Z"), Forbidden, MISMATCH),
    ("another key", lambda: signer.sign(signer.notification(signer.alarm()), key=signer.private_key(1)),
     Forbidden, MISMATCH),
    ("wrong cert host", lambda: _cert_at("https://sns.us-east-1.amazonaws.com.evil.com/x.pem"),
     Forbidden, "not an AWS SNS host"),
    ("S3-hosted cert", lambda: _cert_at("https://evil.s3.amazonaws.com/SimpleNotificationService-0000.pem"),
     Forbidden, "not an AWS SNS host"),
    ("http cert URL", lambda: _cert_at(SNS.replace("https", "http") + "/SimpleNotificationService-0000.pem"),
     Forbidden, "must use https"),
    ("cert URL not .pem", lambda: _cert_at(f"{SNS}/SimpleNotificationService-0000.crt"),
     Forbidden, "must point to a .pem file"),
    ("cert not in cert dir", lambda: _cert_at(f"{SNS}/SimpleNotificationService-9999.pem"),
     Forbidden, "SimpleNotificationService-9999.pem is not in sns_cert_dir"),
    ("unknown TopicArn",
     lambda: signer.sign(signer.notification(signer.alarm(), topic="arn:aws:sns:us-east-1:999999999999:x")),
     Forbidden, "is not allowed for this integration"),
    ("SignatureVersion 3", lambda: _signed(SignatureVersion="3"), Forbidden, "SignatureVersion '3'"),
    ("no SignatureVersion", lambda: _without("SignatureVersion"), BadRequest, "missing SignatureVersion"),
    ("Signature missing", lambda: _without("Signature"), BadRequest, "missing Signature"),
    ("empty Signature", lambda: _signed(Signature=""), Forbidden, "empty Signature"),
    ("Message missing", lambda: _without("Message"), BadRequest, "missing Message"),
    ("TopicArn not a string", lambda: _signed(TopicArn=["a"]), BadRequest, "TopicArn (array)"),
    ("Message as an object", lambda: _signed(Message=signer.alarm()), BadRequest, "Message (object)"),
    ("unknown Type", lambda: _signed(Type="Notice"), ValidationFailed, "Type 'Notice' is not one of"),
    ("no Type", lambda: _without("Type"), BadRequest, "has no Type"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "make", "error", "text"), FORGERIES, ids=[f[0] for f in FORGERIES])
def test_forgeries_and_broken_envelopes_are_refused(
    settings: Settings, case: str, make: Any, error: type[CommandpostError], text: str
) -> None:
    with pytest.raises(error) as info:
        parse(settings, make())
    assert type(info.value) is error
    assert text in info.value.message


@pytest.mark.parametrize(
    ("body", "error", "text"),
    [
        (b"", BadRequest, "request body is empty"),
        (b'{"Type": ', BadRequest, "not valid JSON"),
        (b"\xff\xfe", BadRequest, "not valid JSON"),
        (b"[1, 2]", ValidationFailed, "must be a JSON object, got array"),
        (b'"Notification"', ValidationFailed, "must be a JSON object, got string"),
        (b"[" * 1000 + b"]" * 1000, BadRequest, "nests deeper than 32 levels"),
        (b"[" * 2000 + b"]" * 2000, BadRequest, "depth limit exceeded"),
    ],
)
def test_malformed_bodies_are_refused(
    settings: Settings, body: bytes, error: type[CommandpostError], text: str
) -> None:
    with pytest.raises(error, match=text):
        parse(settings, body)


def test_an_empty_allowlist_refuses_everything(settings: Settings) -> None:
    with pytest.raises(Forbidden, match="not allowed"):
        parse(settings, _signed(), topics=[])


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"NewStateValue": "PENDING"}, "NewStateValue 'PENDING' is not one of ALARM, OK, INSUFFICIENT_DATA"),
        ({"NewStateValue": 1}, "NewStateValue must be a non-empty string, got number"),
        ({"AlarmName": " "}, "AlarmName must be a non-empty string, got an empty string"),
        ({"AlarmName": None}, "has no AlarmName"),
        ({"StateChangeTime": "yesterday"}, "StateChangeTime 'yesterday' is not an ISO 8601 timestamp"),
        ({"StateChangeTime": "2026-06-24T02:59:12"}, "has no timezone"),
        ({"StateChangeTime": "9999-12-31T23:59:59-01:00"}, "is past the years a time can hold in UTC"),
        ({"AlarmDescription": ["SEV1"]}, "AlarmDescription must be a string, got array"),
    ],
)
def test_invalid_alarm_fields_are_rejected_after_verification(
    settings: Settings, changes: dict[str, Any], text: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse(settings, signer.sign(signer.notification(signer.alarm(**changes))))
    assert text in info.value.message


@pytest.mark.parametrize(
    ("description", "severity", "runbook"),
    [
        ("SEV1: money is wrong\nRunbook: https://runbooks.internal/db-connection-exhaustion", "SEV1",
         "https://runbooks.internal/db-connection-exhaustion"),
        ("  sev3: low\n\n  runbook:   payment-webhook-backlog  ", "SEV3", "payment-webhook-backlog"),
        ("Queue backlog. SEV2: not at the start", "", None),
        ("SEV5: no such severity", "", None),
        ("Runbook line missing", "", None),
    ],
)  # fmt: skip
def test_severity_and_runbook_come_from_the_alarm_description(
    settings: Settings, description: str, severity: str, runbook: str | None
) -> None:
    message = signer.sign(signer.notification(signer.alarm(AlarmDescription=description)))
    [event] = parse(settings, message)
    assert event.source_severity == severity
    assert event.runbook_url == runbook


def test_registry_entry_point_and_what_is_kept_of_the_body(settings: Settings) -> None:
    ctx = SourceContext(
        integration="payment-platform-cloudwatch",
        service="payment-platform",
        topic_arns=(signer.TOPIC,),
        settings=settings,
        now=signer.NOW,
    )
    message = signer.sign(signer.notification(signer.alarm()))
    [event] = sns.parse(signer.body(message), ctx)
    assert event.action == "trigger"
    # The UnsubscribeURL is a capability (anyone holding it can unsubscribe us): never stored.
    assert "UnsubscribeURL" not in event.raw and event.raw["Signature"] == message["Signature"]
    with pytest.raises(Forbidden, match="not allowed"):
        sns.parse(signer.body(message), dataclasses.replace(ctx, topic_arns=("arn:aws:sns:x:1:y",)))
