"""Plots with axes: robustness curves, SHAP importances, input drift over time.

Why textual-plotext: Textual's own Sparkline draws one row of bars with no axis, no ticks
and no label, so a reader cannot tell 0.79 from 0.70 or which way is worse; the issue's
complaint about text-only bars stands against it. textual-plotext wraps plotext, which
draws in the terminal's cells with numbered axes, tick labels, axis titles and a legend,
offline and in pure Python, and follows the app's theme. Each chart shows one quantity per
axis, named with its unit, and the data it was given is kept on the widget (``series``)
so tests check what is plotted, not pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual_plotext import PlotextPlot


@dataclass(frozen=True)
class Line:
    """One labelled line (or the bars) of a chart."""

    label: str
    x: list[float]
    y: list[float]


@dataclass(frozen=True)
class Series:
    """What a chart shows: its title, its two axes' quantities and its lines or bars."""

    title: str
    xlabel: str
    ylabel: str
    lines: list[Line] = field(default_factory=list)
    bars: list[tuple[str, float]] = field(default_factory=list)
    """Horizontal bars, label and length (for importances): drawn instead of lines."""
    xticks: list[tuple[float, str]] = field(default_factory=list)
    """Tick positions and their labels on the x axis (empty: plotext's own numbers)."""


class Chart(PlotextPlot):
    """A plotext chart that keeps the series it draws."""

    DEFAULT_CSS = "Chart { height: 12; width: 1fr; margin-top: 1; }"

    series: Series | None = None

    def show(self, series: Series | None) -> None:
        """Draw ``series`` (or hide the chart when there is nothing to draw)."""
        self.series = series
        self.display = series is not None
        plt = self.plt
        plt.clear_figure()
        if series is None:
            return
        plt.title(series.title)
        plt.xlabel(series.xlabel)
        plt.ylabel(series.ylabel)
        if series.bars:
            labels = [label for label, _ in series.bars]
            plt.bar(labels, [v for _, v in series.bars], orientation="horizontal", width=0.3)
        for line in series.lines:
            plt.plot(line.x, line.y, label=line.label, marker="braille")
            plt.scatter(line.x, line.y, marker="dot")
        if series.xticks:
            plt.xticks([x for x, _ in series.xticks], [t for _, t in series.xticks])
        self.refresh()
