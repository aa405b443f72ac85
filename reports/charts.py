"""Inline SVG charts for self-contained HTML reports: no scripts, no network, no fonts.

Every chart has real axes: ticks at round values with their labels, an axis title that
names the quantity and its unit, and one quantity per axis (a chart never shares an axis
between two different measures). Text stays text, so a PDF of the report can be searched
and read aloud, and the same numbers always draw the same bytes.

Hand-built rather than matplotlib's SVG backend: these few chart shapes need ~150 lines,
no 40 MB dependency, no embedded glyph paths or ids that change between versions, and they
take the report's own fonts and colours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

_AXIS = "#57606a"
_GRID = "#d8dee4"
_COLOURS = ["#0969da", "#cf222e", "#1a7f37", "#8250df"]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]``, about ``count`` of them (1, 2, 2.5 or 5 steps).

    Args:
        lo: The smallest value shown.
        hi: The largest value shown.
        count: How many ticks to aim for.

    Returns:
        Ascending ticks; the first is at or below ``lo`` and the last at or above ``hi``.
    """
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks = []
    value = first
    while value < hi + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_text(value: float, as_percent: bool) -> str:
    """A tick's label: ``0.25`` or ``25%``."""
    if as_percent:
        return f"{100 * value:g}%"
    return f"{value:g}"


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    width: int = 560,
    unit: str = "",
    value_label: str = "mean |SHAP value| (log-odds)",
) -> str:
    """Horizontal bars, in the order given, over one value axis with ticks and its title.

    Args:
        items: ``(label, value)`` pairs.
        width: The SVG's width in pixels (it scales down on narrow screens).
        unit: Appended to each bar's value.
        value_label: The value axis's title: the quantity and its unit.

    Returns:
        The ``<svg>`` element, or ``""`` when there is nothing to draw.
    """
    if not items:
        return ""
    ticks = nice_ticks(0.0, max(v for _, v in items) or 1.0)
    top_value = ticks[-1]
    row, label_w, right = 22, 190, 60
    plot_w = width - label_w - right
    bars_h = row * len(items) + 6
    height = bars_h + 44

    def sx(v: float) -> float:
        return label_w + plot_w * v / top_value

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="bar chart: {escape(value_label)}">'
    ]
    for t in ticks:
        x = sx(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{bars_h}" stroke="{_GRID}"></line>'
            f'<line x1="{x:.1f}" y1="{bars_h}" x2="{x:.1f}" y2="{bars_h + 4}" '
            f'stroke="{_AXIS}"></line>'
            f'<text x="{x:.1f}" y="{bars_h + 16}" text-anchor="middle" font-size="11">'
            f"{_tick_text(t, False)}</text>"
        )
    parts.append(
        f'<line x1="{label_w}" y1="{bars_h}" x2="{label_w + plot_w}" y2="{bars_h}" '
        f'stroke="{_AXIS}"></line>'
        f'<line x1="{label_w}" y1="2" x2="{label_w}" y2="{bars_h}" stroke="{_AXIS}"></line>'
    )
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" '
            f'font-size="12">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{sx(value) - label_w:.1f}" '
            f'height="{row - 8}" fill="#54aeff"></rect>'
            f'<text x="{sx(value) + 4:.1f}" y="{y + 15}" font-size="11">'
            f"{value:.3f}{escape(unit)}</text>"
        )
    parts.append(
        f'<text x="{label_w + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'font-size="12">{escape(value_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: dict[str, Sequence[tuple[float, float]]],
    *,
    width: int = 560,
    height: int = 240,
    x_label: str = "",
    y_label: str = "",
    x_percent: bool = False,
    y_percent: bool = False,
    x_ticks: Sequence[tuple[float, str]] = (),
) -> str:
    """Lines of one measure (y) against one quantity (x), with ticked and titled axes.

    Every series shares both axes, so pass only series of the same two quantities (one
    chart per perturbation kind, say, never noise σ and flip fraction on one x axis).

    Args:
        series: Name to ``(x, y)`` points.
        width: The SVG's width in pixels (it scales down on narrow screens).
        height: The SVG's height in pixels.
        x_label: The x axis's title: the quantity and its unit.
        y_label: The y axis's title: the measure and its unit.
        x_percent: Label x ticks as percentages (x holds proportions).
        y_percent: Label y ticks as percentages (y holds proportions).
        x_ticks: For a discrete x (one point per event, say): the ticks as ``(x, label)``,
            with half a step of room at each end; otherwise round ticks from zero.

    Returns:
        The ``<svg>`` element, or ``""`` when there is nothing to draw.
    """
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    if x_ticks:
        at = [x for x, _ in x_ticks]
        xs, x_labels = [min(at) - 0.5, max(at) + 0.5], dict(x_ticks)
    else:
        xs = nice_ticks(min(0.0, min(x for x, _ in points)), max(x for x, _ in points))
        x_labels = {t: _tick_text(t, x_percent) for t in xs}
    ys = nice_ticks(min(y for _, y in points), max(y for _, y in points))
    legend = len(series) > 1
    left, right, top, bottom = 72, (130 if legend else 20), 12, 46
    plot_w, plot_h = width - left - right, height - top - bottom

    def scale(lo: float, hi: float, size: float) -> Callable[[float], float]:
        span = (hi - lo) or 1.0
        return lambda v: size * (v - lo) / span

    fx, fy = scale(xs[0], xs[-1], plot_w), scale(ys[0], ys[-1], plot_h)

    def sx(x: float) -> float:
        return left + fx(x)

    def sy(y: float) -> float:
        return top + plot_h - fy(y)

    base = top + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="line chart: {escape(y_label)} against {escape(x_label)}">'
    ]
    for t, label in x_labels.items():
        x = sx(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" stroke="{_GRID}"></line>'
            f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="{_AXIS}"></line>'
            f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    for t in ys:
        y = sy(t)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{_GRID}"></line>'
            f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="{_AXIS}"></line>'
            f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{_tick_text(t, y_percent)}</text>"
        )
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}" stroke="{_AXIS}"></line>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="{_AXIS}"></line>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
        f'font-size="12">{escape(x_label)}</text>'
        f'<text x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">{escape(y_label)}</text>'
    )
    for i, (name, pts) in enumerate(series.items()):
        colour = _COLOURS[i % len(_COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"></polyline>'
        )
        parts.extend(
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"></circle>'
            for x, y in pts
        )
        if legend:
            parts.append(
                f'<text x="{left + plot_w + 8}" y="{top + 14 + 16 * i}" font-size="12" '
                f'fill="{colour}">{escape(name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


ROBUSTNESS_AXES = {
    "Gaussian noise": ("noise σ added to each numeric input, in standard deviations", False),
    "category flips": ("share of categorical values flipped to another category", True),
}
"""Each perturbation kind's x axis: its title (quantity and unit) and whether it is a share."""


def robustness_axis(kind: str) -> tuple[str, bool]:
    """The x axis title and percent flag for one perturbation kind of the robustness section.

    Args:
        kind: The perturbation's name as the evidence records it.

    Returns:
        ``(title, as_percent)``; an unknown kind is titled by its name.
    """
    return ROBUSTNESS_AXES.get(kind, (f"{kind} strength", False))
