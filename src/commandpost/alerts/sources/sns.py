"""AWS SNS HTTP(S) deliveries, most often carrying CloudWatch alarm state changes.

SNS posts JSON as ``text/plain``, so the raw body is parsed whatever the Content-Type.
Order matters: shape first (400/422), then the TopicArn allowlist and the signature (403) —
the allowlist before the signature so an unknown topic never makes us fetch a certificate —
and only a verified message is mapped to events:

- ``Notification`` whose Message is a CloudWatch alarm: ALARM → trigger, OK → resolve,
  INSUFFICIENT_DATA → record; dedup key = AlarmArn; idempotency key = MessageId.
- any other ``Notification``: recorded, summary = Subject (or the Message).
- ``SubscriptionConfirmation``: confirmed by fetching SubscribeURL when ``sns_auto_confirm``
  is on, else recorded with the URL for an operator; ``UnsubscribeConfirmation``: recorded.
  Both are ``action="record"`` events with ``details["subscription"]`` (see docs/alerts.md) and
  :attr:`NormalizedEvent.subscription`, which the pipeline keeps in ``sns_subscription`` with the
  SubscribeURL whole (every other stored copy has its token redacted).

Nothing here stores anything: the pipeline stores what this returns, so a rejection
stores nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from commandpost.alerts.intake.wire import parse_json, top_object, type_name
from commandpost.alerts.normalized import Action, Link, NormalizedEvent, Subscription
from commandpost.alerts.sources.sns_confirm import check_subscribe_url, confirm_subscription
from commandpost.alerts.sources.sns_verify import OPTIONAL_SIGNED_KEYS, SIGNED_KEYS, verify_signature
from commandpost.errors import BadRequest, Forbidden, ValidationFailed
from commandpost.settings import Settings

if TYPE_CHECKING:
    import httpx

    from commandpost.alerts.sources.registry import SourceContext

MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
_ALARM_ACTIONS: dict[str, Action] = {"ALARM": "trigger", "OK": "resolve", "INSUFFICIENT_DATA": "record"}
_UNSIGNED_REQUIRED = ("SignatureVersion", "Signature", "SigningCertURL")
_LAMBDA_CASING = {"SigningCertUrl": "SigningCertURL", "SubscribeUrl": "SubscribeURL"}
_ALARM_ARN = re.compile(r"^arn:(aws[a-z-]*):cloudwatch:([a-z0-9-]+):(\d{12}):alarm:.+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):")
_SEVERITY_PREFIX = re.compile(r"^\s*(SEV[1-4])\s*:", re.IGNORECASE)
_RUNBOOK_LINE = re.compile(r"^\s*Runbook\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$")
_CONSOLE = {
    "aws": "https://{r}.console.aws.amazon.com",
    "aws-cn": "https://{r}.console.amazonaws.cn",
    "aws-us-gov": "https://{r}.console.amazonaws-us-gov.com",
}


def parse_sns(
    body: bytes,
    *,
    integration_topic_arns: Sequence[str],
    settings: Settings,
    now: datetime | None,
    http: httpx.Client | None = None,
) -> list[NormalizedEvent]:
    """Verify one SNS delivery and turn it into events (one, for every message type).

    Raises BadRequest (400: not JSON, not an object, a field missing or not a string),
    ValidationFailed (422: unknown Type or alarm state, bad timestamp), Forbidden (403: topic
    not allowed, bad certificate URL, unknown SignatureVersion, signature mismatch) and
    Unavailable (503: the certificate or the subscription confirmation could not be fetched).
    ``http`` carries the certificate fetch and the confirmation GET (a fresh client if None);
    ``now`` checks the certificate's validity window (None: not checked).
    """
    message = _decode(body)
    kind = _message_type(message)
    _require_strings(message, kind)
    topic = message["TopicArn"]
    if topic not in integration_topic_arns:
        raise Forbidden(
            f"SNS TopicArn {topic!r} is not allowed for this integration "
            "(list it under the integration's topic_arns in ops/services/<service>.yaml)"
        )
    verify_signature(message, cert_dir=settings.sns_cert_dir, http=http, now=now)
    if kind == "Notification":
        return [_notification(message)]
    return [_subscription(message, kind, auto_confirm=settings.sns_auto_confirm, http=http)]


def parse(body: bytes, ctx: SourceContext) -> list[NormalizedEvent]:
    """The intake registry's entry point; blocking (it may fetch a certificate or confirm)."""
    return parse_sns(body, integration_topic_arns=ctx.topic_arns, settings=ctx.settings, now=ctx.now)


# ---------------------------------------------------------------- envelope


def _decode(body: bytes) -> dict[str, Any]:
    data = top_object(parse_json(body), "SNS message")
    for lambda_key, key in _LAMBDA_CASING.items():
        if key not in data and lambda_key in data:
            data[key] = data.pop(lambda_key)
    if data.get("Subject") is None:
        data.pop("Subject", None)  # absent and null both mean "published without a subject"
    return data


