"""Validation on a generated table of another shape: strict suites, failures that say what
failed (values, columns, types), and verdicts checked against plain pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data import snapshots, validation
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from tests.conftest import copy_workspace


def clinic_visits() -> pd.DataFrame:
    """Clinic visits: an id, a status with stray codes, a dose, a planted PII name, a pair."""
    rng = np.random.default_rng(7)
    n = 400
    status = rng.choice(
        ["recovered", "referred", "?", "unknown", "REC"], n, p=[0.6, 0.3, 0.05, 0.03, 0.02]
    )
    frame = pd.DataFrame(
        {
            "visit_id": np.arange(n),
            "status": status,
            "dose_mg": rng.normal(50, 10, n).round(1),
            "patient": [f"Patient-{i % 390:03d}" for i in range(n)],
            "ward": rng.choice(["a", "b"], n),
            "bed": rng.integers(0, 150, n),
        }
    )
    return frame


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    """The visits (:func:`clinic_visits`), also written to ``tmp_path / "visits.csv"``."""
    frame = clinic_visits()
    frame.to_csv(tmp_path / "visits.csv", index=False)
    return frame


@pytest.fixture(scope="module")
def visits_template(ws_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``ws`` workspace with the visits recorded as ``visits@1`` (built once)."""
    folder = tmp_path_factory.mktemp("visits")
    clinic_visits().to_csv(folder / "visits.csv", index=False)
    ws = copy_workspace(ws_template, folder / "ws")
    snapshots.add(ws, "alice", folder / "visits.csv", dataset="visits", pii=["patient"])
    return folder / "ws"


@pytest.fixture
def visits(visits_template: Path, ws_path: Path, table: pd.DataFrame) -> Workspace:
    """A private copy of ``visits_template``."""
    return copy_workspace(visits_template, ws_path)


def run(ws: Workspace, tmp_path: Path, body: str) -> validation.ValidationResult:
    path = tmp_path / "suite.toml"
    path.write_text('[suite]\nname = "visits"\n' + body)
    return validation.run(ws, "alice", "visits@1", path)[1]


def test_allowed_values_name_the_top_five_offenders_with_counts(
    visits: Workspace, table: pd.DataFrame, tmp_path: Path
) -> None:
    result = run(
        visits,
        tmp_path,
        '[[checks]]\ntype = "allowed_values"\ncolumn = "status"\n'
        'values = ["recovered", "referred"]\n'
        '[[checks]]\ntype = "regex"\ncolumn = "status"\npattern = "[a-z]+"\n'
        '[[checks]]\ntype = "range"\ncolumn = "dose_mg"\nmin = 40\nmax = 60\n',
    )
    allowed, regex, rng = result.checks
    bad = table.loc[~table.status.isin(["recovered", "referred"]), "status"].value_counts()
    assert allowed.observed == int(bad.sum()) and allowed.verdict == "FAIL"
    for value, count in bad.items():
        assert f"{value!r} ({count})" in allowed.detail
    not_lower = table.loc[~table.status.str.fullmatch("[a-z]+"), "status"].value_counts()
    assert regex.observed == int(not_lower.sum())
    assert all(f"{v!r} ({n})" in regex.detail for v, n in not_lower.items())
    outside = table.loc[(table.dose_mg < 40) | (table.dose_mg > 60), "dose_mg"]
    assert rng.observed == len(outside)
    counts = outside.value_counts()
    top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:5]
    assert rng.detail.split("most frequent: ")[1] == ", ".join(f"'{v}' ({n})" for v, n in top)


def test_values_of_a_pii_column_are_never_named(visits: Workspace, tmp_path: Path) -> None:
    [check] = run(
        visits,
        tmp_path,
        '[[checks]]\ntype = "allowed_values"\ncolumn = "patient"\nvalues = ["Patient-000"]\n',
    ).checks
    assert not check.passed and "Patient-" not in check.detail and "PII" in check.detail


def test_a_measured_value_of_a_pii_column_is_not_stored(ws: Workspace, tmp_path: Path) -> None:
    """A quantile of a PII column is a person's value: the stored result keeps the verdict,
    never the value; counts (violating rows, a null rate) of a PII column stay."""
    pd.DataFrame({"phone": [5550001234, 5550009876, 5550004242], "x": [1, 2, 3]}).to_csv(
        tmp_path / "people.csv", index=False
    )
    snapshots.add(ws, "alice", tmp_path / "people.csv", dataset="people", pii=["phone"])
    suite = tmp_path / "people.toml"
    suite.write_text(
        '[suite]\nname = "people"\n'
        '[[checks]]\ntype = "quantile"\ncolumn = "phone"\nq = 0.5\nmin = 0\nmax = 100\n'
        '[[checks]]\ntype = "null_rate"\ncolumn = "phone"\nmax = 0.0\n'
        '[[checks]]\ntype = "range"\ncolumn = "x"\nmin = 0\nmax = 2\n'
    )
    row, result = validation.run(ws, "alice", "people@1", suite)
    median, nulls, x_range = result.checks
    assert median.verdict == "FAIL" and "PII" in str(median.observed)
    assert nulls.observed == 0.0  # a rate is not a value of the column
    assert x_range.verdict == "FAIL" and x_range.observed == 1  # one row above 2, shown
    stored = ws.objects.read_verified(row.result_digest)
    for planted in (b"5550001234", b"5550009876", b"5550004242"):
        assert planted not in stored


