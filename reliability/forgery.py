"""Check 8, forgery matrix: forged SNS deliveries against a real server, forged webhook signatures against
``notify.signing.verify_signature`` — zero accepted, nothing stored.

SNS: the forgeries of ``tests/service/test_sns_intake.py`` (tampered message, foreign certificate host,
http certificate URL, unknown topic, unknown SignatureVersion, missing fields, malformed JSON), signed
with the test signer's key and a certificate valid today placed in ``sns_cert_dir``. A genuine alarm
is the control: it must be accepted, or the refusals prove nothing.

Webhook HMAC: a page the server really sent to the sink, signed with ``webhook_signing_secret``, is
the control; then a flipped signature, a wrong secret, a changed body, a timestamp skewed past 300 s
either way, and the captured request replayed ten minutes later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.alert_support import counts
from tests.fixtures.sns import signer
from tests.service.test_sns_intake import REFUSED, alarm_message

from commandpost.notify.signing import sign, verify_signature
from reliability.figures import Figure, equals
from reliability.stack import Stack, sessions_of, stack, wait_until

SECRET = "whsec_reliability_forgery"


def _cert_dir(env: Stack) -> str:
    folder = env.folder / "sns-certs"
    folder.mkdir()
    now = datetime.now(UTC)
    cert = signer.certificate(
        signer.private_key(), not_before=now - timedelta(days=1), not_after=now + timedelta(days=1)
    )
    signer.write_cert(folder, cert)
    return str(folder)


def _sns(env: Stack, base: str) -> tuple[list[str], int, bool]:
    """(accepted forgeries, rows changed by forgeries, control accepted)."""
    url = f"{base}/api/v1/intake/sns/{env.keys()['sns']}"
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    accepted: list[str] = []
    changed = 0
    with (
        httpx.Client(timeout=30) as client,
        sessions_of(env.url, read_only=True) as sessions,
        sessions() as session,
    ):
        for case, make, _status in REFUSED:
            message: Any = make()
            body = message if isinstance(message, bytes) else signer.body(message)
            before = counts(session)
            answer = client.post(url, content=body, headers=headers)
            if answer.status_code < 400:
                accepted.append(f"{case}: {answer.status_code}")
            changed += sum(abs(a - b) for a, b in zip(counts(session).values(), before.values(), strict=True))
        control = client.post(url, content=signer.body(alarm_message(message_id="control")), headers=headers)
    return accepted, changed, control.status_code == 202


def _webhook(env: Stack, base: str) -> tuple[list[str], bool]:
    """(accepted forgeries, control accepted), from a page the server really signed and sent."""
    event = {
        "routing_key": env.keys()["pagerduty"],
        "event_action": "trigger",
        "dedup_key": "forgery/page",
        "payload": {"summary": "forgery control page", "source": "db-1", "severity": "critical",
                    "custom_details": {"alertname": "DBConnectionsExhausted"}},
    }  # fmt: skip
    httpx.post(f"{base}/v2/enqueue", json=event, timeout=30).raise_for_status()
    assert wait_until(lambda: any("/hook/" in r.path for r in env.sink.received), 60), (
        "no page reached the sink"
    )
    page = next(r for r in env.sink.received if "/hook/" in r.path)
    header, body = page.headers["Commandpost-Signature"], page.body
    sent_at = int(header.split(",")[0].removeprefix("t="))
    digest = header.rsplit("=", 1)[1]
    flipped = header[: -len(digest)] + ("0" if digest[0] != "0" else "1") + digest[1:]
    forgeries = {
        "flipped signature": (SECRET, flipped, body, sent_at),
        "wrong secret": ("whsec_guess", header, body, sent_at),
        "changed body": (SECRET, header, body[:-1] + b" " + body[-1:], sent_at),
        "signed 301 s in the past": (SECRET, sign(SECRET, body, sent_at - 301), body, sent_at),
        "signed 301 s in the future": (SECRET, sign(SECRET, body, sent_at + 301), body, sent_at),
        "replayed 10 min later": (SECRET, header, body, sent_at + 600),
        "no signature": (SECRET, "", body, sent_at),
        "signature without timestamp": (SECRET, f"v1={digest}", body, sent_at),
    }
    accepted = [
        name for name, (secret, h, b, now) in forgeries.items() if verify_signature(secret, h, b, now)
    ]
    return accepted, verify_signature(SECRET, header, body, sent_at)


def run(backend: str = "sqlite") -> list[Figure]:
    check = f"8 forgery matrix ({backend})"
    with stack(backend) as env:
        env_vars = {
            "COMMANDPOST_SNS_CERT_DIR": _cert_dir(env),
            "COMMANDPOST_SNS_AUTO_CONFIRM": "false",
            "COMMANDPOST_WEBHOOK_SIGNING_SECRET": SECRET,
        }
        server = env.server("forgery", env=env_vars)
        sns_accepted, sns_changed, sns_control = _sns(env, server.base)
        hook_accepted, hook_control = _webhook(env, server.base)
    return [
        equals(
            check, "SNS forgeries accepted", len(sns_accepted), 0, note=f"{len(REFUSED)} sent; {sns_accepted}"
        ),
        equals(check, "rows changed by SNS forgeries", sns_changed, 0),
        equals(check, "genuine SNS alarm accepted (control)", sns_control, True),
        equals(
            check,
            "webhook signature forgeries accepted",
            len(hook_accepted),
            0,
            note=f"8 tried; {hook_accepted}",
        ),
        equals(check, "genuine webhook signature verifies (control)", hook_control, True),
    ]
