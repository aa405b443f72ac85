"""Typed evidence reads and writes exactly the stored bytes: old workspaces and bundles keep
their hashes and signatures, and readers use fields instead of key paths."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from core.evidence.document import Evidence
from core.evidence.sections import registry
from core.evidence.sections.fairness import Fairness

BUNDLE_V1 = Path(__file__).parents[1] / "data" / "bundles" / "v1" / "credit-risk-1.zip"


def test_evidence_from_the_v1_bundle_reserialises_to_the_same_bytes() -> None:
    with zipfile.ZipFile(BUNDLE_V1) as z:
        names = [n for n in z.namelist() if n.startswith("evidence/evaluation-")]
        assert names
        for name in names:
            raw = z.read(name)
            evidence = Evidence.from_bytes(raw)
            assert evidence.to_bytes() == raw, name
            # The v1 bundle predates the attribute-inference and DP sections.
            newer = {"attribute_inference", "differential_privacy"}
            assert set(evidence.sections) == {s.name for s in registry()} - newer


def test_unknown_keys_are_refused_not_dropped() -> None:
    with zipfile.ZipFile(BUNDLE_V1) as z:
        name = next(n for n in z.namelist() if n.startswith("evidence/evaluation-"))
        doc = Evidence.from_bytes(z.read(name)).to_json()
    doc["sections"]["privacy"]["new_figure"] = 1
    with pytest.raises(ValueError, match="unknown key 'new_figure'"):
        Evidence.from_json(doc)
    assert Evidence.VERSION == 1 and Fairness.VERSION == 1


def test_sections_are_registered_once_each_in_running_order() -> None:
    from core.evidence import suite

    names = [s.name for s in registry()]
    assert names == [
        "fairness",
        "explainability",
        "robustness",
        "privacy",
        "attribute_inference",
        "differential_privacy",
        "baseline",
    ]
    assert list(suite.SECTIONS) == names
    assert list(suite.SECTION_KEYS) == ["evaluation", *names]
    for section in registry():
        assert suite.SECTION_KEYS[section.name] == section.keys
        assert section.result.VERSION == 1


def test_one_unknown_key_check_names_the_first_unknown_name() -> None:
    from core.kernel.errors import UsageError
    from core.kernel.formats import refuse_unknown

    refuse_unknown({"a": 1}, {"a", "b"}, message=lambda k: f"no {k}")
    with pytest.raises(UsageError, match=r"^no c$") as refused:
        refuse_unknown({"d": 1, "c": 2, "a": 3}, {"a"}, message=lambda k: f"no {k}", hint="a")
    assert refused.value.hint == "a"


def _v1_evidence() -> tuple[bytes, Evidence]:
    with zipfile.ZipFile(BUNDLE_V1) as z:
        name = next(n for n in z.namelist() if n.startswith("evidence/evaluation-"))
        raw = z.read(name)
    return raw, Evidence.from_bytes(raw)


def test_old_evidence_derives_its_verdicts_on_read_and_is_written_back_without_them() -> None:
    from core.kernel import verdict

    raw, evidence = _v1_evidence()
    assert b'"verdict"' not in raw
    for check in evidence.checks:
        assert check.verdict == verdict.of_check(check.passed, check.severity)
    assert evidence.verdict == verdict.worst(c.verdict for c in evidence.checks)
    # passed/errors/warnings of the old document agree with the derived verdicts.
    assert evidence.errors == sum(c.verdict == "FAIL" for c in evidence.checks)
    assert evidence.passed is (evidence.verdict != "FAIL")
    assert evidence.to_bytes() == raw  # nothing derived is written into the signed document
    fairness = evidence.section(Fairness)
    assert fairness is not None and fairness.outcome is None
    for group in fairness.groups.values():
        for row in group.table:  # the old "approval_rate" is read as the favourable rate
            assert row.favourable == row.approval_rate
    assert fairness.favourable_name == fairness.favourable_outcome.split(" (")[0]


def test_a_recorded_verdict_round_trips_and_an_unknown_one_is_refused() -> None:
    from core.evidence.checks import Checks

    checks = Checks()
    checks.add("fairness", "ratio", 0.7, {"min": 0.8}, False, "warn")
    checks.add(
        "fairness",
        "gap",
        0.1,
        {"max": 0.2},
        True,
        "error",
        inconclusive=True,
        interval=[0.01, 0.4],
        note="group 'c' has 12 rows",
    )
    checks.add("privacy", "auc", 0.9, {"max": 0.6}, False, "error", inconclusive=True)
    warn, unsure, fail = checks.records()
    assert (warn.verdict, unsure.verdict, fail.verdict) == ("WARN", "INCONCLUSIVE", "FAIL")
    assert unsure.failed_warning and not unsure.failed_error and fail.failed_error
    assert unsure.to_json()["interval_95"] == [0.01, 0.4]
    assert type(unsure).from_json(unsure.to_json()) == unsure
    _, evidence = _v1_evidence()
    doc = evidence.to_json()
    doc["verdict"] = "MAYBE"
    with pytest.raises(ValueError, match="unknown verdict 'MAYBE'"):
        Evidence.from_json(doc)
    doc["verdict"] = "FAIL"
    assert Evidence.from_json(doc).to_json()["verdict"] == "FAIL"
