"""Charts as inline SVG, drawn server-side with matplotlib: no JavaScript, nothing fetched at run time,
and testable (an SVG is text: a test can read its title, labels and series).

matplotlib is imported on first use (it takes a moment to import) and only its object API is used
(``Figure``, no ``pyplot`` global state), so concurrent requests each draw on their own figure.
Text stays text in the SVG (``svg.fonttype = none``) and matplotlib escapes it as XML, so a
label that came from a person's input cannot inject markup; and it is plain text, never mathtext
(``text.parse_math`` off): a ``$…$`` in an alert name is drawn as written. The SVG's own ``<style>``
element is dropped (the pages' Content-Security-Policy allows none inline; ``app.css`` has its rule).
The helpers take plain numbers: what the numbers mean is the metrics service's business.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from markupsafe import Markup

SEV_COLOURS = {"SEV1": "#b3001b", "SEV2": "#e0451f", "SEV3": "#b7791f", "SEV4": "#2b7a8b"}
PALETTE = ("#2456d6", "#e0451f", "#1f7a4d", "#b7791f", "#6b3fa0", "#2b7a8b", "#b3001b", "#667085")
_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_STYLE = re.compile(r'<style type="text/css">[^<]*</style>')
CACHE_SIZE = 128
F = TypeVar("F", bound=Callable[..., Markup])


def _memo(draw: F) -> F:
    """Drawing costs tens of milliseconds a chart; the same numbers give the same SVG, so keep the
    latest ``CACHE_SIZE`` (keyed by the inputs' repr: strings, numbers, dates, tuples, dicts)."""
    cache: OrderedDict[str, Markup] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(draw)
    def cached(*args: Any, **kwargs: Any) -> Markup:
        key = repr((args, sorted(kwargs.items())))
        with lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        svg = draw(*args, **kwargs)
        with lock:
            cache[key] = svg
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        return svg

    return cached  # type: ignore[return-value]


def _figure(width: float, height: float, **margins: float) -> Any:
    import matplotlib

    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "commandpost",
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "axes.titlesize": 10,
            # every title, label, tick, legend entry and cell value is plain text: mathtext would
            # parse an alert named "Cost $\undefinedmacro{x}$ p99" (and fail: a 500) or draw
            # "Price $5 and $6 off" as "Price 56 off"; nothing here is ever TeX
            "text.parse_math": False,
            "text.usetex": False,
            "axes.formatter.use_mathtext": False,
        }
    )
    from matplotlib.figure import Figure

    # fixed margins: a layout engine (constrained, tight) doubles the drawing time
    fig = Figure(figsize=(width, height), dpi=100)
    fig.subplots_adjust(**{"left": 0.1, "right": 0.97, "bottom": 0.2, "top": 0.86, **margins})
    return fig


def _svg(fig: Any, label: str) -> Markup:
    from matplotlib.text import Text

    for text in fig.findobj(Text):  # the rcParams above decide for texts the drawing adds
        text.set_parse_math(False)
        text.set_usetex(False)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _PROLOG.sub("", buffer.getvalue(), count=1)
    # the page's CSP allows no inline <style> element: app.css holds its one rule (.chart-svg *)
    svg = _STYLE.sub("", svg, count=1)
    svg = svg.replace("<svg ", f'<svg class="chart-svg" role="img" aria-label="{_attr(label)}" ', 1)
    return Markup(svg)  # matplotlib's own output: its text is XML-escaped


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#667085")
    ax.set_xticks([])
    ax.set_yticks([])


@_memo
def lines(
    title: str,
    series: Mapping[str, Sequence[tuple[datetime | date, float | None]]],
    *,
    ylabel: str = "",
    colours: Mapping[str, str] | None = None,
    reference: tuple[float, str] | None = None,
) -> Markup:
    """One line per series over time (MTTx per severity, an error budget burning down)."""
    from matplotlib.dates import DateFormatter

    fig = _figure(6.4, 2.8, bottom=0.24)
    ax = fig.add_subplot()
    ax.set_title(title, loc="left")
    every_x = [x for points in series.values() for x, _y in points]
    drawn = False
    for i, (name, points) in enumerate(series.items()):
        kept = [(x, y) for x, y in points if y is not None]
        if not kept:
            continue
        xs, ys = zip(*kept, strict=True)
        colour = (colours or {}).get(name) or SEV_COLOURS.get(name) or PALETTE[i % len(PALETTE)]
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.6, label=name, color=colour)
        drawn = True
    if reference is not None:
        ax.axhline(reference[0], color="#667085", linestyle="--", linewidth=1, label=reference[1])
    if not drawn:
        _empty(ax, "no data in this period")
    else:
        ax.set_ylabel(ylabel)
        ax.legend(frameon=False, fontsize=7, loc="best")
        ax.grid(axis="y", color="#eceef2")
        if len(set(every_x)) > 1:  # the whole period, even where a series has no value
            ax.set_xlim(min(every_x), max(every_x))
        ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
        fig.autofmt_xdate()
    return _svg(fig, title)


@_memo
def bars(title: str, labels: Sequence[str], values: Sequence[float], *, xlabel: str = "") -> Markup:
    """Horizontal bars, largest first (noisy alerts, toil)."""
    height = max(1.6, 0.32 * len(labels) + 0.9)
    longest = max((len(label) for label in labels), default=0)
    fig = _figure(
        6.4, height, left=min(0.55, 0.04 + 0.0125 * longest), bottom=0.9 / height, top=1 - 0.35 / height
    )
    ax = fig.add_subplot()
    ax.set_title(title, loc="left")
    if not labels:
        _empty(ax, "nothing to show")
        return _svg(fig, title)
    from matplotlib.ticker import MaxNLocator

    order = sorted(range(len(labels)), key=lambda i: values[i])
    ax.barh([labels[i] for i in order], [values[i] for i in order], color=PALETTE[0])
    ax.set_xlabel(xlabel)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="x", color="#eceef2")
    return _svg(fig, title)


@_memo
def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float]],
    *,
    unit: str = "",
    limit: float | None = None,
) -> Markup:
    """A people × weeks grid (on-call load); cells over ``limit`` are outlined in red."""
    height = max(1.8, 0.42 * len(rows) + 1.1)
    fig = _figure(6.8, height, left=0.12, right=0.98, bottom=0.75 / height, top=1 - 0.35 / height)
    ax = fig.add_subplot()
    ax.set_title(title, loc="left")
    if not rows or not columns:
        _empty(ax, "nothing to show")
        return _svg(fig, title)
    top = max((v for row in values for v in row), default=0)
    image = ax.imshow(values, aspect="auto", cmap="Oranges", vmin=0, vmax=max(top, 1))
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.set_xticks(range(len(columns)), labels=list(columns), rotation=45, ha="right")
    for r, row in enumerate(values):
        for c, value in enumerate(row):
            if value:
                ax.text(c, r, f"{value:g}", ha="center", va="center", fontsize=7, color="#1d2330")
            if limit is not None and value > limit:
                ax.add_patch(_outline(c, r))
    fig.colorbar(image, ax=ax, label=unit, shrink=0.8)
    return _svg(fig, title)


def _outline(column: int, row: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="#b3001b", linewidth=1.5)
