"""Validation suites, drift, gates, feature views and data sheets on the German credit data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.data import features, snapshots, validation
from core.documents import datasheet
from core.identity import actors
from core.kernel.errors import CheckFailedError, NotFoundError, PermissionDeniedError, UsageError
from core.kernel.workspace import Workspace
from tests.conftest import copy_workspace

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


@pytest.fixture(scope="module")
def data_template(ws_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``ws`` workspace with steward dana and the German credit data (built once)."""
    root = tmp_path_factory.mktemp("data") / "ws"
    ws = copy_workspace(ws_template, root)
    actors.add(ws, "alice", "dana", ["data-steward"])
    snapshots.add(
        ws,
        "dana",
        SAMPLE / "german.data",
        dataset="german-credit",
        sensitive=["column08", "column12"],
        provenance={"source": "UCI"},
    )
    return root


@pytest.fixture
def data_ws(data_template: Path, ws_path: Path) -> Workspace:
    """A private copy of ``data_template``."""
    return copy_workspace(data_template, ws_path)


def suite_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text('[suite]\nname = "t"\n' + body)
    return path


def test_sample_suite_passes_and_is_recorded_as_evidence(data_ws: Workspace) -> None:
    row, result = validation.run(data_ws, "sam", "german-credit@1", SAMPLE / "raw_suite.toml")
    assert row.passed and result.passed and row.checks == 12
    stored = json.loads(data_ws.objects.read_verified(row.result_digest))
    assert stored == result.to_json()
    assert validation.read_result(data_ws, row) == result
    assert stored["suite"]["digest"] == validation.load_suite(SAMPLE / "raw_suite.toml").digest
    by_name = {c["name"]: c for c in result.to_json()["checks"]}
    assert by_name["bad-credit share near the published 30%"]["observed"] == 1.3
    assert by_name["median duration"]["observed"] == 18.0
    snap = snapshots.show(data_ws, "german-credit@1")
    with data_ws.session() as s:
        assert validation.require_passed(s.catalog, snap, "german-credit-raw").seq == row.seq


def test_every_check_type_can_fail(data_ws: Workspace, tmp_path: Path) -> None:
    suite = suite_file(
        tmp_path,
        """
[[checks]]
type = "row_count"
min = 2000
[[checks]]
type = "column_present"
column = "column00"
dtype = "int"
[[checks]]
type = "column_present"
column = "missing_column"
[[checks]]
type = "null_rate"
column = "column00"
max = -1.0
[[checks]]
type = "range"
column = "column12"
min = 30
[[checks]]
type = "allowed_values"
column = "column00"
values = ["A11"]
[[checks]]
type = "unique"
column = "column00"
[[checks]]
type = "regex"
column = "column03"
pattern = "A4[0-3]"
[[checks]]
type = "mean"
column = "column12"
max = 30
[[checks]]
type = "std"
column = "column12"
min = 100
[[checks]]
type = "quantile"
column = "column12"
q = 0.9
max = 40
severity = "warn"
""",
    )
    head = data_ws.ledger.head()[0]
    row, result = validation.run(data_ws, "alice", "german-credit@1", suite)
    assert data_ws.ledger.head()[0] == head + 1  # a failing run is evidence too
    assert not row.passed and row.errors == 10 and row.warnings == 1
    assert all(not c.passed for c in result.checks)
    observed = {c.name: c.observed for c in result.checks}
    assert observed["range:column12"] == 371  # applicants younger than 30 (awk agrees)
    assert observed["unique:column00"] == 996
    snap = snapshots.show(data_ws, "german-credit@1")
    with data_ws.session() as s, pytest.raises(CheckFailedError, match="only failing runs"):
        validation.require_passed(s.catalog, snap, "t")
    with data_ws.session() as s, pytest.raises(CheckFailedError, match="no recorded run"):
        validation.require_passed(s.catalog, snap, "other-suite")


