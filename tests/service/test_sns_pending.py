"""Issue 14 item 14: with ``COMMANDPOST_SNS_AUTO_CONFIRM=false`` an SNS subscription can be confirmed.

A signed SubscriptionConfirmation arriving at the real intake endpoint is listed to admins — API
(``GET /api/v1/integrations/subscriptions``) and ``commandpost integrations subscriptions`` — with
its SubscribeURL whole (the Token usable), and ``confirm`` (endpoint and command) performs the GET
against a local HTTPS stand-in for AWS, under the host rules of the auto-confirm path. The token
never reaches a log line, the timeline, the audit log, an error message or a non-admin answer.
Both databases.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from commandpost.alerts.models import AlertEvent
from commandpost.alerts.sources import registry, sns, sns_confirm
from commandpost.alerts.sources.sns_verify import CERT_CACHE
from commandpost.incidents.models import TimelineEntry
from commandpost.security.models import AuditLog
from commandpost.settings import Settings
from tests.alert_support import keys
from tests.fixtures.sns import signer
from tests.fixtures.sns.aws_standin import HOST, SUBSCRIPTION_ARN, LoopbackTransport, StandIn, aws_standin

TOPIC = signer.EXAMPLE_OPS_TOPIC
TOKEN = "2336412f37fb687f5d51e6e2425dba1a5c1f7d2e8b9a0c3d4e5f60718293a4b5c6d7e8f9" * 2
SUBSCRIBE_URL = f"https://{HOST}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token={TOKEN}"
LIST = "/api/v1/integrations/subscriptions"


@pytest.fixture
def auto_confirm() -> bool:
    return False


@pytest.fixture
def settings(db_url: str, cert_dir: Path, auto_confirm: bool) -> Settings:
    return Settings(
        database_url=db_url, engine_enabled=False, sns_cert_dir=cert_dir, sns_auto_confirm=auto_confirm
    )


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """AWS, on 127.0.0.1 over verified TLS: every confirmation GET commandpost makes goes there."""
    CERT_CACHE.clear()
    folder = tmp_path / "aws"
    folder.mkdir()
    with aws_standin(folder) as (state, _client):
        monkeypatch.setattr(
            sns_confirm,
            "new_client",
            lambda: httpx.Client(transport=LoopbackTransport(state.port, folder / "ca.pem")),
        )
        yield state
    CERT_CACHE.clear()


@pytest.fixture
def post(client: TestClient, applied_ops: Any, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(registry.SOURCES, "sns", registry.Source("sns", sns.parse, blocking=True))
    url = f"/api/v1/intake/sns/{keys(sessions)['sns']}"

    def send(message: dict[str, Any]) -> Any:
        return client.post(
            url, content=signer.body(message), headers={"Content-Type": "text/plain; charset=UTF-8"}
        )

    return send


def confirmation(
    message_id: str = "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", kind: str = "SubscriptionConfirmation"
) -> dict[str, Any]:
    """The AWS docs' example for our topic, with a real-length token, signed."""
    message = signer.fixture("subscription_confirmation.json")
    for unsigned in ("Signature", "SignatureVersion", "SigningCertURL"):
        del message[unsigned]
    message.update(Type=kind, MessageId=message_id, TopicArn=TOPIC, SubscribeURL=SUBSCRIBE_URL, Token=TOKEN)
    return signer.sign(message, version="2")


