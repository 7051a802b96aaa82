"""Pictures for the HTML reports: a `Figure`'s numbers (or a class's scores) drawn with
matplotlib's Agg backend into a PNG, embedded as a `data:` URI so that a page needs no
other file and no network.

matplotlib is imported on the first picture only (a class where everyone passes draws
none), and no pyplot state is used: each picture is its own `matplotlib.figure.Figure`.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any, Sequence

from autograder.judge.result import Figure

WIDTH, HEIGHT, DPI = 5.0, 2.6, 80  # inches, dots per inch: a 400 × 208 px picture
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
PASS, MISS = "#2e7d32", "#c62828"


@dataclass(frozen=True)
class Picture:
    """A drawn figure: the `data:` URI of its PNG, its title (the page's caption: the picture
    itself has none, so the text wraps with the page) and a sentence saying what it shows."""

    uri: str
    title: str
    alt: str


def _canvas() -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(WIDTH, HEIGHT), dpi=DPI)  # fixed margins: a layout engine costs a draw
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.2, top=0.95)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _nan(values: Sequence[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _positive(values: Sequence[float]) -> bool:
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0


def _log_y(ax: Any) -> None:
    """A log scale labelled `1e-08` (matplotlib's default `$10^{-8}$` is typeset by mathtext:
    a third of a picture's time)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    axis = ax.yaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}"))
    axis.set_minor_formatter(NullFormatter())


def _lines(ax: Any, figure: Figure) -> None:
    every: list[float] = []
    for colour, (label, values) in zip(COLOURS, figure.series.items()):
        ys = _nan(values)
        every += ys
        ax.plot(range(figure.x0, figure.x0 + len(ys)), ys, label=label, color=colour, linewidth=1.6)
    if figure.threshold is not None:
        ax.axhline(figure.threshold, color="black", linestyle="--", linewidth=1, label=f"required {figure.threshold:g}")
    if figure.log and _positive(every):
        _log_y(ax)
    ax.legend(fontsize=7, framealpha=0.85)


def _bars(ax: Any, figure: Figure) -> None:
    from matplotlib.ticker import MaxNLocator

    label, values = next(iter(figure.series.items()))
    ys = _nan(values)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.bar(range(len(ys)), [0.0 if math.isnan(v) else v for v in ys], color=COLOURS[0], width=0.85, label=label)
    if figure.threshold is not None:
        ax.axhline(figure.threshold, color="black", linestyle="--", linewidth=1, label=f"tolerance {figure.threshold:g}")
    spread = [v for v in ys if math.isfinite(v) and v > 0]
    if figure.log or (spread and max(spread) / min(spread) > 1e3):
        _log_y(ax)
    ax.legend(fontsize=7, framealpha=0.85)


def _heatmap(ax: Any, figure: Figure) -> None:
    label, rows = next(iter(figure.series.items()))
    grid = [_nan(row) for row in rows]
    from matplotlib.ticker import MaxNLocator

    ax.figure.subplots_adjust(right=0.86)  # room for the colour bar's labels
    image = ax.imshow(grid, cmap="magma", aspect="auto", interpolation="nearest")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.figure.colorbar(image, ax=ax, label=label, fraction=0.05, pad=0.02)


def _threshold(ax: Any, figure: Figure) -> None:
    labels = list(figure.series)
    values = [0.0 if v is None else float(v) for v in figure.series.values()]
    required = figure.threshold
    colours = [PASS if required is None or v >= required else MISS for v in values]
    ax.barh(labels, values, color=colours, height=0.5)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=9)
    top = max([1.0, *values, *([required] if required is not None else [])])
    ax.set_xlim(0, top * 1.08)
    if required is not None:
        ax.axvline(required, color="black", linestyle="--", linewidth=1.2)
        ax.text(required, 1.01, f"required {required:.2f}", transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8)
    ax.invert_yaxis()
    ax.figure.set_size_inches(WIDTH, 1.2 + 0.4 * len(values))
    ax.figure.subplots_adjust(bottom=0.3, top=0.8)


DRAW = {"lines": _lines, "bars": _bars, "heatmap": _heatmap, "threshold": _threshold}


def describe(figure: Figure) -> str:
    """What the picture shows, in one sentence (its alt text)."""
    if figure.kind == "threshold":
        parts = ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} not a number" for k, v in figure.series.items())
        return f"{figure.title}: {parts}" + (f" (required {figure.threshold:.2f})" if figure.threshold is not None else "")
    if figure.kind == "heatmap":
        rows = next(iter(figure.series.values()), [])
        return f"{figure.title}: a {len(rows)} × {len(rows[0]) if rows else 0} heat map"
    lengths = ", ".join(f"{k} ({len(v)} values)" for k, v in figure.series.items())
    return f"{figure.title}: {lengths}"


def draw(figure: Figure) -> Picture:
    """The picture of one attached figure."""
    fig, ax = _canvas()
    DRAW[figure.kind](ax, figure)
    ax.set_xlabel(figure.xlabel, fontsize=8)
    ax.set_ylabel(figure.ylabel, fontsize=8)
    ax.tick_params(labelsize=8)
    return Picture(_png(fig), figure.title, describe(figure))


def score_histogram(scores: Sequence[float], max_score: float, title: str) -> Picture:
    """How many students reached each score (bins of one point, or 20 bins over the range)."""
    fig, ax = _canvas()
    top = max(max_score, *scores) if scores else max_score
    bins = int(top) + 1 if top <= 30 and float(top).is_integer() else 20
    edges = [i * (top / (bins - 1 if bins > 1 else 1)) for i in range(bins)]
    width = (edges[1] - edges[0]) if len(edges) > 1 else 1.0
    counts = [0] * len(edges)
    for s in scores:
        counts[min(len(edges) - 1, round(s / width))] += 1
    ax.bar(edges, counts, width=width * 0.85, color=COLOURS[0])
    ax.set_xlabel("score", fontsize=8)
    ax.set_ylabel("students", fontsize=8)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(labelsize=8)
    alt = f"{title}: " + ", ".join(f"{c} at {e:g}" for e, c in zip(edges, counts) if c)
    return Picture(_png(fig), title, alt)
