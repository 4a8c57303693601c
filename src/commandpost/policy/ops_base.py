"""What every ops file's model is built from: the strict base model, the severity names, slugs,
weekdays, timezones and name lists.

Each file's shape is one model with ``extra="forbid"`` so a typo is an error, not a silently
ignored key. Cross-references between files (a service's owner team, a policy's targets, a rule's
runbook) are checked in ``xref.py``; the models only check what one file can say about itself.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

SEVERITIES: tuple[str, ...] = ("SEV1", "SEV2", "SEV3", "SEV4")
SeverityName = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
Slug = Annotated[str, Field(pattern=SLUG.pattern, max_length=100)]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA timezone (e.g. Asia/Tokyo, Europe/Berlin, UTC)") from exc
    return value


Timezone = Annotated[str, AfterValidator(_check_timezone)]


def _one_or_many(value: Any) -> Any:
    """The guide writes ``notify: oncall_channel`` and ``notify: [a, b]``; both mean a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


NameList = Annotated[list[str], BeforeValidator(_one_or_many, json_schema_input_type=str | list[str])]


def parse_weekday(value: Any) -> str:
    """A weekday as people write it (``Mon``, ``monday``) as its full lower-case name."""
    text = str(value).strip().lower()
    for day in WEEKDAYS:
        if text == day or text == day[:3]:
            return day
    raise ValueError(f"{value!r} is not a weekday (monday … sunday, or mon … sun)")
