"""Canonical JSON: golden files pin the exact bytes we hash and sign."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from storage.canonical import canonical_bytes
from storage.errors import UsageError

GOLDEN = Path(__file__).parents[1] / "data" / "golden" / "canonical"


@pytest.mark.parametrize(
    "case", sorted(p.name.removesuffix(".input.json") for p in GOLDEN.glob("*.input.json"))
)
def test_golden(case: str) -> None:
    value = json.loads((GOLDEN / f"{case}.input.json").read_text(encoding="utf-8"))
    expected = (GOLDEN / f"{case}.canonical").read_bytes()
    assert canonical_bytes(value) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, {1: "int key"}, {"s": {1, 2}}])
def test_non_json_values_are_refused(bad: object) -> None:
    with pytest.raises(UsageError, match="canonical JSON"):
        canonical_bytes(bad)
