"""Terminal output shared by every CLI module: one Rich console, severity colours, --json printing."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)

SEVERITY_STYLE = {"SEV1": "bold white on red", "SEV2": "bold red", "SEV3": "yellow", "SEV4": "cyan"}
STATUS_STYLE = {
    "investigating": "bold red",
    "identified": "yellow",
    "mitigated": "cyan",
    "resolved": "green",
    "closed": "dim",
}


def sev(severity: str) -> str:
    """A severity rendered with its colour (Rich markup)."""
    style = SEVERITY_STYLE.get(severity, "")
    return f"[{style}]{severity}[/]" if style else severity


def status(value: str) -> str:
    style = STATUS_STYLE.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
