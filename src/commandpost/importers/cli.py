"""``commandpost import pagerduty|opsgenie|grafana-oncall SOURCE --out DIR`` (docs/migrate.md).

The ``import`` command itself belongs to backup (it also imports an export); it hands a vendor name
here. Each vendor module offers ``live(token, base_url=…)`` and ``read(source, now=…)``; they are
imported only when their vendor is asked for.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from rich.table import Table

from commandpost.console import err_console, markup, print_table
from commandpost.errors import BadRequest, PolicyInvalid
from commandpost.importers.source import SavedResponses, Source

VENDORS = {
    "pagerduty": "commandpost.importers.pagerduty",
    "opsgenie": "commandpost.importers.opsgenie",
    "grafana-oncall": "commandpost.importers.grafana_oncall",
}


def vendor_import(
    vendor: str,
    source: Path | None,
    *,
    out: Path | None,
    token: str | None,
    api_url: str | None,
    grafana_url: str | None = None,
    force: bool,
) -> None:
    """Read the vendor's account, write the ops folder at ``out``, check it and print the report."""
    from commandpost.clock import SystemClock
    from commandpost.importers.folder import write_ops_folder

    if out is None:
        raise BadRequest(f"import {vendor}: --out DIR is required (where the ops folder is written)")
    if source is not None and token:
        raise BadRequest(f"import {vendor}: give either a folder of saved responses or --token, not both")
    if source is None and not token:
        raise BadRequest(
            f"import {vendor}: give a folder of saved API responses, or --token (COMMANDPOST_IMPORT_TOKEN) "
            "for a live read; docs/migrate.md"
        )
    if grafana_url and (vendor != "grafana-oncall" or not token):
        raise BadRequest(f"import {vendor}: --grafana-url goes with grafana-oncall and --token")
    module: Any = importlib.import_module(VENDORS[vendor])
    stack = {"grafana_url": grafana_url} if grafana_url else {}  # an empty variable is none given
    reader: Source = (
        SavedResponses(source) if source is not None else module.live(token, base_url=api_url, **stack)
    )
    now = SystemClock().now()
    result = module.read(reader, now=now)
    loaded = write_ops_folder(result, out, now=now, force=force)
    table = Table(title=f"imported into {out}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for kind, n in result.counts().items():
        table.add_row(kind.replace("_", " "), str(n))
    print_table(table)
    for finding in loaded.warnings:
        err_console.print(f"[yellow]warning[/] {markup(finding)}", highlight=False)
    if loaded.errors:
        raise PolicyInvalid(
            f"the imported folder {out} does not pass check: fix these, then run commandpost check",
            details=[str(f) for f in loaded.errors],
        )
    err_console.print(
        f"[green]{markup(out)} passes check[/]; read {markup(out / 'README.md')} for what was not imported "
        "and the next steps",
        highlight=False,
    )
