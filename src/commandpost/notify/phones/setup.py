"""The SMS and voice providers as configured: only those whose credentials and sender are set, in the
org's order (``sms_providers``), the per-country choices first (``sms_provider_by_country``)."""

from __future__ import annotations

from dataclasses import dataclass

from commandpost.notify.phones.base import Failover, PhoneProvider
from commandpost.notify.phones.sms import SmsChannel
from commandpost.notify.phones.twilio import TwilioProvider
from commandpost.notify.phones.voice import VoiceChannel
from commandpost.notify.phones.vonage import VonageProvider
from commandpost.settings import Settings


@dataclass(frozen=True, slots=True)
class PhoneChannels:
    sms: SmsChannel
    voice: VoiceChannel

    def close(self) -> None:
        """Both channels share the providers: closing one's closes all."""
        self.sms.providers.close()


def providers(settings: Settings) -> dict[str, PhoneProvider]:
    """Each configured provider by name."""
    found: dict[str, PhoneProvider] = {}
    if (twilio := twilio_provider(settings)) is not None:
        found[twilio.name] = twilio
    if (vonage := vonage_provider(settings)) is not None:
        found[vonage.name] = vonage
    return found


def twilio_provider(settings: Settings) -> TwilioProvider | None:
    token = settings.twilio_auth_token.get_secret_value()
    if not (settings.twilio_account_sid and token and settings.twilio_from):
        return None
    return TwilioProvider(
        account_sid=settings.twilio_account_sid,
        auth_token=token,
        sender=settings.twilio_from,
        api_url=settings.twilio_api_url,
        public_url=settings.base_url(),
        timeout=settings.notify_timeout_seconds,
    )


def vonage_provider(settings: Settings) -> VonageProvider | None:
    secret = settings.vonage_api_secret.get_secret_value()
    if not (settings.vonage_api_key and secret and settings.vonage_from):
        return None
    return VonageProvider(
        api_key=settings.vonage_api_key,
        api_secret=secret,
        sender=settings.vonage_from,
        rest_url=settings.vonage_rest_url,
        api_url=settings.vonage_api_url,
        public_url=settings.base_url(),
        timeout=settings.notify_timeout_seconds,
        application_id=settings.vonage_application_id,
        private_key=settings.vonage_private_key.get_secret_value(),
    )


def phone_channels(settings: Settings) -> PhoneChannels:
    """The ``sms`` and ``voice`` channels; a Vonage account without a voice application only texts."""
    configured = providers(settings)
    ordered = [configured[name] for name in dict.fromkeys(settings.sms_providers) if name in configured]
    callers = [p for p in ordered if not isinstance(p, VonageProvider) or p.can_call]
    countries = settings.sms_provider_by_country
    return PhoneChannels(
        sms=SmsChannel(Failover(ordered, countries)), voice=VoiceChannel(Failover(callers, countries))
    )
