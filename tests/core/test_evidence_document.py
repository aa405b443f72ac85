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
