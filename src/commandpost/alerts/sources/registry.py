"""Which sources ``POST /api/v1/intake/{source}/{key}`` accepts, and how each one is parsed.

A source module exposes ``parse(body: bytes, ctx: SourceContext) -> list[NormalizedEvent]``:
it validates the raw body (4xx from :mod:`commandpost.errors` with the path of every problem,
see :mod:`commandpost.alerts.intake.wire`) and never touches the database. Plugging a source in is one
line in :data:`SOURCES`. ``blocking=True`` runs ``parse`` in a worker thread (it may fetch a
signing certificate); ``overload_status`` is what a rate-limited request is answered with.

PagerDuty is not here: it has its own endpoints (``/v2/enqueue``) with the key in the body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from commandpost.alerts.normalized import NormalizedEvent
from commandpost.alerts.sources import alertmanager, grafana, sns
from commandpost.alerts.sources import generic as generic_json
from commandpost.settings import Settings


@dataclass(frozen=True)
class SourceContext:
    """What a parser may consult besides the body: the integration it arrived on and the request."""

    integration: str
    """the integration's name (ops ``services/*.yaml``)"""
    service: str
    topic_arns: tuple[str, ...] = ()
    """SNS only: the TopicArn allowlist declared on the integration"""
    headers: Mapping[str, str] = field(default_factory=dict)
    """request headers, lower-case names"""
    settings: Settings = field(default_factory=Settings)
    now: datetime | None = None


Parser = Callable[[bytes, SourceContext], Sequence[NormalizedEvent]]


@dataclass(frozen=True)
class Source:
    name: str
    parse: Parser
    blocking: bool = False
    overload_status: int = 429


SOURCES: dict[str, Source] = {
    "alertmanager": Source("alertmanager", alertmanager.parse, overload_status=503),
    "generic": Source("generic", generic_json.parse),
    "grafana": Source("grafana", grafana.parse),
    "sns": Source("sns", sns.parse, blocking=True),
}