def test_drift_against_a_reference(data_ws: Workspace, tmp_path: Path) -> None:
    shifted = tmp_path / "shifted.csv"
    lines = (SAMPLE / "german.data").read_text().splitlines()
    out = []
    for line in lines:
        parts = line.split(" ")
        parts[12] = str(int(parts[12]) + 15)  # everyone 15 years older
        out.append(" ".join(parts))
    shifted.write_text("\n".join(out) + "\n")
    snapshots.add(data_ws, "dana", shifted, dataset="german-credit")
    suite = suite_file(
        tmp_path,
        """
[[checks]]
name = "age psi"
type = "drift"
column = "column12"
reference = "german-credit@1"
method = "psi"
max = 0.2
[[checks]]
name = "age ks"
type = "drift"
column = "column12"
reference = "german-credit@1"
method = "ks"
max = 0.1
[[checks]]
name = "purpose chi2"
type = "drift"
column = "column03"
reference = "german-credit@1"
method = "chi2"
min_p = 0.05
""",
    )
    _, same = validation.run(data_ws, "alice", "german-credit@1", suite)
    assert same.passed
    assert {c.name: c.observed["statistic"] for c in same.checks}["age ks"] == 0.0
    _, drifted = validation.run(data_ws, "alice", "german-credit@2", suite)
    verdicts = {c["name"]: c for c in drifted.to_json()["checks"]}
    assert not verdicts["age psi"]["passed"] and verdicts["age psi"]["observed"]["statistic"] > 1
    assert not verdicts["age ks"]["passed"]
    assert verdicts["purpose chi2"]["passed"]  # purpose did not change


def test_malformed_suites_and_unknown_references_record_nothing(
    data_ws: Workspace, tmp_path: Path
) -> None:
    head = data_ws.ledger.head()
    for body, message in [
        ("", "no \\[\\[checks\\]\\]"),
        ('[[checks]]\ntype = "teleport"\n', "unknown type"),
        ('[[checks]]\ntype = "range"\n', "missing column"),
        ('[[checks]]\ntype = "row_count"\nseverity = "fatal"\n', "severity"),
        ('[[checks]]\ntype = "row_count"\nmaxx = 1\n', "unknown setting 'maxx'"),
        ("[[checks]\n", "cannot read suite"),
    ]:
        with pytest.raises(UsageError, match=message):
            validation.run(data_ws, "alice", "german-credit@1", suite_file(tmp_path, body))
    drift = suite_file(
        tmp_path,
        '[[checks]]\ntype = "drift"\ncolumn = "column12"\nreference = "nope@1"\nmethod = "psi"\n',
    )
    with pytest.raises(NotFoundError, match="no snapshot nope@1"):
        validation.run(data_ws, "alice", "german-credit@1", drift)
    with pytest.raises(NotFoundError):
        validation.run(data_ws, "alice", "german-credit@7", SAMPLE / "raw_suite.toml")
    with pytest.raises(PermissionDeniedError):
        validation.run(data_ws, "bob", "german-credit@1", SAMPLE / "raw_suite.toml")
    assert data_ws.ledger.head() == head


def test_feature_view_lineage_idempotence_and_lockdown(data_ws: Workspace, tmp_path: Path) -> None:
    snap, created = features.build(data_ws, "sam", SAMPLE / "features.toml", reason="train")
    assert created and snap.ref == "german-credit-features@1" and snap.kind == "feature"
    cols = [c["name"] for c in json.loads(snap.columns)]
    assert {"sex", "age_years", "credit_risk", "purpose"} <= set(cols)
    assert "sex" in snap.sensitive
    with data_ws.session() as s:
        edges = {(e.dst, e.relation) for e in s.catalog.edges_from(f"snapshot:{snap.ref}")}
    sql_digest = snap.transform_digest
    assert edges == {
        ("snapshot:german-credit@1", "derived-from"),
        (f"sha256:{sql_digest}", "transformed-by"),
    }
    assert data_ws.objects.read_verified(str(sql_digest)) == (SAMPLE / "features.sql").read_bytes()
    profile = snapshots.load_profile(data_ws, snap)
    assert profile["columns"]["sex"]["top_values"] == [["male", 690], ["female", 310]]
    again, created = features.build(data_ws, "sam", SAMPLE / "features.toml")
    assert not created and again.ref == snap.ref

    sneaky = tmp_path / "sneaky.sql"
    sneaky.write_text("SELECT * FROM read_csv('/etc/passwd')")
    view = tmp_path / "sneaky.toml"
    view.write_text(
        '[view]\nname = "sneaky"\nsql = "sneaky.sql"\n[inputs]\nraw = "german-credit@1"\n'
    )
    head = data_ws.ledger.head()
    with pytest.raises(UsageError, match="does not run"):
        features.build(data_ws, "sam", view)
    assert data_ws.ledger.head() == head


