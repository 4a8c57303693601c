"""The chart helper writes SVG server-side: titles, series and labels are there, input is escaped,
an error budget's axis stays bounded, and every drawn number is also in the chart's table."""

from __future__ import annotations

import re
from datetime import date, timedelta

from commandpost.web import charts

DAYS = [date(2026, 6, 1) + timedelta(days=k) for k in range(5)]


def test_lines_draw_one_series_per_severity_with_their_colours():
    chart = charts.lines(
        "MTTR per severity",
        {"SEV1": [(date(2026, 6, 1), 42.0), (date(2026, 6, 8), 30.0)], "SEV2": [(date(2026, 6, 1), 90.0)]},
        ylabel="minutes",
    )
    svg = str(chart.svg)
    assert svg.startswith("<svg") and 'role="img"' in svg and 'aria-label="MTTR per severity"' in svg
    assert (
        "<title>MTTR per severity</title>" in svg and "<desc>minutes, Jun 1 to Jun 8; latest: SEV1 30" in svg
    )
    assert ">SEV1</text>" in svg and ">SEV2</text>" in svg and ">minutes</text>" in svg
    assert 'stroke="#b3001b"' in svg  # SEV1 red
    assert chart.table.columns == ("Date", "SEV1", "SEV2")
    assert chart.table.rows == (("Jun 1", "42", "90"), ("Jun 8", "30", "—"))


def test_the_y_axis_starts_at_zero_and_ends_on_a_round_number():
    svg = str(charts.lines("MTTA", {"SEV2": [(DAYS[0], 3.0), (DAYS[1], 17.0)]}).svg)
    ticks = re.findall(r'text-anchor="end"[^>]*>([^<]*)</text>', svg)
    assert ticks[0] == "0" and ticks[-1] == "20", ticks


def test_a_bounded_axis_keeps_to_its_range_and_names_what_falls_off_it():
    """An error budget 612 % overspent: the axis still runs -100 % … 100 %, the point sits on the
    bottom edge as a hollow marker, and a note, the description and the table give the real value."""
    budget = [(DAYS[0], 80.0), (DAYS[1], 10.0), (DAYS[2], -250.0), (DAYS[3], -612.0), (DAYS[4], None)]
    chart = charts.lines(
        "Error budget remaining",
        {"payments/availability": budget, "payments/latency": [(d, 95.0) for d in DAYS]},
        unit=" %",
        bounds=(-100.0, 100.0),
        reference=(0.0, "exhausted"),
    )
    svg = str(chart.svg)
    ticks = re.findall(r'text-anchor="end"[^>]*>([^<]*)</text>', svg)
    assert ticks == ["-100 %", "-50 %", "0 %", "50 %", "100 %"]
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]*" cy="([^"]*)"', svg)]
    bottom = max(float(y) for y in re.findall(r'<line x1="52.0" y1="([^"]*)"', svg))
    assert max(ys) == bottom  # nothing drawn below the axis
    assert svg.count('fill="#fff"') == 2  # -250 and -612: hollow, on the edge
    assert chart.notes == ("▼ payments/availability: down to -612 %",)
    assert "Off the scale: payments/availability: down to -612 %" in svg
    assert ("Jun 4", "-612 %", "95 %") in chart.table.rows and ("Jun 5", "—", "95 %") in chart.table.rows


def test_within_bounds_nothing_is_noted():
    chart = charts.lines("Budget", {"a/b": [(DAYS[0], 50.0), (DAYS[1], -20.0)]}, bounds=(-100.0, 100.0))
    assert chart.notes == () and 'fill="#fff"' not in str(chart.svg)


def test_empty_data_says_so():
    assert "no data in this period" in charts.lines("Burn-down", {"availability": []}).svg
    assert "no data in this period" in charts.lines("Burn-down", {"availability": [(DAYS[0], None)]}).svg
    assert "nothing to show" in charts.bars("Noisy alerts", [], []).svg
    assert "nothing to show" in charts.heatmap("Load", [], [], []).svg


def test_labels_are_escaped():
    chart = charts.bars('Noisy <alerts> & "quotes"', ["<script>alert(1)</script>"], [3.0])
    svg = str(chart.svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="Noisy &lt;alerts&gt; &amp; &#34;quotes&#34;"' in svg
    assert chart.table.rows == (("<script>alert(1)</script>", "3"),)  # the template escapes the table


def test_bars_are_largest_first_with_their_values():
    chart = charts.bars("Noisy", ["quiet", "loud", "middling"], [1.0, 9.0, 4.0], xlabel="firings")
    assert [row[0] for row in chart.table.rows] == ["loud", "middling", "quiet"]
    widths = [
        float(w) for w in re.findall(r'class="bar" x="[^"]*" y="[^"]*" width="([^"]*)"', str(chart.svg))
    ]
    assert widths == sorted(widths, reverse=True) and widths[0] == charts.WIDTH - 52


def test_a_long_label_is_cut_in_the_drawing_but_whole_in_the_table():
    name = "payment-platform/" + "VeryLongAlertName" * 6
    chart = charts.bars("Noisy", [name], [2.0])
    drawn = re.findall(r"<text[^>]*>([^<]*)</text>", str(chart.svg))
    assert any(t.endswith("…") and name.startswith(t[:-1]) for t in drawn)
    assert chart.table.rows[0][0] == name and f"<title>{name}: 2</title>" in chart.svg


def test_heatmap_outlines_cells_over_the_limit():
    chart = charts.heatmap(
        "On-call load", ["@yuta", "@hana"], ["W1", "W2"], [[1, 3], [0, 2]], unit="pages", limit=2
    )
    svg = str(chart.svg)
    assert ">@yuta</text>" in svg and ">W2</text>" in svg and "pages per cell" in svg
    assert svg.count('stroke="#b3001b"') == 1
    assert "Over the limit: @yuta W2 (3)" in svg
    assert chart.table.rows == (("@yuta", "1", "3"), ("@hana", "0", "2"))


def test_numbers_read_as_people_write_them():
    assert [charts.number(v) for v in (None, 0.0, 3.0, 3.25, 42.5, 612.4, -612.4)] == [
        "—",
        "0",
        "3",
        "3.2",
        "42.5",
        "612",
        "-612",
    ]
