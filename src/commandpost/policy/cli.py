"""``commandpost check | apply | init | integrations`` (filled in by the ops-as-code work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this domain's commands to the root CLI."""
