"""Chart text is plain text (issue 14, item 9): a ``$…$`` in a title, a label, a legend entry or a
unit is drawn as written (``Cost $\\undefinedmacro{x}$ p99`` neither raises nor loses its dollars),
and numbers stay plain digits."""

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
    """Every string the SVG draws as <text>, unescaped."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


@pytest.mark.parametrize("label", [BAD_MACRO, DOLLARS, SUBSCRIPT])
def test_bar_labels_titles_and_axis_labels_are_drawn_as_written(label):
    chart = charts.bars(f"Noisy {label}", [label, "plain"], [3.0, 1.0], xlabel=f"firings {label}")
    drawn = texts(chart.svg)
    assert label in drawn and f"firings {label}" in drawn
    assert f'aria-label="{html.escape(f"Noisy {label}")}"' in str(chart.svg)
    assert f"<title>{html.escape(f'Noisy {label}')}</title>" in str(chart.svg)


@pytest.mark.parametrize("label", [BAD_MACRO, DOLLARS])
def test_line_legends_units_and_reference_lines_are_drawn_as_written(label):
    chart = charts.lines(
        f"Budget {label}",
        {f"svc/{label}": [(date(2026, 6, 1), 90.0), (date(2026, 6, 2), 80.0)]},
        ylabel=f"% {label}",
        reference=(0.0, f"exhausted {label}"),
    )
    drawn = texts(chart.svg)
    for expected in (f"svc/{label}", f"% {label}", f"exhausted {label}"):
        assert expected in drawn, (expected, drawn)
    assert chart.table.columns == ("Date", f"svc/{label}")


@pytest.mark.parametrize("label", [BAD_MACRO, DOLLARS])
def test_heatmap_rows_columns_and_unit_are_drawn_as_written(label):
    chart = charts.heatmap(
        f"Load {label}", [f"@{label}"], [f"W {label}", "W2"], [[1.0, 30.0]], unit=f"pages {label}", limit=28
    )
    drawn = texts(chart.svg)
    assert f"W {label}" in drawn and chart.table.rows[0][0] == f"@{label}"  # a long name is cut when drawn
    assert f"<title>@{html.escape(label)}, W2: 30 pages {html.escape(label)}</title>" in str(chart.svg)
    assert any(t.startswith(f"pages {label} per cell") for t in drawn)


def test_numbers_stay_plain_too():
    """Tick numbers and cell values are digits (no ``$``, ``\\times`` or exponent notation)."""
    chart = charts.heatmap("Load", ["@a"], ["W1"], [[1234567.0]], unit="pages")
    assert not any("$" in t or "\\" in t for t in texts(chart.svg))
    assert "1234567" in texts(chart.svg)
