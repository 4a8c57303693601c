"""JSON Schemas of the ops files, for editors (``commandpost ops schema``).

Generated from the pydantic models ``apply`` validates with, one per kind of file, so an editor's
red squiggle and ``commandpost check`` agree on field names, types and enums. The cross-file checks
(a policy naming a schedule that exists, …) stay ``check``'s: a schema cannot see other files.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from commandpost.policy.opsfiles import (
    EscalationPolicy,
    OrgSettings,
    PeopleFile,
    Schedule,
    Service,
    SeveritiesFile,
)

# kind -> (the model, the files of an ops folder it describes, whether ``name`` comes from the file name)
KINDS: dict[str, tuple[type[BaseModel], str, bool]] = {
    "commandpost": (OrgSettings, "commandpost.yaml", False),
    "severities": (SeveritiesFile, "severities.yaml", False),
    "people": (PeopleFile, "people.yaml", False),
    "services": (Service, "services/*.yaml", False),
    "escalation": (EscalationPolicy, "escalation/*.yaml", True),
    "schedules": (Schedule, "schedules/*.yaml", True),
}


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one kind of ops file."""
    model, files, name_from_stem = KINDS[kind]
    out = model.model_json_schema(mode="validation")
    if name_from_stem:  # escalation/foo.yaml is the policy "foo" unless it says otherwise
        out["required"] = [field for field in out.get("required", []) if field != "name"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **out,
        "title": f"commandpost ops: {files}",
    }
