"""The provider interface every SMS/voice provider implements, and the failover across providers.

A provider answers one of four verdicts, because each asks for a different next step:
``ok`` (the provider took it), ``retry`` (it errored, timed out, throttled: another provider may
take it now, or this one later), ``refused`` (it will not take any message from us as configured —
bad credentials, a sender it does not allow: another provider may, retrying will not) and
``permanent`` (the recipient cannot get it — invalid number, STOP, not SMS-capable: no provider
will do better, so the message is dead with the reason and the person's next method follows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import phonenumbers

from commandpost.notify.rules import Delivery

Verdict = Literal["ok", "retry", "refused", "permanent"]


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """One provider's answer to one send. ``error`` names the provider and its code: ``twilio 21610: …``."""

    verdict: Verdict
    provider: str
    provider_ref: str | None = None
    error: str | None = None
    status_code: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class VoiceScript:
    """What a call says, provider-neutral: each provider renders it (TwiML, NCCO).

    ``gather_token`` is the page's ack token: with it the call asks for a key and the keypress comes
    back to our hook carrying the token; without it (a notice) the call only speaks."""

    page: str
    prompt: str
    gather_token: str | None


class PhoneProvider(Protocol):
    name: str

    def send_sms(self, to: str, body: str) -> ProviderResult:
        """Hand one SMS to the provider; never raise for a delivery problem."""
        ...

    def call(self, to: str, script: VoiceScript) -> ProviderResult:
        """Place one call reading ``script``; never raise for a delivery problem."""
        ...

    def close(self) -> None: ...


def region_of(number: str) -> str | None:
    """The ISO country of an E.164 number (``+8190…`` → ``JP``), None when it is not one."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return None


class Failover:
    """Providers in order — the one configured for the number's country first, then the org's order —
    each tried until one takes the message or the recipient is found unreachable."""

    def __init__(self, providers: Sequence[PhoneProvider], by_country: dict[str, str] | None = None) -> None:
        self.providers = list(providers)
        self.by_country = by_country or {}

    def order(self, to: str) -> list[PhoneProvider]:
        first = self.by_country.get(region_of(to) or "")
        return sorted(self.providers, key=lambda provider: provider.name != first)

    def send_sms(self, to: str, body: str) -> ProviderResult:
        return self._first_taker(to, lambda provider: provider.send_sms(to, body))

    def call(self, to: str, script: VoiceScript) -> ProviderResult:
        return self._first_taker(to, lambda provider: provider.call(to, script))

    def close(self) -> None:
        for provider in self.providers:
            provider.close()

    def _first_taker(self, to: str, attempt: Callable[[PhoneProvider], ProviderResult]) -> ProviderResult:
        results: list[ProviderResult] = []
        for provider in self.order(to):
            result = attempt(provider)
            if result.verdict in ("ok", "permanent"):
                return result
            results.append(result)
        if not results:
            return ProviderResult("refused", "none", error="no SMS/voice provider is configured")
        return combined(results)


def combined(failures: list[ProviderResult]) -> ProviderResult:
    """Every provider failed: retry if any of them may take it later, else refused; the error lists each."""
    retry = [r for r in failures if r.verdict == "retry"]
    last = (retry or failures)[-1]
    return ProviderResult(
        "retry" if retry else "refused",
        last.provider,
        error="; ".join(r.error or f"{r.provider} failed" for r in failures),
        status_code=last.status_code,
        retry_after=min((r.retry_after for r in retry if r.retry_after is not None), default=None),
    )


def delivery(result: ProviderResult) -> Delivery:
    """The sender's view: taken → delivered (the provider's receipt comes later, to ``provider_ref``);
    a recipient no provider can reach, or no provider that will take it → dead, at once."""
    match result.verdict:
        case "ok":
            return Delivery("delivered", provider_ref=result.provider_ref)
        case "retry":
            return Delivery("retry", result.status_code, result.error, result.retry_after)
    return Delivery("dead", result.status_code, result.error)