def _message_type(message: dict[str, Any]) -> str:
    kind = message.get("Type")
    if kind is None:
        raise BadRequest("SNS message has no Type")
    if kind not in SIGNED_KEYS:
        raise ValidationFailed(f"SNS message Type {kind!r} is not one of {', '.join(SIGNED_KEYS)}")
    return str(kind)


def _require_strings(message: dict[str, Any], kind: str) -> None:
    keys = [*SIGNED_KEYS[kind], *_UNSIGNED_REQUIRED]
    missing = [k for k in keys if k not in message and k not in OPTIONAL_SIGNED_KEYS]
    if missing:
        raise BadRequest(f"SNS {kind} is missing {', '.join(missing)}")
    wrong = [
        f"{k} ({type_name(message[k])})" for k in keys if k in message and not isinstance(message[k], str)
    ]
    if wrong:
        raise BadRequest(f"SNS {kind} fields must be strings: {', '.join(wrong)}")


def _envelope(message: dict[str, Any]) -> dict[str, Any]:
    """The SNS wrapper's facts for ``details``."""
    keep = ("Type", "MessageId", "TopicArn", "Subject", "Timestamp")
    return {k: message[k] for k in keep if k in message}


def _raw(message: dict[str, Any]) -> dict[str, Any]:
    """The body as stored: never the UnsubscribeURL (anyone holding it can unsubscribe us)."""
    return {k: v for k, v in message.items() if k != "UnsubscribeURL"}


# ---------------------------------------------------------------- notifications


def _notification(message: dict[str, Any]) -> NormalizedEvent:
    alarm = _json_object(message["Message"])
    if alarm is not None and "AlarmName" in alarm and "NewStateValue" in alarm:
        return _alarm(alarm, message)
    text = message.get("Subject") or message["Message"]
    return NormalizedEvent(
        action="record",
        dedup_key=f"sns:{message['MessageId']}",
        summary=_clip(text.strip()) or "(empty SNS message)",
        source=message["TopicArn"],
        details={"sns": _envelope(message), "message": message["Message"]},
        starts_at=_timestamp(message["Timestamp"], "SNS Timestamp"),
        idempotency_key=message["MessageId"],
        raw=_raw(message),
    )


def _alarm(alarm: dict[str, Any], message: dict[str, Any]) -> NormalizedEvent:
    name = _alarm_str(alarm, "AlarmName", required=True)
    state = _alarm_str(alarm, "NewStateValue", required=True)
    action = _ALARM_ACTIONS.get(state)
    if action is None:
        raise ValidationFailed(
            f"CloudWatch alarm NewStateValue {state!r} is not one of {', '.join(_ALARM_ACTIONS)}"
        )
    reason = _alarm_str(alarm, "NewStateReason")
    description = _alarm_str(alarm, "AlarmDescription")
    arn = _alarm_str(alarm, "AlarmArn")
    changed = _alarm_str(alarm, "StateChangeTime")
    changed_at = _timestamp(changed, "CloudWatch StateChangeTime") if changed else None
    partition, region, account = _where(arn, alarm, message)
    labels = _labels(name, region, account, alarm.get("Trigger"))

    severity = _SEVERITY_PREFIX.match(description)
    runbook = _RUNBOOK_LINE.search(description)
    annotations = {"description": description} if description else {}
    if runbook:
        annotations["runbook_url"] = runbook.group(1)
    if reason:
        annotations["state_reason"] = reason

    return NormalizedEvent(
        action=action,
        dedup_key=_dedup_key(arn if _ALARM_ARN.match(arn) else f"cloudwatch:{region}:{account}:{name}"),
        summary=_clip(f"{name}: {reason}" if reason else name),
        source_severity=severity.group(1).upper() if severity else "",
        alertname=name,
        source=_origin(labels),
        labels=labels,
        annotations=annotations,
        details={"sns": _envelope(message), "cloudwatch": alarm},
        starts_at=changed_at if action != "resolve" else None,
        ends_at=changed_at if action == "resolve" else None,
        links=_console_link(partition, region, name),
        runbook_url=runbook.group(1) if runbook else None,
        idempotency_key=message["MessageId"],
        raw=_raw(message),
    )


