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
            assert set(evidence.sections) == {s.name for s in registry()}


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
    assert names == ["fairness", "explainability", "robustness", "privacy", "baseline"]
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
