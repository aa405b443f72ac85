"""The one table of words for the domain's code names, read by monitoring and by reports."""

from __future__ import annotations

from core.evidence import vocabulary
from reports import formatting


def test_reports_say_names_with_the_domains_own_table() -> None:
    assert formatting.metric_name is vocabulary.metric_name
    assert formatting.figure_name("drift_psi") == "largest input drift (PSI)"
    assert vocabulary.metric_name("roc_auc") == "ROC AUC"
    assert vocabulary.metric_name("some_new_metric") == "some new metric"


def test_a_breach_reads_in_words_with_proportions_as_percentages() -> None:
    assert vocabulary.breach_in_words("drift_psi", 0.545879, "<= 0.25") == (
        "largest input drift (PSI) 0.546 above the objective of at most 0.25"
    )
    assert vocabulary.breach_in_words("error_rate", 0.031, "<= 0.02") == (
        "error rate 3.1% above the objective of at most 2%"
    )
    assert vocabulary.breach_in_words("decisions", 0, ">= 1") == (
        "decisions answered 0 below the objective of at least 1"
    )
    assert vocabulary.bound_in_words("~ 3") == "~ 3"  # not a bound: shown as it is


def test_a_throttle_share_reads_as_a_share_of_traffic() -> None:
    assert vocabulary.share_in_words(0.5) == "50% of traffic"
    assert vocabulary.share_in_words(0.125) == "12.5% of traffic"
    assert vocabulary.share_in_words("half") == "half"


def test_a_count_takes_its_noun_in_the_right_number() -> None:
    assert vocabulary.plural(1, "point") == "1 point"
    assert vocabulary.plural(3, "point") == "3 points"
    assert vocabulary.plural(0, "incident") == "0 incidents"
    assert vocabulary.plural(2, "PII column") == "2 PII columns"
    assert vocabulary.plural(2, "batch") == "2 batches"
    assert vocabulary.plural(2, "policy") == "2 policies"
    assert vocabulary.plural(["a", "b"], "analysis") == "2 analyses"
    assert vocabulary.plural(1200, "decision") == "1,200 decisions"
