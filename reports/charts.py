"""Inline SVG charts for self-contained HTML reports: no scripts, no network, no fonts."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def bar_chart(items: Sequence[tuple[str, float]], *, width: int = 560, unit: str = "") -> str:
    """Horizontal bars, largest first as given."""
    if not items:
        return ""
    top = max(v for _, v in items) or 1.0
    row, label_w = 22, 190
    height = row * len(items) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="bar chart">'
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        bar = (width - label_w - 70) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" '
            f'font-size="12">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar:.1f}" height="{row - 8}" '
            'fill="#54aeff"></rect>'
        )
        parts.append(
            f'<text x="{label_w + bar + 4:.1f}" y="{y + 15}" font-size="11">'
            f"{value:.3f}{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: dict[str, Sequence[tuple[float, float]]],
    *,
    width: int = 560,
    height: int = 220,
    x_label: str = "",
    y_label: str = "",
) -> str:
    """Lines over a shared x axis scaled to [0, max x] and [min y, max y]."""
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    x_max = max(x for x, _ in points) or 1.0
    y_min, y_max = min(y for _, y in points), max(y for _, y in points)
    span = (y_max - y_min) or 1.0
    left, right, top, bottom = 50, 120, 10, 30

    def sx(x: float) -> float:
        return left + (width - left - right) * x / x_max

    def sy(y: float) -> float:
        return top + (height - top - bottom) * (1 - (y - y_min) / span)

    colours = ["#0969da", "#cf222e", "#1a7f37", "#8250df"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="line chart">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" '
        f'y2="{height - bottom}" stroke="#57606a"></line>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#57606a"></line>',
        f'<text x="{left}" y="{height - 8}" font-size="11">{escape(x_label)} 0 … {x_max:g}</text>',
        f'<text x="4" y="{top + 10}" font-size="11">{y_max:.3f}</text>',
        f'<text x="4" y="{height - bottom}" font-size="11">{y_min:.3f}</text>',
    ]
    for i, (name, pts) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"></polyline>'
        )
        parts.append(
            f'<text x="{width - right + 6}" y="{top + 14 + 16 * i}" font-size="12" '
            f'fill="{colour}">{escape(name)}</text>'
        )
    if y_label:
        parts.append(f'<text x="{left + 4}" y="{top + 12}" font-size="11">{escape(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
