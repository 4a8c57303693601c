"""Cleaning what people type into an incident: bounded, redacted text; known service names; sane times.

Every free-text field passes ``security.redact`` here before any service stores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from commandpost.errors import ValidationFailed
from commandpost.incidents import rules
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security.redact import redact_data, redact_text

MAX_TITLE = 300
MAX_TEXT = 20_000


def text(value: str | None, field: str, *, required: bool = False, limit: int = MAX_TEXT) -> str:
    """Stripped, bounded and redacted; ``required`` refuses blank (422 naming the field)."""
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise ValidationFailed(f"{field} must not be empty", details={"field": field})
    if len(cleaned) > limit:
        raise ValidationFailed(f"{field} is longer than {limit} characters", details={"field": field})
    return redact_text(cleaned)


def labels(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """Labels with keys and values redacted: a key is typed by a person too (``redact_data`` keeps keys)."""
    return {redact_text(str(key)): item for key, item in redact_data(dict(value or {})).items()}


def service_name(config: OpsConfig, service: str | None) -> str | None:
    """A service of the applied ops (422 naming the valid ones); blank means none."""
    if service is None or not service.strip():
        return None
    return rules.choose(service.strip(), [s.name for s in config.services], "service")


def check_times(impact_started_at: datetime | None, detected_at: datetime, now: datetime) -> None:
    """Nothing in the future, and impact never starts after it was detected."""
    if detected_at > now:
        raise ValidationFailed("detected_at is in the future", details={"field": "detected_at"})
    if impact_started_at is not None:
        if impact_started_at > now:
            raise ValidationFailed(
                "impact_started_at is in the future", details={"field": "impact_started_at"}
            )
        if impact_started_at > detected_at:
            raise ValidationFailed(
                "impact_started_at is after detected_at (impact starts before it is detected)",
                details={"field": "impact_started_at"},
            )
