"""Which status may follow which: a postmortem's review (draft → In Review → Final, and reopen) and an
action item's status (wontfix needs a reason)."""

from __future__ import annotations

from commandpost.errors import InvalidTransition, ValidationFailed

STATUSES: tuple[str, ...] = ("not_required", "draft", "in_review", "final")
STATUS_LABELS: dict[str, str] = {
    "not_required": "Not required",
    "draft": "Draft",
    "in_review": "In Review",
    "final": "Final",
}
REOPEN_TARGETS: tuple[str, ...] = ("draft", "in_review")


def check_move(status: str, move: str, *, number: str, target: str | None = None) -> str:
    """The status after ``move`` (start|submit|approve|reopen), or 409 naming what is allowed."""
    allowed: dict[str, tuple[str, ...]] = {
        "start": ("not_required",),
        "submit": ("draft", "in_review"),
        "approve": ("in_review",),
        "reopen": ("in_review", "final"),
    }
    if status in allowed[move]:
        if move == "reopen":
            wanted = target or "draft"
            if wanted not in REOPEN_TARGETS:
                raise ValidationFailed(
                    f"reopen goes back to {' or '.join(REOPEN_TARGETS)}, not {wanted!r}",
                    details={"field": "to", "valid": list(REOPEN_TARGETS)},
                )
            if status == "in_review" and wanted == "in_review":
                raise InvalidTransition(
                    f"the postmortem of {number} is already In Review; reopen it to draft",
                    details={"status": status, "move": move},
                )
            return wanted
        return {"start": "draft", "submit": "in_review", "approve": "final"}[move]
    possible = [m for m, sources in allowed.items() if status in sources]
    raise InvalidTransition(
        f"the postmortem of {number} is {STATUS_LABELS[status]}; it cannot {move} "
        f"(possible now: {', '.join(possible) or 'edit'})",
        details={"status": status, "move": move, "allowed": possible},
    )


ACTION_STATUSES: tuple[str, ...] = ("open", "in_progress", "done", "wontfix")
OPEN_ACTION_STATUSES: tuple[str, ...] = ("open", "in_progress")


def check_action_status(current: str, wanted: str, *, note: str) -> str:
    """Any status may follow any other, except that ``wontfix`` needs a reason."""
    if wanted not in ACTION_STATUSES:
        raise ValidationFailed(
            f"status {wanted!r} is not one of {', '.join(ACTION_STATUSES)}",
            details={"field": "status", "valid": list(ACTION_STATUSES)},
        )
    if wanted == "wontfix" and current != "wontfix" and not note.strip():
        raise ValidationFailed(
            "wontfix needs a note saying why the item will not be done", details={"field": "note"}
        )
    return wanted