def test_datasheet_sections_groups_and_gaps(data_ws: Workspace, tmp_path: Path) -> None:
    validation.run(data_ws, "sam", "german-credit@1", SAMPLE / "raw_suite.toml")
    md_path, html_path = datasheet.write(data_ws, "dana", "german-credit@1", tmp_path / "out")
    md = md_path.read_text()
    for section in (
        "## Motivation",
        "## Composition",
        "## Collection process",
        "## Preprocessing",
        "## Uses",
        "## Distribution",
        "## Maintenance",
        "## Provenance, consent and legal basis",
        "## Retention",
        "## Validation history",
        "## Gaps",
    ):
        assert section in md
    assert "| A93 | 548 | 54.8% |" in md  # single males, column08
    assert "Motivation is not recorded" in md and "No retention period" in md
    assert "german-credit-raw" in md and "…`) **PASS** (0 errors" in md
    html = html_path.read_text()
    assert "<script" not in html and "http://" not in html and "https://" not in html
    answered, _ = datasheet.write(
        data_ws,
        "dana",
        "german-credit@1",
        tmp_path / "out2",
        answers_path=SAMPLE / "datasheet.toml",
    )
    assert "Motivation is not recorded" not in answered.read_text()
    assert [e.decode()["action"] for e in data_ws.ledger.iter_entries()][-1] == "report.datasheet"


def test_suite_values_are_typed_and_bad_patterns_are_usage_errors(
    data_ws: Workspace, tmp_path: Path
) -> None:
    head = data_ws.ledger.head()
    with pytest.raises(UsageError, match="max must be a number"):
        validation.run(
            data_ws,
            "alice",
            "german-credit@1",
            suite_file(tmp_path, '[[checks]]\ntype = "row_count"\nmax = "10"\n'),
        )
    with pytest.raises(UsageError, match="cannot run"):
        validation.run(
            data_ws,
            "alice",
            "german-credit@1",
            suite_file(
                tmp_path, '[[checks]]\ntype = "regex"\ncolumn = "column00"\npattern = "A[1"\n'
            ),
        )
    assert data_ws.ledger.head() == head


def test_a_report_folder_that_cannot_be_written_records_nothing(
    data_ws: Workspace, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    head = data_ws.ledger.head()
    with pytest.raises(UsageError, match="cannot write reports"):
        datasheet.write(data_ws, "dana", "german-credit@1", blocker)
    assert data_ws.ledger.head() == head


def test_quantile_checks_of_one_column_share_one_aggregate(
    data_ws: Workspace, tmp_path: Path
) -> None:
    """Several quantiles of one column come from one quantile_cont(x, [q, …]): each check
    observes what a suite with that check alone observes."""
    qs = (0.1, 0.5, 0.9, 0.30000000000000004)
    body = "".join(
        f'[[checks]]\nname = "q{i}"\ntype = "quantile"\ncolumn = "column12"\nq = {q!r}\n'
        for i, q in enumerate(qs)
    )
    _, together = validation.run(data_ws, "alice", "german-credit@1", suite_file(tmp_path, body))
    for i, q in enumerate(qs):
        alone = tmp_path / f"alone{i}.toml"
        alone.write_text(
            f'[suite]\nname = "a{i}"\n[[checks]]\nname = "q{i}"\ntype = "quantile"\n'
            f'column = "column12"\nq = {q!r}\n'
        )
        _, single = validation.run(data_ws, "alice", "german-credit@1", alone)
        assert together.checks[i] == single.checks[0]
    assert [c.observed for c in together.checks[:3]] == [23.0, 33.0, 52.0]


def test_an_altered_parquet_copy_records_no_result(data_ws: Workspace, tmp_path: Path) -> None:
    import stat

    from core.kernel.errors import IntegrityError

    snap = snapshots.show(data_ws, "german-credit@1")
    path = data_ws.objects.path(snap.parquet_digest)
    path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    suite = suite_file(tmp_path, '[[checks]]\ntype = "row_count"\nmin = 1\n')
    head = data_ws.ledger.head()
    original = path.read_bytes()
    middle = bytearray(original)
    middle[len(middle) // 2] ^= 0x01  # DuckDB may well read this without complaint
    for altered in (bytes(middle), original[:-10] + b"0123456789"):  # and this not at all
        path.write_bytes(altered)
        with pytest.raises(IntegrityError, match="Parquet copy of german-credit@1"):
            validation.run(data_ws, "alice", "german-credit@1", suite)
    path.unlink()
    with pytest.raises(IntegrityError, match="is missing"):
        validation.run(data_ws, "alice", "german-credit@1", suite)
    assert data_ws.ledger.head() == head
