"""Charts as inline SVG written here, plus the same numbers as a table: no JavaScript, no plotting
library, nothing fetched at run time.

Three simple shapes (lines over time, horizontal bars, a people × weeks grid) need only rectangles,
polylines and text, so the markup is built with ``Markup.format``, which escapes every label (a name
that came from a person's input is text, never markup) and leaves no ``$…$`` or TeX to interpret.
matplotlib drew the same three charts before: importing it cost ~0.6 s on first load and it was
half the install (docs/performance.md). Colours are presentation attributes, not ``style``.

Each chart is ``Chart(svg, table)``: the SVG is ``role="img"`` with the chart's title as its
``aria-label`` and a one-line ``<desc>``; ``table`` holds every drawn number, for the page's
"as a table" view (screen readers, copying). Text sizes are in the SVG's user units; the SVG's
natural width is ``WIDTH`` px and it shrinks to fit a phone (``max-width: 100%`` in app.css),
so ``FONT`` stays at least ~11 px on a 390 px screen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from markupsafe import Markup

SEV_COLOURS = {"SEV1": "#b3001b", "SEV2": "#e0451f", "SEV3": "#b7791f", "SEV4": "#2b7a8b"}
PALETTE = ("#2456d6", "#e0451f", "#1f7a4d", "#b7791f", "#6b3fa0", "#2b7a8b", "#b3001b", "#667085")
INK, MUTED, GRID, ALARM = "#1d2330", "#475467", "#e4e7ec", "#b3001b"
WIDTH = 400
FONT = 14
SMALL = 13
CHAR = 0.58  # average glyph width of the sans-serif face, in ems: enough to lay out a legend


@dataclass(frozen=True)
class Table:
    """A chart's numbers as text: a caption, column headings, and rows of formatted cells."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    svg: Markup
    table: Table
    notes: tuple[str, ...] = field(default=())  # what is off the scale, as drawn under the chart


def number(value: float | None, unit: str = "") -> str:
    """A value as a person reads it: ``42``, ``3.5``, ``-612``; ``—`` for no value."""
    if value is None:
        return "—"
    text = f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.1f}"
    return f"{text}{unit}"


def _svg(title: str, desc: str, height: float, body: Sequence[Markup]) -> Markup:
    return Markup(
        '<svg class="chart-svg" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" '
        'width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="{f}" '
        'fill="{ink}"><title>{t}</title><desc>{d}</desc>{body}</svg>'
    ).format(t=title, d=desc, w=WIDTH, h=f"{height:g}", f=FONT, ink=INK, body=Markup("").join(body))


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", size: int = SMALL, colour: str = MUTED
) -> Markup:
    return Markup('<text x="{x}" y="{y}" text-anchor="{a}" font-size="{s}" fill="{c}">{t}</text>').format(
        x=f"{x:.1f}", y=f"{y:.1f}", a=anchor, s=size, c=colour, t=text
    )


