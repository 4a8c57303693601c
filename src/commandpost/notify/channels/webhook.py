"""Generic webhooks: the message as JSON, signed (``Commandpost-Signature``) and carrying its idempotency key.

Delivery is at-least-once (a send in flight when a sender dies is sent again), so receivers
should drop a second request with the same ``Commandpost-Idempotency-Key``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from commandpost.notify import signing
from commandpost.notify.channels.base import Outbound
from commandpost.notify.channels.http import GuardedHttp
from commandpost.notify.rules import Delivery


def document(message: Outbound, now: datetime) -> dict[str, Any]:
    return {
        "type": "commandpost.notification",
        "id": message.id,
        "key": message.key,
        "sent_at": now.isoformat(),
        "attempt": message.attempt,
        "severity": message.severity,
        "incident_id": message.incident_id,
        "person": message.person,
        "subject": message.subject,
        "body": message.body,
        "payload": message.payload,
    }


class WebhookChannel:
    def __init__(self, http: GuardedHttp, secret: str) -> None:
        self.http = http
        self.secret = secret

    def send(self, message: Outbound, now: datetime) -> Delivery:
        content = orjson.dumps(document(message, now))
        headers = {
            "Content-Type": "application/json",
            "Commandpost-Idempotency-Key": message.key,
            "Commandpost-Message-Id": str(message.id),
        }
        if self.secret:
            headers[signing.HEADER] = signing.sign(self.secret, content, int(now.timestamp()))
        return self.http.post(message.destination, content, headers, now)
