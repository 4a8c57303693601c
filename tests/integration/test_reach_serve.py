"""Issue 16's "done when", as a person runs it: ``commandpost serve`` (what ``make run`` starts) with
people configured for push (ntfy) and SMS (Twilio), both pointed at local stand-ins that follow the
providers' documented APIs. An alert pages the on-call on their phone; one tap on the push
notification's Acknowledge action acknowledges the first incident, one SMS reply the second."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select

from commandpost.db.engine import create_db_engine, make_session_factory
from commandpost.incidents.models import Incident
from tests.alert_support import free_port, pd_trigger, stop_serve, wait_ready, wait_until
from tests.conftest import REPO
from tests.paging_support import ops_variant
from tests.standins import twilio as twilio_standin
from tests.standins.ntfy import start_ntfy

pytestmark = pytest.mark.integration
COMMANDPOST = Path(sys.executable).with_name("commandpost")
OURS = "+15017122661"
PHONES = {"yuta": "+819012345671", "hana": "+819012345672", "ken": "+819012345673", "mei": "+819012345674"}
T = TypeVar("T")


def _people(data: dict[str, Any]) -> None:
    for person in data["people"]:
        handle = person["handle"]
        if handle in PHONES:
            person["contact"] = {"ntfy_topic": f"cp-{handle}-demo", "phone": PHONES[handle]}
            person["notification_rules"] = {"high": [{"after": "0m", "methods": ["push", "sms"]}]}


def test_serve_pages_a_phone_and_one_tap_or_one_reply_acknowledges(tmp_path: Path) -> None:
    ntfy, twilio = start_ntfy(), twilio_standin.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database = f"sqlite:///{tmp_path / 'commandpost.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMANDPOST_")}
    env.update(
        COMMANDPOST_NTFY_URL=ntfy.url,
        COMMANDPOST_OUTBOUND_ALLOWLIST="127.0.0.1",
        COMMANDPOST_TWILIO_API_URL=twilio.url,
        COMMANDPOST_TWILIO_ACCOUNT_SID=twilio.account_sid,
        COMMANDPOST_TWILIO_AUTH_TOKEN=twilio.auth_token,
        COMMANDPOST_TWILIO_FROM=OURS,
    )
    ops = ops_variant(tmp_path, {"people.yaml": _people})
    err = tmp_path / "stderr.log"
    argv = [str(COMMANDPOST), "serve", "--ops", str(ops), "--database-url", database]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    with err.open("wb") as stderr:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    engine = create_db_engine(database)
    try:
        wait_ready(proc, base, err)
        line = next(line for line in err.read_text().splitlines() if "/v2/enqueue" in line)
        key = line.rsplit("routing_key=", 1)[1].strip()

        def acknowledged(number: int) -> tuple[str | None, str | None]:
            with make_session_factory(engine, read_only=True)() as s:
                incident = s.scalars(select(Incident).where(Incident.number == number)).one()
                return incident.acknowledged_by, incident.acknowledged_via

        # INC-1: the on-call's phone buzzes (ntfy, priority 5); one tap on Acknowledge.
        r = httpx.post(
            f"{base}/v2/enqueue", json=pd_trigger(key, dedup_key="db", **{"class": "DBConnectionsExhausted"})
        )
        assert (r.status_code, r.json()["incident"]) == (202, "INC-1")

        def pushed() -> list[tuple[str, dict[str, Any]]]:
            return [
                (handle, m)
                for handle in PHONES
                for m in ntfy.poll(f"cp-{handle}-demo", None)
                if m.get("title", "").startswith("[SEV1] INC-1")
            ]

        handle, push = wait_until(pushed, "the page's push notification")[0]
        assert push["priority"] == 5
        action = next(a for a in push["actions"] if a["label"] == "Acknowledge")
        assert action["url"].startswith(f"{base}/a/")
        assert httpx.get(action["url"]).status_code == 200 and acknowledged(1) == (None, None)  # a preview
        assert httpx.post(action["url"]).status_code == 200  # what ntfy's http action sends
        assert acknowledged(1) == (handle, "push")

        # INC-2: the SMS with its reply code; the on-call replies from their phone.
        r = httpx.post(
            f"{base}/v2/enqueue", json=pd_trigger(key, dedup_key="wh", **{"class": "WebhookBacklogHigh"})
        )
        assert (r.status_code, r.json()["incident"]) == (202, "INC-2")
        sms = wait_until(
            lambda: [m for m in twilio.to("Messages") if "INC-2" in (m.get("Body") or "")], "the SMS"
        )[0]
        code = re.search(r"Reply (\d{4}) to ack", sms.get("Body") or "").group(1)  # type: ignore[union-attr]
        sender = sms.get("To") or ""
        answer = twilio.inbound_sms(f"{base}/hooks/twilio/sms", sender=sender, to=OURS, body=code)
        assert answer.status_code == 200 and "INC-2 acknowledged" in answer.text
        assert acknowledged(2) == (next(h for h, p in PHONES.items() if p == sender), "SMS")

        forged = httpx.post(
            f"{base}/hooks/twilio/sms",
            data={"From": sender, "Body": f"esc {code}"},
            headers={"X-Twilio-Signature": "x"},
        )
        assert forged.status_code == 403
    finally:
        stop_serve(proc)
        engine.dispose()
        ntfy.close()
        twilio_standin.stop(twilio)
