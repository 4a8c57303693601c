"""The PagerDuty stand-in answers PagerDuty's official Python client (``pagerduty``) as PagerDuty does:
its auth header, classic pagination with ``more`` and its 401 — so the importer's live tests talk to
a far end the vendor's own library accepts, not one shaped after our reader. (The client insists on
https: the stand-in serves TLS here with a certificate made for the test.)"""

from __future__ import annotations

import ssl
from pathlib import Path

import pagerduty
import pytest

from tests.alert_support import self_signed
from tests.standins.pagerduty_rest import PagerDutyAccount, running

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "pagerduty"
TOKEN = "pd-test-key-official-1"


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    certfile, keyfile = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context, certfile


def _client(url: str, token: str, ca: Path) -> pagerduty.RestApiV2Client:
    client = pagerduty.RestApiV2Client(token, verify=ssl.create_default_context(cafile=str(ca)))
    client.url = url
    return client


def test_the_official_client_pages_through_every_list_endpoint(tls: tuple[ssl.SSLContext, Path]) -> None:
    account = PagerDutyAccount.from_saved(FIXTURES)
    with running(account, token=TOKEN, tls=tls[0]) as far_end:
        client = _client(far_end.url, TOKEN, tls[1])
        for endpoint in ("users", "teams", "schedules", "escalation_policies", "services"):
            got = list(client.iter_all(endpoint, params={"limit": 2}))
            assert [item["id"] for item in got] == [item["id"] for item in account.lists[endpoint]], endpoint
        assert any(query.get("offset") for _, query, _ in far_end.requests)  # it really paged


def test_the_official_client_is_refused_with_a_wrong_token(tls: tuple[ssl.SSLContext, Path]) -> None:
    with running(PagerDutyAccount.from_saved(FIXTURES), token=TOKEN, tls=tls[0]) as far_end:
        client = _client(far_end.url, "not-the-key", tls[1])
        with pytest.raises(pagerduty.Error) as refused:
            list(client.iter_all("users"))
        response = getattr(refused.value, "response", None)
        assert response is not None and response.status_code == 401
