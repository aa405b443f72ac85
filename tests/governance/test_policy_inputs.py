"""``policy test`` fails a rule on an input field no fixture provides (a misspelt field).

In Rego a rule on ``input.model.verdicts.evalution`` is undefined rather than an error: its
deny never fires, the fixtures still pass and the pack installs. ``run_tests`` now asks that
every dotted ``input.a.b…`` path a module reads is in at least one fixture's input.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.governance import policy
from tests.conftest import ROOT

DEFAULT = ROOT / "sample_data" / "policies" / "default"
TYPO = """package ledgerml.gate

import rego.v1

deny contains "the evaluation failed" if {
	input.gate == "promote"
	input.model.verdicts.evalution == "FAIL"
}
"""


def _pack(tmp_path: Path, rule: str) -> Path:
    folder = tmp_path / "pack"
    shutil.copytree(DEFAULT, folder)
    (folder / "typo.rego").write_text(rule)
    return folder


def test_the_default_pack_still_passes() -> None:
    results = policy.run_tests(policy.load_dir(DEFAULT))
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


def test_a_misspelt_input_field_fails_the_tests(tmp_path: Path) -> None:
    results = policy.run_tests(policy.load_dir(_pack(tmp_path, TYPO)))
    failed = [r for r in results if not r.passed]
    assert [r.problem for r in failed] == [
        "module typo.rego reads input.model.verdicts.evalution, which no fixture provides: "
        "a misspelt field makes a rule never fire"
    ]


def test_a_pack_with_a_misspelt_field_does_not_install(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = ws.ledger.head()[0]
    with pytest.raises(policy.PolicyError, match="evalution"):
        policy.install(ws, "alice", _pack(tmp_path, TYPO), "typo")
    assert ws.ledger.head()[0] == before


def test_correctly_spelt_fields_and_what_the_scan_ignores(tmp_path: Path) -> None:
    rule = """package ledgerml.gate

import rego.v1

# a comment naming input.model.nonsense reads nothing
deny contains "input.model.nonsense in a message reads nothing" if {
	input.gate == "promote"
	input.model.verdicts.evaluation == "FAIL"
	some a in input.approvals.check.problems
	a == input.approvals.list[_].nonsense
}
"""
    results = policy.run_tests(policy.load_dir(_pack(tmp_path, rule)))
    assert all(r.passed for r in results), [r for r in results if not r.passed]


def test_paths_are_read_from_code_not_comments_or_strings() -> None:
    text = 'x if input.a.b == "input.c.d" # input.e.f\ny if input.g[_].h\n'
    assert policy.input_paths(text) == [("a", "b"), ("g",)]
