"""Humane formatting and charts: what a reader sees instead of the data structures core
hands the templates, and charts with real axes (one quantity per axis)."""

from __future__ import annotations

import re

import pytest

from reports.charts import bar_chart, line_chart, nice_ticks, robustness_axis
from reports.formatting import (
    check_name,
    figure,
    figure_name,
    file_format,
    humane,
    metric_name,
    percent,
    signed,
    threshold,
    when,
)
from reports.render import render_pair


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("roc_auc", "ROC AUC"),
        ("log_loss", "log loss"),
        ("f1", "F1 score"),
        ("test_rows", "test rows"),
    ],
)
def test_metric_code_names_read_as_words(code: str, words: str) -> None:
    assert metric_name(code) == words


def test_thresholds_read_as_bounds_in_words() -> None:
    assert threshold({"max": 0.25}, True) == "at most 25%"
    assert threshold("{'max': 0.25}", True) == "at most 25%"  # as core stringified it
    assert threshold("{'min': 0.8}") == "at least 0.8"
    assert threshold({"max": 0.05, "warn_above": 0.02}) == "at most 0.05, warns above 0.02"
    assert threshold("{'max': []}") == "none"
    assert threshold({"min": 30, "min_measured_groups": 2}) == (
        "at least 30, at least 2 measured groups"
    )


def test_proportions_read_as_percentages() -> None:
    assert percent("0.203") == "20.3%" and percent(0.6) == "60.0%"
    assert percent("[0.059, 0.412]") == "[5.9%, 41.2%]"
    assert percent(0.25, trim=True) == "25%"


@pytest.mark.parametrize("odd", ["n/a", "", "{not a dict", "[1, 2", None, True, {"a": object}])
def test_odd_input_is_shown_never_raised(odd: object) -> None:
    assert isinstance(percent(odd), str)
    assert isinstance(threshold(odd), str)
    assert isinstance(humane(odd), str)
    assert isinstance(file_format(odd), str)


def test_raw_structures_read_as_prose() -> None:
    code = '{"git": {"commit": "2dff303a", "dirty": false}, "transforms": ["84d58cf0"]}'
    assert humane(code) == "git: (commit: 2dff303a, dirty: no), transforms: 84d58cf0"
    assert humane("[]") == "none" and humane(None) == "—"
    dialect = {
        "delimiter": " ",
        "encoding": "utf-8",
        "format": "csv",
        "header": False,
        "quote": '"',
    }
    assert file_format(dialect) == 'CSV, space-delimited, UTF-8, no header row, quoted with "'


def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert nice_ticks(0, 0.5) == [0, 0.2, 0.4, 0.6]
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1]
    ticks = nice_ticks(0.71, 0.795)
    assert ticks[0] <= 0.71 and ticks[-1] >= 0.795 and len(ticks) <= 7
    assert nice_ticks(3, 3)[0] < 3 < nice_ticks(3, 3)[-1]  # a flat line still gets an axis


def test_a_line_chart_has_ticks_axis_titles_and_percent_ticks_when_asked() -> None:
    svg = line_chart(
        {"category flips": [(0, 0.795), (0.05, 0.778), (0.2, 0.71)]},
        x_label="share flipped",
        y_label="ROC AUC",
        x_percent=True,
    )
    labels = re.findall(r">([^<>]+)</text>", svg)
    assert "share flipped" in labels and "ROC AUC" in labels
    assert {"0%", "5%", "10%", "15%", "20%"} <= set(labels)  # x ticks, as percentages
    assert "0.8" in labels  # y ticks at round values
    assert 'transform="rotate(-90' in svg  # the y title stands along its axis
    assert line_chart({}) == ""


def test_a_bar_chart_titles_its_value_axis() -> None:
    svg = bar_chart([("savings", 0.43), ("housing", 0.24)], value_label="mean |SHAP| (log-odds)")
    labels = re.findall(r">([^<>]+)</text>", svg)
    assert "mean |SHAP| (log-odds)" in labels and "0.2" in labels and "savings" in labels


