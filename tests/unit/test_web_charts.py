"""The chart helper draws SVG server-side: titles, series and labels are there, input is escaped."""

from __future__ import annotations

from datetime import date

from commandpost.web import charts


def test_lines_draw_one_series_per_severity_with_their_colours():
    svg = charts.lines(
        "MTTR per severity",
        {"SEV1": [(date(2026, 6, 1), 42.0), (date(2026, 6, 8), 30.0)], "SEV2": [(date(2026, 6, 1), 90.0)]},
        ylabel="minutes",
    )
    assert svg.startswith("<svg") and 'aria-label="MTTR per severity"' in svg
    assert "SEV1" in svg and "SEV2" in svg and "minutes" in svg
    assert "#b3001b" in svg.lower()  # SEV1 red


def test_empty_data_says_so():
    assert "no data in this period" in charts.lines("Burn-down", {"availability": []})
    assert "nothing to show" in charts.bars("Noisy alerts", [], [])


def test_labels_are_escaped():
    svg = charts.bars("Noisy <alerts>", ["<script>alert(1)</script>"], [3.0])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_heatmap_outlines_cells_over_the_limit():
    svg = charts.heatmap(
        "On-call load", ["@yuta", "@hana"], ["W1", "W2"], [[1, 3], [0, 2]], unit="pages", limit=2
    )
    assert "@yuta" in svg and "W2" in svg and "pages" in svg
    assert svg.count("stroke: #b3001b") == 1
