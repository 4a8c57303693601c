"""The channels a message can go out on, built once from Settings; the sender calls :meth:`Channels.send`."""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from commandpost.notify.channels.base import Channel, Outbound
from commandpost.notify.channels.console import ConsoleChannel
from commandpost.notify.channels.email import EmailChannel, SmtpConfig, message_domain
from commandpost.notify.channels.http import GuardedHttp
from commandpost.notify.channels.ntfy import NtfyChannel
from commandpost.notify.channels.slack import SlackChannel
from commandpost.notify.channels.slack_dm import SlackDm, web_client
from commandpost.notify.channels.webhook import WebhookChannel
from commandpost.notify.rules import Delivery
from commandpost.notify.ssrf import OutboundGuard, Resolver, system_resolver
from commandpost.settings import Settings


class Channels:
    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver = system_resolver,
        console_stream: TextIO | None = None,
    ) -> None:
        self.http = GuardedHttp(
            OutboundGuard(settings.outbound_allowlist, resolver=resolver),
            timeout=settings.notify_timeout_seconds,
        )
        smtp = SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value(),
            timeout=2 * settings.notify_timeout_seconds,
            domain=message_domain(settings.email_domain, settings.smtp_from, settings.public_url),
        )
        # imported here: the phone channels build on channels.base, so importing them at the top
        # would make this package and notify.phones import each other
        from commandpost.notify.phones.setup import phone_channels

        self.phones = phone_channels(settings)
        slack_dm = SlackDm(web_client(settings)) if settings.slack_bot_token.get_secret_value() else None
        self.by_name: dict[str, Channel] = {
            "console": ConsoleChannel(console_stream),
            "slack": SlackChannel(self.http, slack_dm),
            "email": EmailChannel(smtp),
            "webhook": WebhookChannel(self.http, settings.webhook_signing_secret.get_secret_value()),
            "push": NtfyChannel(
                self.http, server_url=settings.ntfy_url, token=settings.ntfy_token.get_secret_value()
            ),
            "sms": self.phones.sms,
            "voice": self.phones.voice,
        }

    def send(self, message: Outbound, now: datetime) -> Delivery:
        channel = self.by_name.get(message.channel)
        if channel is None:
            return Delivery("dead", error=f"unknown channel {message.channel!r}")
        return channel.send(message, now)

    def close(self) -> None:
        self.http.close()
        self.phones.close()


__all__ = ["Channels", "Outbound"]
