"""Confirming an SNS subscription: one GET of the (signed, host-checked) SubscribeURL.

SNS sends nothing but a SubscriptionConfirmation until the endpoint proves it wants the
topic by visiting SubscribeURL. The message is verified before this is called; the URL is
checked again anyway (https, ``sns.<region>.amazonaws.com[.cn]``, ``Action=ConfirmSubscription``)
so a verification bug can never turn into a request to an arbitrary host.

The HTTP client is injectable so tests (and proxied installs) decide how the request travels.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from commandpost.alerts.sns_verify import check_sns_url
from commandpost.errors import Forbidden, Unavailable

if TYPE_CHECKING:
    import httpx

CONFIRM_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
_SUBSCRIPTION_ARN = re.compile(r"<SubscriptionArn>\s*([^<\s]{1,1024})\s*</SubscriptionArn>")


def check_subscribe_url(url: str) -> str:
    """``url`` if it is an AWS SNS ConfirmSubscription URL; raises Forbidden otherwise."""
    parts = check_sns_url(url, field="SubscribeURL")
    actions = parse_qs(parts.query).get("Action", [])
    if actions != ["ConfirmSubscription"]:
        raise Forbidden(f"SNS SubscribeURL {url!r} is not a ConfirmSubscription request")
    return url


def confirm_subscription(url: str, *, http: httpx.Client | None) -> str | None:
    """GET SubscribeURL; return the SubscriptionArn AWS answers with (None if it names none).

    Raises Unavailable when AWS cannot be reached or refuses, so the caller answers 503 and
    SNS redelivers the confirmation request (and an operator can still confirm by hand).
    """
    check_subscribe_url(url)
    import httpx  # only a subscription confirmation needs it

    client = http or httpx.Client(timeout=CONFIRM_TIMEOUT_SECONDS)
    try:
        with client.stream("GET", url, timeout=CONFIRM_TIMEOUT_SECONDS, follow_redirects=False) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    break
            if response.status_code != 200:
                raise Unavailable(
                    f"confirming the SNS subscription failed: {url.split('?', 1)[0]} answered "
                    f"HTTP {response.status_code}"
                )
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach AWS SNS to confirm the subscription: {exc}") from None
    finally:
        if http is None:
            client.close()
    found = _SUBSCRIPTION_ARN.search(body.decode("utf-8", "replace"))
    return found.group(1) if found else None