def test_robustness_puts_noise_and_flips_on_separate_charts() -> None:
    assert robustness_axis("Gaussian noise")[1] is False
    assert robustness_axis("category flips")[1] is True
    assert robustness_axis("new kind") == ("new kind strength", False)


def test_the_html_has_no_literal_backticks_and_repeats_table_headers() -> None:
    from reports.contexts import ImpactContext

    ctx = ImpactContext(
        ref="demo@1",
        as_of="as of event #7",
        level="II",
        level_reasons=["run `ledgerml evaluate` first"],
        sections=[("Purpose", "Art. 27", "scoring")],
        evidence=[("status", "trusted")],
        unanswered=[],
    )
    markdown, html = render_pair("impact", ctx)
    assert "`ledgerml evaluate`" in markdown
    assert "<code>ledgerml evaluate</code>" in html and "`" not in html


def test_a_bound_written_as_text_reads_in_words() -> None:
    """Monitoring records an objective's bound as text (``<= 0.25``): it reads as words."""
    assert threshold("<= 0.25") == "at most 0.25"
    assert threshold(">= 0.65", True) == "at least 65%"
    assert threshold("max 0.25") == "at most 0.25"
    assert threshold("< 1000") == "below 1000"
    assert threshold("<= lots") == "<= lots"  # not a number: shown as it is


def test_monitoring_figures_read_with_their_kind() -> None:
    assert figure(0.545879, "drift_psi") == "0.546 (a major shift)"
    assert figure(0.15, "prediction_psi") == "0.150 (a moderate shift)"
    assert figure(0.05, "drift_psi") == "0.050 (stable)"
    assert figure(0.0975, "skew_rate") == "9.8%" and figure(394.0, "decisions") == "394"
    assert figure(12.4, "latency_p99_ms") == "12 ms" and figure(None, "accuracy") == "not measured"
    assert figure_name("drift_psi") == "largest input drift (PSI)"
    assert figure_name("roc_auc") == "ROC AUC"  # not a monitoring figure: a metric's name
    assert check_name("drift:duration_months") == "input drift of duration_months"
    assert check_name("slo:stable-inputs") == "objective stable-inputs"
    assert check_name("skew") == "training-serving skew"


def test_times_and_contributions_read_as_people_write_them() -> None:
    assert when("2026-12-03T14:37:58.344100Z") == "2026-12-03 14:37 UTC"
    assert when("2026-12-03T14:37:58Z", seconds=True) == "2026-12-03 14:37:58 UTC"
    assert when("") == "—" and when("2026-12-03") == "2026-12-03"
    assert signed(0.8114) == "+0.81" and signed(-0.786) == "−0.79" and signed("x") == "x"


def test_discrete_x_ticks_are_the_labels_given() -> None:
    svg = line_chart(
        {"PSI": [(1.0, 0.08), (2.0, 0.55)]},
        x_label="monitoring run (its event number)",
        y_label="PSI",
        x_ticks=[(1.0, "#23"), (2.0, "#25")],
    )
    labels = re.findall(r'<text[^>]*text-anchor="middle" font-size="11">([^<]*)</text>', svg)
    assert labels == ["#23", "#25"]  # one tick per run, no fractional window numbers


def test_a_checks_figures_read_the_same_in_every_report() -> None:
    from reports.formatting import check_observed, check_threshold

    name = "demographic parity difference (sex × age_group)"
    assert check_observed(0.166, name, [0.059, 0.412]) == "16.6% (95% CI [5.9%, 41.2%])"
    assert check_threshold({"max": 0.25}, name) == "at most 25%"
    assert check_observed(0.793, "disparate impact", [0.518, 0.93]) == (
        "0.793 (95% CI [0.518, 0.930])"
    )
    assert check_observed(0, "probes that crashed") == "0"
    # a count or a summary of figures carries no interval, whatever was recorded beside it
    summary = {"measured_groups": 4, "smallest": 22}
    assert check_observed(summary, "group sizes", [0.4, 0.8]) == "measured groups: 4, smallest: 22"
    assert check_threshold({"min": 30, "min_measured_groups": 2}, "group sizes") == (
        "at least 30, at least 2 measured groups"
    )