def test_a_missing_column_and_a_wrong_type_are_named(visits: Workspace, tmp_path: Path) -> None:
    result = run(
        visits,
        tmp_path,
        '[[checks]]\ntype = "null_rate"\ncolumn = "stauts"\nmax = 0.1\n'
        '[[checks]]\nname = "mean status"\ntype = "mean"\ncolumn = "status"\nmin = 0\n'
        '[[checks]]\nname = "bed pattern"\ntype = "regex"\ncolumn = "bed"\npattern = "1.*"\n'
        '[[checks]]\nname = "status range"\ntype = "range"\ncolumn = "status"\nmin = 0\n'
        '[[checks]]\ntype = "unique"\ncolumns = ["ward", "nope"]\n'
        '[[checks]]\ntype = "drift"\ncolumn = "status"\nreference = "visits@1"\nmethod = "ks"\n',
    )
    missing, mean, regex, rng, unique, drift = result.checks
    assert missing.detail == "column 'stauts' is missing (closest: 'status')"
    assert "mean check 'mean status' needs a numeric column" in mean.detail
    assert "column 'status' is str (VARCHAR)" in mean.detail
    assert "regex check 'bed pattern' needs a str column" in regex.detail
    assert "'bed' is int (BIGINT)" in regex.detail
    assert "range check 'status range'" in rng.detail and "str (VARCHAR)" in rng.detail
    assert unique.detail == "column 'nope' is missing"
    assert not drift.passed and "KS needs a numeric column" in drift.detail
    assert all(c.verdict == "FAIL" for c in result.checks) and result.verdict == "FAIL"
    assert "Binder" not in " ".join(c.detail for c in result.checks)


def test_unique_over_several_columns_or_one_listed_column(
    visits: Workspace, table: pd.DataFrame, tmp_path: Path
) -> None:
    result = run(
        visits,
        tmp_path,
        '[[checks]]\ntype = "unique"\ncolumns = ["ward", "bed"]\nmax = 1000\n'
        '[[checks]]\ntype = "unique"\ncolumns = ["patient"]\n'
        '[[checks]]\ntype = "unique"\ncolumns = ["visit_id"]\n'
        '[[checks]]\ntype = "unique"\ncolumn = "ward"\n'
        '[[checks]]\nname = "pairs"\ntype = "unique"\ncolumns = ["ward", "bed"]\n',
    )
    pair, patient, ids, ward, pairs = result.checks
    assert pair.name == "unique:ward,bed" and pair.passed
    assert pair.observed == len(table) - len(table.drop_duplicates(["ward", "bed"]))
    assert patient.observed == len(table) - table.patient.nunique() and not patient.passed
    assert "Patient-" not in patient.detail and "PII column" in patient.detail
    assert ids.observed == 0 and ids.passed
    counts = table.ward.value_counts()
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert ward.detail.endswith("most repeated: " + ", ".join(f"'{v}' ({n})" for v, n in top))
    combos = table.groupby(["ward", "bed"]).size()
    worst = int(combos.max())
    assert not pairs.passed and f"({worst})" in pairs.detail.split("most repeated: ")[1]


ROW_COUNT = '[[checks]]\ntype = "row_count"\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('missing_values = ["?"]\n' + ROW_COUNT, r"'missing_values' is not a known key"),
        ('[suite]\nmissing_values = ["?"]\n' + ROW_COUNT, r"\[suite\] missing_values is not a"),
        ('[checks]\ntype = "row_count"\n', r"'checks': Input should be a valid list"),
        ('[[checks]]\ntype = "null_rate"\ncolumn = "status"\nmax = true\n', "max must be a number"),
        ('[[checks]]\ntype = "unique"\ncolumns = "ward"\n', "columns must be a list"),
        ('[[checks]]\ntype = "regex"\ncolumn = 3\npattern = "x"\n', "column must be a str"),
        ('[[checks]]\ntype = "row_count"\nseverity = "WARN"\n', "severity must be"),
        ("[[checks]]\ntype = 3\n", "unknown type"),
        (
            '[[checks]]\ntype = "mean"\ncolumn = "dose_mg"\nmissing_values = ["?"]\n',
            "unknown setting 'missing_values'",
        ),
    ],
)
def test_suites_are_read_strictly(
    visits: Workspace, tmp_path: Path, body: str, message: str
) -> None:
    """An unknown key anywhere is refused naming it (and the keys allowed), nothing recorded."""
    path = tmp_path / "strict.toml"
    path.write_text(body)
    head = visits.ledger.head()
    with pytest.raises(UsageError, match=message) as caught:
        validation.run(visits, "alice", "visits@1", path)
    if "not a known key" in message:
        expected = "name" if body.startswith("[suite]") else "checks, suite"
        assert caught.value.hint == f"Keys allowed there: {expected}."
    assert visits.ledger.head() == head
