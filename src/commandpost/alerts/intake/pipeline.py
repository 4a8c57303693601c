"""The intake request path, framework-free: key → integration, rate limit, parse, group commit, reply.

``api.py`` hands over the raw body and gets back an :class:`IntakeReply` (status, JSON body,
headers). Order of work: the integration (a cached lookup; unknown or deactivated key → 404,
or PagerDuty's 400), the body parsed by the source (4xx, nothing stored), the rate limit (429,
or 503 for Alertmanager which does not retry a 429), then the group committer — the reply is
built only from committed outcomes.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session, sessionmaker

from commandpost.alerts import heartbeats, service
from commandpost.alerts.intake.committer import GroupCommitter
from commandpost.alerts.intake.ratelimit import TokenBuckets, retry_after_seconds
from commandpost.alerts.metrics import EVENTS, REJECTED, UNRUNBOOKED_PAGES
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.alerts.schemas import incident_ref
from commandpost.alerts.service import IntegrationRef, Outcome
from commandpost.alerts.sources import pagerduty
from commandpost.alerts.sources.registry import SOURCES, SourceContext
from commandpost.alerts.timebounds import TimeBounds
from commandpost.clock import Clock
from commandpost.db.engine import transaction
from commandpost.errors import BadRequest, CommandpostError, NotFound, RateLimited, Unavailable
from commandpost.settings import Settings

KEY_TTL_SECONDS = 5.0
"""How long a looked-up key is trusted: a deactivated or rotated key stops working within this."""

HEARTBEAT_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""What a key can be (keys are hex); anything else — NUL, control characters, a huge path — is a 404
without a lookup."""

HEARTBEAT_PER_MINUTE = 60
"""A heartbeat pings once per interval (30 s at the least): more than one a second from one key is a
loop gone wrong or a leaked key, and each ping is a write."""

PD_THROTTLED = "Requests for this service are arriving too quickly. Please retry later."


@dataclass(frozen=True)
class IntakeReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        return orjson.dumps(self.body)


class IntegrationCache:
    """Integration keys → :class:`IntegrationRef`, looked up once per :data:`KEY_TTL_SECONDS`."""

    def __init__(self, sessions: sessionmaker[Session], *, ttl: float = KEY_TTL_SECONDS) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._known: dict[str, tuple[float, IntegrationRef | None]] = {}
        self._pending: dict[str, asyncio.Future[IntegrationRef | None]] = {}

    async def get(self, key: str) -> IntegrationRef | None:
        now = time.monotonic()
        hit = self._known.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        pending = self._pending.get(key)
        if pending is not None:  # one lookup per key at a time, however many requests wait for it
            return await pending
        pending = asyncio.get_running_loop().run_in_executor(None, self._load, key)
        self._pending[key] = pending
        try:
            ref = await pending
        finally:
            del self._pending[key]
        if len(self._known) > 10_000:  # keys are few; a flood of random keys must not grow this forever
            self._known.clear()
        self._known[key] = (time.monotonic() + (self._ttl if ref else 1.0), ref)
        return ref

    def _load(self, key: str) -> IntegrationRef | None:
        with self._sessions() as session:
            return service.integration_for_key(session, key=key)