def listed(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    answer = client.get(LIST, headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_pending_confirmation_is_listed_to_admins_only_with_its_url_usable(
    post: Any, client: TestClient, auth: Any
) -> None:
    answer = post(confirmation())
    assert (answer.status_code, answer.json()["outcome"]) == (202, "recorded")
    assert TOKEN not in answer.text
    assert post(confirmation()).json()["outcome"] == "deduplicated"  # SNS redelivers: still one

    admin = auth("admin")
    [row] = listed(client, admin)
    assert row["subscribe_url"] == SUBSCRIBE_URL  # the Token whole: the URL works
    assert {k: row[k] for k in ("integration", "service", "topic_arn", "state", "message_id")} == {
        "integration": "payment-platform-cloudwatch",
        "service": "payment-platform",
        "topic_arn": TOPIC,
        "state": "pending",
        "message_id": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
    }
    assert row["received_at"].startswith("2026-06-24T03:00:00")
    assert row["expires_at"].startswith("2026-06-27T03:00:00")  # AWS: a token is valid for 3 days

    for scope in ("read", "responder"):
        refused = client.get(LIST, headers=auth(scope, person="hana"))
        assert refused.status_code == 403, refused.text
        assert TOKEN not in refused.text


def test_confirm_endpoint_visits_subscribe_url_once_and_records_the_subscription(
    post: Any, client: TestClient, auth: Any, standin: StandIn
) -> None:
    post(confirmation())
    admin = auth("admin")
    [row] = listed(client, admin)

    assert client.post(f"{LIST}/{row['id']}/confirm", headers=auth("responder")).status_code == 403
    assert standin.requests == []

    done = client.post(f"{LIST}/{row['id']}/confirm", headers=admin)
    assert done.status_code == 200, done.text
    assert standin.requests == [(SUBSCRIBE_URL.removeprefix(f"https://{HOST}"), HOST)]
    body = done.json()
    assert (body["state"], body["subscription_arn"], body["confirmed_by"]) == (
        "confirmed",
        SUBSCRIPTION_ARN,
        "yuta",
    )
    assert body["subscribe_url"] is None  # no longer needed: not kept

    again = client.post(f"{LIST}/{row['id']}/confirm", headers=admin)
    assert again.status_code == 409, again.text
    assert "already confirmed" in again.json()["error"]["message"]
    assert len(standin.requests) == 1

    assert listed(client, admin) == []  # nothing pending any more
    [history] = listed(client, admin, all="true")
    assert (history["state"], history["subscription_arn"]) == ("confirmed", SUBSCRIPTION_ARN)

    missing = client.post(f"{LIST}/999999/confirm", headers=admin)
    assert missing.status_code == 404


def test_cli_lists_and_confirms(
    post: Any, client: TestClient, db_url: str, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from commandpost.policy import cli as policy_cli

    monkeypatch.delenv("COMMANDPOST_DATABASE_URL", raising=False)
    app = typer.Typer()
    policy_cli.register(app)
    runner = CliRunner(env={"COLUMNS": "100"})
    post(confirmation())

    as_json = runner.invoke(app, ["integrations", "subscriptions", "--json", "--database-url", db_url])
    assert as_json.exit_code == 0, as_json.output
    [row] = json.loads(as_json.stdout)
    assert (row["state"], row["subscribe_url"]) == ("pending", SUBSCRIBE_URL)

    table = runner.invoke(app, ["integrations", "subscriptions", "--database-url", db_url])
    assert table.exit_code == 0, table.output
    assert SUBSCRIBE_URL in table.stdout  # on one line, whole: copy-pasted, it works
    assert f"commandpost integrations confirm {row['id']}" in table.stdout

    done = runner.invoke(app, ["integrations", "confirm", str(row["id"]), "--database-url", db_url])
    assert done.exit_code == 0, done.output
    assert f"confirmed the SNS subscription to {TOPIC}" in done.stdout
    assert SUBSCRIPTION_ARN in done.stdout
    assert standin.requests == [(SUBSCRIBE_URL.removeprefix(f"https://{HOST}"), HOST)]

    after = runner.invoke(app, ["integrations", "subscriptions", "--database-url", db_url])
    assert "no SNS subscription awaits confirmation" in after.stdout


def test_the_token_is_never_logged_stored_elsewhere_or_shown_in_errors(
    post: Any,
    client: TestClient,
    auth: Any,
    standin: StandIn,
    session: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    post(confirmation())
    admin = auth("admin")
    [row] = listed(client, admin)

    standin.confirm_status = 403  # e.g. the token expired: AWS refuses
    refused = client.post(f"{LIST}/{row['id']}/confirm", headers=admin)
    assert refused.status_code == 503, refused.text
    message = refused.json()["error"]["message"]
    assert "answered HTTP 403" in message and TOKEN not in message
    assert listed(client, admin)[0]["state"] == "pending"  # still there, to try again

    standin.confirm_status = 200
    assert client.post(f"{LIST}/{row['id']}/confirm", headers=admin).status_code == 200

    session.rollback()
    stored = [repr((e.summary, e.raw)) for e in session.scalars(select(AlertEvent))] + [
        repr((a.action, a.target, a.details)) for a in session.scalars(select(AuditLog))
    ]
    stored += [repr((t.text, t.data)) for t in session.scalars(select(TimelineEntry))]
    assert any("ConfirmSubscription" in s for s in stored)  # the delivery is kept, redacted
    assert any("/confirm" in s for s in stored)  # the confirmation is audited
    assert not [s for s in stored if TOKEN in s]
    assert TOKEN not in caplog.text
    alerts = client.get("/api/v1/alerts", headers=auth("read", person="hana"))
    assert TOKEN not in alerts.text


def test_confirm_keeps_the_host_rules_of_auto_confirm(
    client: TestClient, auth: Any, applied_ops: Any, sessions: Any, standin: StandIn, clock: Any
) -> None:
    """A stored URL is checked again before the GET, as the auto-confirm path checks it."""
    from commandpost.alerts import subscriptions
    from commandpost.policy import service as policy_service

    with sessions() as s:
        integration = next(k for k in policy_service.list_integrations(s) if k.source == "sns")
        ids = []
        for n, url in enumerate(
            [
                "https://attacker.example/?Action=ConfirmSubscription&Token=x",
                f"https://{HOST}:8443/?Action=ConfirmSubscription&Token=x",
                f"http://{HOST}/?Action=ConfirmSubscription&Token=x",
                f"https://{HOST}/?Action=Unsubscribe&Token=x",
            ]
        ):
            row = subscriptions.SnsSubscription(
                integration_id=integration.id,
                integration=integration.name,
                service=integration.service,
                topic_arn=TOPIC,
                message_id=f"forged-{n}",
                state="pending",
                subscribe_url=url,
                received_at=clock.now(),
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
        s.commit()
    for sub_id in ids:
        answer = client.post(f"{LIST}/{sub_id}/confirm", headers=auth("admin"))
        assert answer.status_code == 403, answer.text
    assert standin.requests == []


@pytest.mark.parametrize("auto_confirm", [True])
def test_auto_confirmed_subscriptions_are_listed_as_confirmed(
    post: Any, client: TestClient, auth: Any, standin: StandIn
) -> None:
    answer = post(confirmation())
    assert answer.status_code == 202, answer.text
    assert len(standin.requests) == 1
    admin = auth("admin")
    assert listed(client, admin) == []
    [row] = listed(client, admin, all="true")
    assert (row["state"], row["subscription_arn"], row["subscribe_url"]) == (
        "confirmed",
        SUBSCRIPTION_ARN,
        None,
    )


def test_unsubscribe_confirmation_can_subscribe_again(
    post: Any, client: TestClient, auth: Any, standin: StandIn
) -> None:
    post(confirmation("u-1", kind="UnsubscribeConfirmation"))
    admin = auth("admin")
    assert listed(client, admin) == []  # not pending: nobody is asked to act
    [row] = listed(client, admin, all="true")
    assert (row["state"], row["subscribe_url"]) == ("unsubscribed", SUBSCRIBE_URL)
    done = client.post(f"{LIST}/{row['id']}/confirm", headers=admin)
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "confirmed"
    assert len(standin.requests) == 1