def _alarm_str(alarm: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = alarm.get(key)
    if value is None:
        if required:
            raise ValidationFailed(f"CloudWatch alarm in SNS Message has no {key}")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        wanted = "a non-empty string" if required else "a string"
        got = "an empty string" if isinstance(value, str) else type_name(value)
        raise ValidationFailed(f"CloudWatch alarm {key} must be {wanted}, got {got}")
    return value


def _where(arn: str, alarm: dict[str, Any], message: dict[str, Any]) -> tuple[str, str, str]:
    """(partition, region code, account): from AlarmArn, else the TopicArn (Region is a human name)."""
    found = _ALARM_ARN.match(arn)
    if found:
        return found.group(1), found.group(2), found.group(3)
    topic = _TOPIC_ARN.match(message["TopicArn"])
    account = alarm.get("AWSAccountId")
    if topic:
        return "aws", topic.group(1), str(account or topic.group(2))
    return "aws", "", str(account or "")


def _labels(name: str, region: str, account: str, trigger: Any) -> dict[str, str]:
    """alertname, region, account, namespace, metric and the metric's dimensions (never overriding)."""
    labels = {"alertname": name}
    if region:
        labels["region"] = region
    if account:
        labels["aws_account_id"] = account
    metric = _first_metric(trigger)
    for key, label in (("Namespace", "namespace"), ("MetricName", "metric_name")):
        if isinstance(metric.get(key), str):
            labels[label] = metric[key]
    dimensions = metric.get("Dimensions")
    for item in dimensions if isinstance(dimensions, list) else []:
        if not isinstance(item, dict):
            continue
        dim_name, dim_value = item.get("name"), item.get("value")
        if isinstance(dim_name, str) and _LABEL_NAME.match(dim_name) and isinstance(dim_value, str):
            labels.setdefault(dim_name, dim_value)
    return labels


def _origin(labels: dict[str, str]) -> str:
    """The affected thing, as PagerDuty's ``source``: the metric's dimensions, else its namespace."""
    fixed = {"alertname", "region", "aws_account_id", "namespace", "metric_name"}
    dimensions = [f"{k}={v}" for k, v in labels.items() if k not in fixed]
    return ", ".join(dimensions) or labels.get("namespace") or labels.get("region", "")


def _first_metric(trigger: Any) -> dict[str, Any]:
    """The single metric of a plain alarm, or the first metric a metric-math alarm reads."""
    if not isinstance(trigger, dict):
        return {}
    if "MetricName" in trigger or "Namespace" in trigger:
        return trigger
    for item in trigger.get("Metrics") or []:
        stat = item.get("MetricStat") if isinstance(item, dict) else None
        metric = stat.get("Metric") if isinstance(stat, dict) else None
        if isinstance(metric, dict):
            return metric
    return {}


def _console_link(partition: str, region: str, name: str) -> tuple[Link, ...]:
    base = _CONSOLE.get(partition)
    if not base or not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}", region):
        return ()
    href = f"{base.format(r=region)}/cloudwatch/home?region={region}#alarmsV2:alarm/{quote(name, safe='')}"
    return (Link(href=href, text="CloudWatch alarm"),)


def _dedup_key(key: str) -> str:
    """AlarmArns can exceed the 255-character dedup key limit; such keys are hashed, still stable."""
    if len(key) <= MAX_DEDUP_KEY:
        return key
    return "cloudwatch:sha256:" + hashlib.sha256(key.encode()).hexdigest()


# ---------------------------------------------------------------- subscriptions


def _subscription(
    message: dict[str, Any], kind: str, *, auto_confirm: bool, http: httpx.Client | None
) -> NormalizedEvent:
    topic, url = message["TopicArn"], message["SubscribeURL"]
    check_subscribe_url(url)
    record: dict[str, Any] = {"topic_arn": topic, "message_id": message["MessageId"]}
    links: tuple[Link, ...] = ()
    kept = Subscription(topic_arn=topic, message_id=message["MessageId"], state="pending", subscribe_url=url)
    if kind == "UnsubscribeConfirmation":
        record |= {"state": "unsubscribed", "subscribe_url": url}
        summary = (
            f"SNS subscription to {topic} was removed; to subscribe again: "
            "commandpost integrations subscriptions --all"
        )
        links = (Link(href=url, text="Subscribe again"),)
        kept.state = "unsubscribed"
    elif auto_confirm:
        arn = confirm_subscription(url, http=http)
        record |= {"state": "confirmed", "subscription_arn": arn}
        summary = f"SNS subscription to {topic} confirmed"
        kept.state, kept.subscribe_url, kept.subscription_arn = "confirmed", None, arn
    else:
        record |= {"state": "pending_confirmation", "subscribe_url": url}
        summary = (
            f"SNS subscription to {topic} awaits an operator: commandpost integrations subscriptions "
            "lists it, commandpost integrations confirm <id> confirms it"
        )
        links = (Link(href=url, text="Confirm SNS subscription"),)
    return NormalizedEvent(
        action="record",
        dedup_key=f"sns-subscription:{topic}",
        summary=summary,
        source=topic,
        details={"subscription": record, "sns": _envelope(message), "message": message["Message"]},
        starts_at=_timestamp(message["Timestamp"], "SNS Timestamp"),
        links=links,
        idempotency_key=message["MessageId"],
        raw=_raw(message),
        subscription=kept,
    )


# ---------------------------------------------------------------- small parsers


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _timestamp(text: str, what: str) -> datetime:
    """ISO 8601 as AWS writes it (``…Z`` or CloudWatch's ``…+0000``), as aware UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{what} {text!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{what} {text!r} has no timezone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00: a time, but past what UTC can hold
        raise ValidationFailed(f"{what} {text!r} is past the years a time can hold in UTC") from None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"