class Intake:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        read_sessions: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.sessions = sessions
        self.committer = GroupCommitter(sessions, bounds=TimeBounds.of(settings))
        self.integrations = IntegrationCache(read_sessions)
        self.buckets = TokenBuckets()

    def close(self) -> None:
        """Give back what the intake holds between requests (the app is shutting down)."""
        self.committer.close()

    # ------------------------------------------------------------ /api/v1/intake/{source}/{key}

    async def receive(
        self,
        source: str,
        key: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> IntakeReply:
        """A source's intake request (``loop``: the running event loop, when the caller knows it —
        asking asyncio for it costs a system call per request on Python 3.11)."""
        try:
            return await self._receive(source, key, body, headers, loop or asyncio.get_running_loop())
        except CommandpostError as exc:
            REJECTED.labels(source if source in SOURCES else "unknown", str(exc.http_status)).inc()
            raise

    async def _receive(
        self, source: str, key: str, body: bytes, headers: Mapping[str, str], loop: asyncio.AbstractEventLoop
    ) -> IntakeReply:
        spec = SOURCES.get(source)
        if spec is None:
            raise NotFound(
                f"unknown intake source {source!r}; sources: {', '.join(sorted(SOURCES))} "
                "(PagerDuty Events v2: POST /v2/enqueue)"
            )
        integration = await self._integration(key, source)
        ctx = SourceContext(
            integration=integration.name,
            service=integration.service,
            topic_arns=integration.topic_arns,
            headers=headers,
            settings=self.settings,
            now=self.clock.now(),
        )
        if spec.blocking:
            events = await loop.run_in_executor(None, spec.parse, body, ctx)
        else:
            events = spec.parse(body, ctx)
        self._limit(integration, len(events), overload_status=spec.overload_status)
        outcomes = await self._store(integration, events, body, ctx.now, loop)
        return _batch_reply(outcomes, events)

    async def _integration(self, key: str, source: str) -> IntegrationRef:
        integration = await self.integrations.get(key)
        if integration is None:
            raise NotFound(
                f"no active {source} integration has this key (was it rotated or removed from ops?)"
            )
        if integration.source != source:
            raise NotFound(
                f"this key belongs to the {integration.source} integration {integration.name!r}; "
                f"send {integration.source} payloads to /api/v1/intake/{integration.source}/<key>"
                + (" or /v2/enqueue" if integration.source == "pagerduty" else "")
            )
        return integration

    def _limit(self, integration: IntegrationRef, count: int, *, overload_status: int) -> None:
        wait = self.buckets.take(integration.id, max(count, 1), integration.rate_limit_per_minute)
        if not wait:
            return
        limit = integration.rate_limit_per_minute or self.buckets.default_per_minute
        message = (
            f"integration {integration.name!r} is over its limit of {limit} events per minute; retry later"
        )
        if overload_status == 503:
            raise Unavailable(message, retry_after=retry_after_seconds(wait))
        raise RateLimited(message, retry_after=retry_after_seconds(wait))

    async def _store(
        self,
        integration: IntegrationRef,
        events: Sequence[NormalizedEvent],
        body: bytes,
        now: Any,
        loop: asyncio.AbstractEventLoop,
    ) -> list[Outcome]:
        if not events:
            return []
        whole = None if all(e.raw is not None for e in events) else orjson.loads(body)
        outcomes = await self.committer.submit(integration, events, body=whole, now=now, loop=loop)
        if len(outcomes) == 1:
            _counter(integration.source, outcomes[0].outcome).inc()
        else:  # a webhook's alerts: one increment per outcome, not per alert
            for name, count in collections.Counter(o.outcome for o in outcomes).items():
                _counter(integration.source, name).inc(count)
        unrunbooked = sum(1 for o in outcomes if o.unrunbooked_page)
        if unrunbooked:
            UNRUNBOOKED_PAGES.labels(integration.service).inc(unrunbooked)
        return outcomes

    # ------------------------------------------------------------ /api/v1/heartbeats/{key}

    async def heartbeat(self, key: str) -> IntakeReply:
        """A heartbeat's ping: its due time moves one interval + grace ahead, a miss is resolved.
        Any key that is not an active heartbeat's gets the same 404 (which keys exist is not told);
        rate-limited like intake, per key (at :data:`HEARTBEAT_PER_MINUTE`)."""
        integration = await self.integrations.get(key) if HEARTBEAT_KEY.fullmatch(key) else None
        if integration is None or integration.source != heartbeats.SOURCE:
            REJECTED.labels(heartbeats.SOURCE, "404").inc()
            raise NotFound("no active heartbeat has this key (was it rotated or removed from ops?)")
        self._limit(replace(integration, rate_limit_per_minute=HEARTBEAT_PER_MINUTE), 1, overload_status=429)
        now = self.clock.now()
        pinged = await asyncio.get_running_loop().run_in_executor(None, self._ping, integration.id, now)
        if pinged is None:
            raise NotFound("no active heartbeat has this key (was it rotated or removed from ops?)")
        _counter(heartbeats.SOURCE, "resolved" if pinged.resolved else "recorded").inc()
        body = {
            "status": "success",
            "heartbeat": pinged.name,
            "next_due_at": pinged.due_at.isoformat(),
            "resolved": pinged.resolved,
        }
        return IntakeReply(200, body)

    def _ping(self, integration_id: int, now: datetime) -> heartbeats.Pinged | None:
        with transaction(self.sessions) as session:
            return heartbeats.ping(session, integration_id=integration_id, now=now)

    # ------------------------------------------------------------ PagerDuty Events API v2

    async def pagerduty(
        self, body: bytes, *, change: bool = False, loop: asyncio.AbstractEventLoop | None = None
    ) -> IntakeReply:
        """``/v2/enqueue`` (or ``/v2/change/enqueue``), answered exactly as PagerDuty answers
        (``loop`` as for :meth:`receive`)."""
        try:
            request = pagerduty.parse_change(body) if change else pagerduty.parse_event(body)
            integration = await self.integrations.get(request.routing_key)
            if integration is None or integration.source != "pagerduty":
                why = (
                    "routing_key: no active integration has this key"
                    if integration is None
                    else f"routing_key belongs to the {integration.source} integration {integration.name!r}, "
                    "not a pagerduty one"
                )
                REJECTED.labels("pagerduty", "400").inc()
                return _pd_invalid([why])
            self._limit(integration, 1, overload_status=429)
            now = self.clock.now()
            (outcome,) = await self._store(
                integration, [request.event], body, now, loop or asyncio.get_running_loop()
            )
        except CommandpostError as exc:
            REJECTED.labels("pagerduty", str(exc.http_status if exc.http_status != 422 else 400)).inc()
            return _pd_error(exc)
        if change:
            return IntakeReply(
                202,
                {
                    "status": "success",
                    "message": "Change event processed",
                    "id": str(outcome.change_id),
                    "outcome": outcome.outcome,
                },
            )
        return IntakeReply(
            202,
            {
                "status": "success",
                "message": "Event processed",
                "dedup_key": outcome.dedup_key,
                "outcome": outcome.outcome,
                "incident": incident_ref(outcome.incident),
            },
        )


@functools.cache
def _counter(source: str, outcome: str) -> Any:
    """The labelled child of EVENTS (``labels()`` is too slow to call per event)."""
    return EVENTS.labels(source, outcome)


def _pd_invalid(errors: list[str]) -> IntakeReply:
    return IntakeReply(
        400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
    )


def _pd_error(exc: CommandpostError) -> IntakeReply:
    if isinstance(exc, BadRequest):
        body = {
            "status": "Unrecognized object",
            "message": "Event object format is unrecognized",
            "errors": [exc.message],
        }
        return IntakeReply(400, body)
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after)}
        return IntakeReply(
            429, {"status": "throttle event", "message": PD_THROTTLED, "errors": [exc.message]}, headers
        )
    if exc.http_status == 422:
        details = exc.details if isinstance(exc.details, list) else [exc.message]
        return _pd_invalid([str(d) for d in details])
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else {}
    return IntakeReply(
        exc.http_status, {"status": exc.code, "message": exc.message, "errors": [exc.message]}, headers
    )


def _batch_reply(outcomes: list[Outcome], events: Sequence[NormalizedEvent]) -> IntakeReply:
    truncated = next((e.details.get("truncated_alerts", 0) for e in events if e.details), 0)
    body: dict[str, Any] = {
        "status": "success",
        "message": f"{len(outcomes)} event(s) processed",
        "events": [_event_json(o) for o in outcomes],
    }
    if truncated:
        body["truncated_alerts"] = truncated
    if len(outcomes) == 1:
        body.update(_event_json(outcomes[0]))
    return IntakeReply(202, body)


def _event_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "dedup_key": outcome.dedup_key,
        "outcome": outcome.outcome,
        "incident": incident_ref(outcome.incident),
        "alert": outcome.alert_id,
    }