def _empty(title: str, message: str) -> Chart:
    body = [_text(WIDTH / 2, 40, message, anchor="middle", size=FONT)]
    return Chart(_svg(title, message, 64, body), Table(title, (), ()))


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round steps (1, 2, 2.5, 5 × 10ⁿ) covering [low, high]."""
    span = (high - low) or 1.0
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(math.ceil((high - first) / step) + 1)]


def _every(count: int, room: float, label_width: float) -> int:
    """Label every n-th of ``count`` evenly spaced positions so the labels do not overlap."""
    fits = max(1, int(room // label_width))
    return max(1, math.ceil(count / fits))


def _day(x: date | datetime) -> str:
    return f"{x:%b} {x.day}"


def lines(
    title: str,
    series: Mapping[str, Sequence[tuple[datetime | date, float | None]]],
    *,
    ylabel: str = "",
    unit: str = "",
    bounds: tuple[float, float] | None = None,
    reference: tuple[float, str] | None = None,
) -> Chart:
    """One line per series over time (MTTx per severity, error budgets). With ``bounds`` the y axis
    is fixed to that range: a value beyond it is drawn on the edge as a hollow marker and named in
    ``notes`` (an error budget can be 600 % overspent; the axis still shows −100 %…100 %)."""
    xs = sorted({x for points in series.values() for x, _y in points})
    values = [y for points in series.values() for _x, y in points if y is not None]
    if not xs or not values:
        return _empty(title, "no data in this period")
    low, high = bounds if bounds else (min(0.0, *values), max(values))
    grid = _ticks(low, high)
    low, high = (low, high) if bounds else (grid[0], grid[-1])
    names = list(series)
    colours = {n: SEV_COLOURS.get(n) or PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    notes = [_off_scale(n, series[n], low, high, unit) for n in names] if bounds else []
    notes = [note for note in notes if note]
    rows = _legend_rows([*names, *([reference[1]] if reference else [])])
    left, right, top = 52.0, WIDTH - 14.0, 30.0
    bottom = top + 170.0
    index = {x: i for i, x in enumerate(xs)}

    def px(x: datetime | date) -> float:
        return left + (right - left) * (index[x] / (len(xs) - 1) if len(xs) > 1 else 0.5)

    def py(y: float) -> float:
        return bottom - (bottom - top) * (min(max(y, low), high) - low) / ((high - low) or 1.0)

    body: list[Markup] = [_text(4, 16, ylabel)] if ylabel else []
    for tick in grid:
        if low <= tick <= high:
            body.append(_line(left, py(tick), right, py(tick), GRID))
            body.append(_text(left - 6, py(tick) + 4, number(tick, unit), anchor="end"))
    step = _every(len(xs), right - left, 64)
    for i, x in enumerate(xs):
        if (len(xs) - 1 - i) % step == 0:  # the latest always has its label, ending at the edge
            at = px(x) + min(0.0, WIDTH - 2 - px(x) - _width(_day(x)) / 2)
            body.append(_text(at, bottom + 18, _day(x), anchor="middle"))
    if reference is not None and low <= reference[0] <= high:
        body.append(_line(left, py(reference[0]), right, py(reference[0]), MUTED, dash=True))
    for name in names:
        for run in _runs(series[name]):
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            body.append(
                Markup('<polyline points="{p}" fill="none" stroke="{c}" stroke-width="2.2"/>').format(
                    p=coords, c=colours[name]
                )
            )
        for x, y in series[name]:
            if y is not None:
                body.append(_marker(px(x), py(y), colours[name], hollow=not low <= y <= high))
    body.append(_line(left, bottom, right, bottom, MUTED))
    y = bottom + 40
    for note in notes:
        body.append(_text(4, y, _fit(note, WIDTH - 8), colour=ALARM))
        y += 18
    y += 4
    for row in rows:
        at = 4.0
        for name in row:
            colour = colours.get(name, MUTED)
            body.append(_line(at, y - 5, at + 18, y - 5, colour, dash=name not in colours, width=3))
            body.append(_text(at + 24, y, _fit(name, WIDTH - at - 28), colour=INK))
            at += 24 + _width(name) + 18
        y += 22
    height = y
    latest = [f"{n} {number(_last(series[n]), unit)}" for n in names if _last(series[n]) is not None]
    desc = f"{ylabel}, {_day(xs[0])} to {_day(xs[-1])}; latest: " + ", ".join(latest)
    desc += "".join(f". Off the scale: {note[2:]}" for note in notes)
    table = Table(
        f"{title}, {ylabel}" if ylabel else title,
        ("Date", *names),
        tuple((_day(x), *(number(dict(series[n]).get(x), unit) for n in names)) for x in xs),
    )
    return Chart(_svg(title, desc, height, body), table, tuple(notes))


def _off_scale(
    name: str, points: Sequence[tuple[datetime | date, float | None]], low: float, high: float, unit: str
) -> str:
    """``"▼ name: down to -612 %"`` when a value falls below ``low`` (``▲ … up to`` above ``high``)."""
    beyond = [y for _x, y in points if y is not None and not low <= y <= high]
    if not beyond:
        return ""
    if min(beyond) < low:
        return f"▼ {name}: down to {number(min(beyond), unit)}"
    return f"▲ {name}: up to {number(max(beyond), unit)}"


def _marker(x: float, y: float, colour: str, *, hollow: bool) -> Markup:
    """A point; hollow and larger when the value is off the scale and drawn on its edge."""
    return Markup('<circle cx="{x}" cy="{y}" r="{r}" fill="{f}" stroke="{c}" stroke-width="2"/>').format(
        x=f"{x:.1f}", y=f"{y:.1f}", r=4.5 if hollow else 2.6, f="#fff" if hollow else colour, c=colour
    )


def _runs(
    points: Sequence[tuple[datetime | date, float | None]],
) -> list[list[tuple[datetime | date, float]]]:
    """Consecutive points with a value (a gap with no data breaks the line)."""
    runs: list[list[tuple[datetime | date, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if len(run) > 1]


def _last(points: Sequence[tuple[datetime | date, float | None]]) -> float | None:
    return next((y for _x, y in reversed(points) if y is not None), None)


def _width(text: str, size: int = SMALL) -> float:
    return len(text) * size * CHAR


def _fit(text: str, room: float, size: int = SMALL) -> str:
    """``text`` cut with an ellipsis to about ``room`` units (the whole text is in the table)."""
    most = max(4, int(room / (size * CHAR) + 1e-6))
    return text if len(text) <= most else text[: most - 1] + "…"


def _legend_rows(names: Sequence[str]) -> list[list[str]]:
    rows: list[list[str]] = [[]]
    used = 4.0
    for name in names:
        need = 24 + _width(name) + 18
        if rows[-1] and used + need > WIDTH:
            rows.append([])
            used = 4.0
        rows[-1].append(name)
        used += need
    return rows


def _line(
    x1: float, y1: float, x2: float, y2: float, colour: str, *, dash: bool = False, width: float = 1
) -> Markup:
    return Markup('<line x1="{a}" y1="{b}" x2="{c}" y2="{d}" stroke="{s}" stroke-width="{w}"{dash}/>').format(
        a=f"{x1:.1f}",
        b=f"{y1:.1f}",
        c=f"{x2:.1f}",
        d=f"{y2:.1f}",
        s=colour,
        w=width,
        dash=Markup(' stroke-dasharray="5 4"') if dash else Markup(""),
    )


def bars(title: str, labels: Sequence[str], values: Sequence[float], *, xlabel: str = "") -> Chart:
    """Horizontal bars, largest first, each label on its own line above its bar (long alert names
    stay whole on a phone)."""
    if not labels:
        return _empty(title, "nothing to show")
    order = sorted(range(len(labels)), key=lambda i: -values[i])
    top = max(max(values), 1.0)
    left, right = 4.0, WIDTH - 48.0
    body: list[Markup] = []
    y = 4.0
    for i in order:
        body.append(_text(left, y + 14, _fit(labels[i], WIDTH - 8, FONT), colour=INK, size=FONT))
        length = (right - left) * values[i] / top
        body.append(
            Markup(
                '<rect class="bar" x="{x}" y="{y}" width="{w}" height="14" fill="{c}">'
                "<title>{t}</title></rect>"
            ).format(
                x=f"{left:.1f}",
                y=f"{y + 20:.1f}",
                w=f"{max(length, 1.5):.1f}",
                c=PALETTE[0],
                t=f"{labels[i]}: {number(values[i])}",
            )
        )
        body.append(_text(left + max(length, 1.5) + 6, y + 32, number(values[i]), colour=INK))
        y += 44
    if xlabel:
        body.append(_text(left, y + 12, xlabel))
        y += 20
    desc = f"{xlabel}: " + ", ".join(f"{labels[i]} {number(values[i])}" for i in order)
    table = Table(title, ("Name", xlabel or "Value"), tuple((labels[i], number(values[i])) for i in order))
    return Chart(_svg(title, desc, y + 4, body), table)


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    unit: str = "",
    limit: float | None = None,
) -> Chart:
    """A people × periods grid (on-call load): darker is more; a cell over ``limit`` has a red outline
    and its number in bold."""
    if not rows or not columns:
        return _empty(title, "nothing to show")
    left = min(150.0, 12 + max(_width(r) for r in rows))
    top, cell_h = 8.0, 30.0
    cell_w = (WIDTH - left - 4) / len(columns)
    peak = max((v for row in values for v in row), default=0) or 1.0
    body: list[Markup] = []
    for r, name in enumerate(rows):
        y = top + r * cell_h
        body.append(_text(left - 8, y + 20, _fit(name, left - 12), anchor="end", colour=INK))
        for c, value in enumerate(values[r]):
            x = left + c * cell_w
            share = value / peak
            over = limit is not None and value > limit
            body.append(
                Markup(
                    '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{f}" stroke="{s}" '
                    'stroke-width="{sw}"><title>{t}</title></rect>'
                ).format(
                    x=f"{x + 1:.1f}",
                    y=f"{y + 1:.1f}",
                    w=f"{cell_w - 2:.1f}",
                    h=cell_h - 2,
                    f=_orange(share),
                    s=ALARM if over else "none",
                    sw=3 if over else 0,
                    t=f"{name}, {columns[c]}: {number(value)} {unit}",
                )
            )
            if value:
                body.append(
                    _text(
                        x + cell_w / 2,
                        y + 20,
                        number(value),
                        anchor="middle",
                        colour="#fff" if share > 0.55 else INK,
                    )
                )
    y = top + len(rows) * cell_h
    step = _every(len(columns), WIDTH - left, 50)
    for c, label in enumerate(columns):
        if (len(columns) - 1 - c) % step == 0:
            body.append(_text(left + (c + 0.5) * cell_w, y + 18, label, anchor="middle"))
    key = f"{unit} per cell; darker is more" + (
        f"; red outline: over {number(limit)}" if limit is not None else ""
    )
    body.append(_text(4, y + 42, key))
    over_cells = [
        f"{rows[r]} {columns[c]} ({number(v)})"
        for r in range(len(rows))
        for c, v in enumerate(values[r])
        if limit is not None and v > limit
    ]
    desc = key + (". Over the limit: " + ", ".join(over_cells) if over_cells else ". None over the limit")
    table = Table(
        title,
        ("Person", *columns),
        tuple((name, *(number(v) for v in values[r])) for r, name in enumerate(rows)),
    )
    return Chart(_svg(title, desc, y + 52, body), table)


def _orange(share: float) -> str:
    """White to dark orange as ``share`` goes from 0 to 1."""
    light, dark = (255, 247, 236), (166, 54, 3)
    r, g, b = (round(a + (b - a) * share) for a, b in zip(light, dark, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"
