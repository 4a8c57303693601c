"""Chart text is plain text (issue 14, item 9): matplotlib's mathtext never parses a ``$…$`` in a
title, a label, a tick, a legend entry or a colorbar label, so an alert named
``Cost $\\undefinedmacro{x}$ p99`` draws as written instead of raising, and ``Price $5 and $6 off``
keeps its dollar signs."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from commandpost.web import charts

BAD_MACRO = r"Cost $\undefinedmacro{x}$ p99"
DOLLARS = "Price $5 and $6 off"
SUBSCRIPT = r"p99 $x_1^2$ \alpha"


def texts(svg: str) -> list[str]:
    """Every string the SVG draws (svg.fonttype = none keeps text as <text>), unescaped."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


@pytest.mark.parametrize("label", [BAD_MACRO, DOLLARS, SUBSCRIPT])
def test_bar_labels_titles_and_axis_labels_are_drawn_as_written(label):
    svg = charts.bars(f"Noisy {label}", [label, "plain"], [3.0, 1.0], xlabel=f"firings {label}")
    drawn = texts(svg)
    assert label in drawn  # the tick label
    assert f"Noisy {label}" in drawn and f"firings {label}" in drawn
    assert f'aria-label="Noisy {html.escape(label, quote=False)}"' in str(svg)


@pytest.mark.parametrize("label", [BAD_MACRO, DOLLARS])
def test_line_titles_legends_and_reference_lines_are_drawn_as_written(label):
    svg = charts.lines(
        f"Budget {label}",
        {f"svc/{label}": [(date(2026, 6, 1), 90.0), (date(2026, 6, 2), 80.0)]},
        ylabel=f"% {label}",
        reference=(0.0, f"exhausted {label}"),
    )
    drawn = texts(svg)
    for expected in (f"Budget {label}", f"svc/{label}", f"% {label}", f"exhausted {label}"):
        assert expected in drawn, (expected, drawn)


@pytest.mark.parametrize("label", [BAD_MACRO, DOLLARS])
def test_heatmap_rows_columns_and_unit_are_drawn_as_written(label):
    svg = charts.heatmap(
        f"Load {label}", [f"@{label}"], [f"W {label}", "W2"], [[1.0, 30.0]], unit=f"pages {label}", limit=28
    )
    drawn = texts(svg)
    for expected in (f"Load {label}", f"@{label}", f"W {label}", f"pages {label}"):
        assert expected in drawn, (expected, drawn)


def test_numbers_stay_plain_too():
    """Tick numbers and cell values never become mathtext either (no ``$`` or ``\\times`` in the SVG)."""
    svg = charts.heatmap("Load", ["@a"], ["W1"], [[1234567.0]], unit="pages")
    assert not any("$" in t or "\\" in t for t in texts(svg))
    assert "1.23457e+06" in texts(svg)
