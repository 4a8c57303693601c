"""Confirming an SNS subscription: one GET of the (signed, host-checked) SubscribeURL.

SNS sends nothing but a SubscriptionConfirmation until the endpoint proves it wants the
topic by visiting SubscribeURL. The message is verified before this is called; the URL is
checked again anyway (https, ``sns.<region>.amazonaws.com[.cn]``, ``Action=ConfirmSubscription``)
so a verification bug can never turn into a request to an arbitrary host.

The HTTP client is injectable so tests (and proxied installs) decide how the request travels;
without one, :func:`new_client` makes it. Every message quotes the URL without its token.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from commandpost.alerts.sources.sns_verify import check_sns_url, shown
from commandpost.errors import Forbidden, Unavailable

if TYPE_CHECKING:
    import httpx

CONFIRM_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
_SUBSCRIPTION_ARN = re.compile(r"<SubscriptionArn>\s*([^<\s]{1,1024})\s*</SubscriptionArn>")


class HideToken(logging.Filter):
    """httpx logs every request's URL at INFO (``HTTP Request: GET https://sns…&Token=…``): the
    confirmation token must not reach a log line, so any argument holding one is logged masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any("token=" in str(a).lower() for a in args):
            record.args = tuple(shown(str(a)) if "token=" in str(a).lower() else a for a in args)
        return True


def hide_tokens(logger: logging.Logger) -> None:
    """Put :class:`HideToken` on ``logger`` once (the composition root does, on httpx's)."""
    if not any(isinstance(f, HideToken) for f in logger.filters):
        logger.addFilter(HideToken())


def check_subscribe_url(url: str) -> str:
    """``url`` if it is an AWS SNS ConfirmSubscription URL; raises Forbidden otherwise."""
    parts = check_sns_url(url, field="SubscribeURL")
    actions = parse_qs(parts.query).get("Action", [])
    if actions != ["ConfirmSubscription"]:
        raise Forbidden(f"SNS SubscribeURL {shown(url)!r} is not a ConfirmSubscription request")
    return url


def new_client() -> httpx.Client:
    """The client a confirmation uses when the caller gives none (the intake, the CLI, the API)."""
    import httpx  # only a subscription confirmation needs it

    return httpx.Client(timeout=CONFIRM_TIMEOUT_SECONDS)


def confirm_subscription(url: str, *, http: httpx.Client | None) -> str | None:
    """GET SubscribeURL; return the SubscriptionArn AWS answers with (None if it names none).

    Raises Unavailable when AWS cannot be reached or refuses, so the caller answers 503 and
    SNS redelivers the confirmation request (and an operator can still confirm by hand).
    """
    check_subscribe_url(url)
    import httpx

    client = http or new_client()
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
        raise Unavailable(f"cannot reach AWS SNS to confirm the subscription: {shown(str(exc))}") from None
    finally:
        if http is None:
            client.close()
    found = _SUBSCRIPTION_ARN.search(body.decode("utf-8", "replace"))
    return found.group(1) if found else None
