"""PII values are never shown, and PII tags follow data through feature views.

A generated table of people (not German credit) carries planted, searchable PII values:
names like ``Zebedee Quux-0001``, emails, dates of birth and case numbers, tagged PII at
snapshot time. The whole pipeline runs on it (snapshot, validate, view, validate, data
sheets, train, sign, bundle export both ways), then every output is scanned for the planted
values: the CLI's ``snapshot profile``/``show`` and ``feature build``, the data sheets, every
object of the workspace that is not the data itself, the ledger, and every member of the
hashes-only bundle. None may appear. The full-data bundle carries the data (its Parquet
copies) by design; every other member of it is scanned too.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.audit import bundle
from core.data import column_lineage, features, redaction, snapshots, validation, views
from core.documents import datasheet
from core.identity import actors, keys
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from core.modelling import models, training
from tests.conftest import run_cli, run_cli_here

ROWS = 300
PII = ["full_name", "email", "date_of_birth", "case_number"]


def people(folder: Path, rows: int = ROWS, seed: int = 7) -> tuple[Path, list[str]]:
    """A CSV of people with planted PII values; returns the file and every planted value."""
    rng = np.random.default_rng(seed)
    born = [dt.date(1931, 2, 17) + dt.timedelta(days=int(d)) for d in rng.integers(0, 9000, rows)]
    frame = pd.DataFrame(
        {
            "full_name": [f"Zebedee Quux-{i:04d}" for i in range(rows)],
            "email": [f"zq{i:04d}.planted@example.invalid" for i in range(rows)],
            "date_of_birth": [d.isoformat() for d in born],
            "case_number": [f"CASE-ZQ-{i:06d}" for i in range(rows)],
            "age": rng.integers(18, 90, rows),
            "region": rng.choice(["north", "south", "east"], rows),
            "income": np.round(rng.gamma(4.0, 900.0, rows), 2),
            "tenure_years": rng.integers(0, 30, rows),
        }
    )
    logit = (frame["income"] - 3600) / 1500 + (frame["tenure_years"] - 15) / 10
    frame["repaid"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    path = folder / "people.csv"
    frame.to_csv(path, index=False)
    planted = [str(v) for col in PII for v in frame[col]]
    return path, planted


def pattern(planted: list[str]) -> re.Pattern[bytes]:
    return re.compile(b"|".join(re.escape(v.encode()) for v in sorted(set(planted))))


def leaks(pat: re.Pattern[bytes], data: bytes) -> list[str]:
    return sorted({m.group(0).decode() for m in pat.finditer(data)})[:5]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


INTAKE = """
[suite]
name = "people-intake"

[[checks]]
type = "unique"
column = "case_number"

[[checks]]
type = "regex"
column = "email"
pattern = "zq[0-9]{4}[.]planted@example[.]invalid"

[[checks]]
type = "null_rate"
column = "full_name"
max = 0.0

[[checks]]
name = "names from the register"
type = "allowed_values"
column = "full_name"
values = ["Nobody At-All"]
severity = "warn"
"""

VIEW_SQL = """
WITH base AS (SELECT *, upper(full_name) AS shout FROM raw)
SELECT
    full_name,
    date_of_birth,
    concat(email, ' / ', case_number) AS contact,
    CASE WHEN shout LIKE 'Z%' THEN 'z' ELSE 'other' END AS initial,
    age // 10 * 10 AS age_band,
    region,
    income,
    tenure_years,
    repaid
FROM base
"""

VIEW = """
[view]
name = "people-features"
sql = "people.sql"

[inputs]
raw = "people@1"

[tags]
not_pii = { initial = "one letter of the name, shared by every row" }
retention = "1y"
"""

VIEW_SUITE = """
[suite]
name = "people-features"

[[checks]]
type = "null_rate"
column = "income"
max = 0.0
"""

TRAIN = """
[run]
name = "repayment"
input = "people-features@1"
suite = "people-features"
target = "repaid"
features = ["income", "tenure_years"]
sensitive = ["region"]
allow_sensitive_features = []
seed = 1
test_size = 0.3
threshold = 0.5

[estimator]
type = "logistic_regression"
params = { C = 1.0, max_iter = 500 }

[preprocessing]
scale = true
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A workspace taken through the pipeline on the people table, with its outputs."""
    from core.audit import admin

    root = tmp_path_factory.mktemp("pii")
    csv, planted = people(root)
    ws = admin.init(root / "ws", "alice")
    actors.add(ws, "alice", "val", ["validator"])
    keys.create(ws, "val")
    w = ["--workspace", str(ws.root), "--as", "alice"]
    outputs: dict[str, str] = {}

    def cli(name: str, *args: str) -> None:
        result = run_cli_here(*w, *args, check=True)
        outputs[name] = result.stdout + result.stderr

    cli(
        "snapshot add",
        *("snapshot", "add", str(csv), "--dataset", "people"),
        *("--pii", ",".join(PII), "--sensitive", "age,region", "--retention", "1y"),
    )
    validation.run(ws, "alice", "people@1", write(root, "intake.toml", INTAKE))
    write(root, "people.sql", VIEW_SQL)
    cli("feature build", "feature", "build", str(write(root, "view.toml", VIEW)))
    validation.run(ws, "alice", "people-features@1", write(root, "view_suite.toml", VIEW_SUITE))
    for ref in ("people@1", "people-features@1"):
        cli(f"report datasheet {ref}", "report", "datasheet", ref, "-o", str(root / "reports"))
        cli(f"snapshot profile {ref}", "snapshot", "profile", ref)
        cli(f"snapshot profile --json {ref}", "--json", "snapshot", "profile", ref)
        cli(f"snapshot show {ref}", "snapshot", "show", ref)
    run = training.train(ws, "alice", write(root, "train.toml", TRAIN))
    models.register(ws, "alice", run.run_id, "repayment")
    models.sign(ws, "val", "repayment@1")
    bundle.export(ws, "alice", "repayment@1", root / "hashes.zip", data="hashes")
    bundle.export(ws, "alice", "repayment@1", root / "full.zip", data="full")
    return {"ws": ws, "root": root, "planted": planted, "outputs": outputs}


def test_the_view_inherits_pii_and_sensitive_tags_through_its_sql(pipeline: dict[str, Any]) -> None:
    ws: Workspace = pipeline["ws"]
    view = snapshots.show(ws, "people-features@1")
    # Selected as is, through a CTE and SELECT *, and inside CONCAT: all PII. `initial` reads
    # the name too, but the view declares why it is not PII.
    assert view.pii == ["contact", "date_of_birth", "full_name"]
    assert view.sensitive == ["age_band", "region"]
    tags = features.recorded_view(ws, view)["tags"]
    assert tags["inherited_pii"]["contact"] == ["raw.case_number", "raw.email"]
    assert tags["not_pii"] == {"initial": "one letter of the name, shared by every row"}
    assert tags["lineage"] == "traced from the SQL"
    shown = pipeline["outputs"]["feature build"]
    assert "PII columns: contact, date_of_birth, full_name" in shown
    assert "initial is declared not PII: one letter of the name" in shown


def test_pii_columns_are_profiled_by_counts_only(pipeline: dict[str, Any]) -> None:
    ws: Workspace = pipeline["ws"]
    snap = snapshots.show(ws, "people@1")
    stored = json.loads(ws.objects.read_verified(snap.profile_digest))
    frame = pd.read_csv(pipeline["root"] / "people.csv")
    for col in PII:
        stats = stored["columns"][col]
        assert set(stats) <= redaction.KEPT_STATS | {"withheld"}, col
        assert stats["nulls"] == int(frame[col].isna().sum())
        assert stats["distinct"] == frame[col].nunique()
    # Other columns keep their full profile.
    assert stored["columns"]["region"]["top_values"]
    assert stored["columns"]["income"]["mean"] == pytest.approx(frame["income"].mean())


def test_no_output_of_the_pipeline_holds_a_planted_value(pipeline: dict[str, Any]) -> None:
    ws: Workspace = pipeline["ws"]
    pat = pattern(pipeline["planted"])
    assert leaks(pat, (pipeline["root"] / "people.csv").read_bytes())  # the scan can fail
    for name, text in pipeline["outputs"].items():
        assert not leaks(pat, text.encode()), name
    for path in sorted((pipeline["root"] / "reports").iterdir()):
        assert not leaks(pat, path.read_bytes()), path.name
    data_objects = set()
    with ws.session() as s:
        for snap in s.catalog.snapshots():
            data_objects |= {snap.parquet_digest, snap.raw_digest}
    scanned = 0
    for path in sorted((ws.root / "objects").rglob("*")):
        digest = path.parent.name + path.name
        if path.is_file() and digest not in data_objects:
            assert not leaks(pat, path.read_bytes()), f"object {digest[:16]}"
            scanned += 1
    assert scanned > 10
    for path in sorted((ws.root / "ledger").rglob("*")):
        if path.is_file():
            assert not leaks(pat, path.read_bytes()), path.name
    detail = views.snapshot_detail(ws, "people@1")
    assert not leaks(pat, repr(detail).encode())
    names = {c.name: c for c in detail.validations[0].checks}
    assert names["names from the register"].observed == ROWS  # a count, still shown


def test_the_hashes_only_bundle_carries_no_planted_value(pipeline: dict[str, Any]) -> None:
    pat = pattern(pipeline["planted"])
    with zipfile.ZipFile(pipeline["root"] / "hashes.zip") as z:
        names = z.namelist()
        assert any(n.startswith("evidence/profile-people-1") for n in names)
        assert any(n.startswith("reports/datasheet-people-features-1.") for n in names)
        assert not any(n.endswith(".parquet") for n in names)
        # The intake run's result details a PII column: the bundle carries a redacted copy.
        [redacted] = [n for n in names if n.endswith(".redacted.json") and "validation" in n]
        doc = json.loads(z.read(redacted))
        assert doc["redacted_from"].startswith("sha256:")
        checks = {c["name"]: c for c in doc["checks"]}
        assert checks["names from the register"]["observed"] == ROWS
        assert checks["names from the register"]["detail"] == redaction.WITHHELD
        for name in names:
            assert not leaks(pat, z.read(name)), name
    # The full-data bundle carries the data itself (the Parquet copies hold the planted
    # values, compressed); every other member is held to the same rule.
    with zipfile.ZipFile(pipeline["root"] / "full.zip") as z:
        assert any(n.endswith(".parquet") for n in z.namelist())
        for name in z.namelist():
            if not name.endswith(".parquet"):
                assert not leaks(pat, z.read(name)), name


def test_the_hashes_only_bundle_verifies(pipeline: dict[str, Any]) -> None:
    result = run_cli("bundle", "verify", str(pipeline["root"] / "hashes.zip"))
    assert result.returncode in (0, 1), result.stderr  # 1: verifies, anchored to no trusted key
    assert "not named by any event" not in result.stdout + result.stderr


def test_profiles_stored_with_pii_values_are_redacted_by_every_reader(
    pipeline: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older snapshot's profile holds PII values: readers and bundles drop them."""
    from core.data import tables

    ws: Workspace = pipeline["ws"]
    csv, planted = people(tmp_path, rows=120, seed=11)
    planted = [v.replace("Quux", "Vorn") for v in planted]
    frame = pd.read_csv(csv)
    frame["full_name"] = frame["full_name"].str.replace("Quux", "Vorn")
    frame.to_csv(csv, index=False)
    original = tables.digest_and_profile

    def as_before(con: Any, parquet: Path, cols: Any, pii: Any = ()) -> Any:
        return original(con, parquet, cols)  # what ingest did before PII was withheld

    with monkeypatch.context() as m:
        m.setattr(tables, "digest_and_profile", as_before)
        old, _ = snapshots.add(ws, "alice", csv, dataset="legacy", pii=["full_name"])
    stored = json.loads(ws.objects.read_verified(old.profile_digest))
    assert stored["columns"]["full_name"]["top_values"]  # the leak being defended against
    names = pattern([v for v in planted if v.startswith("Zebedee")])
    profile = snapshots.load_profile(ws, old)
    assert redaction.withheld(profile["columns"]["full_name"])
    assert not leaks(names, json.dumps(profile).encode())
    assert not leaks(names, repr(views.snapshot_detail(ws, old.ref)).encode())
    shown = run_cli_here("--workspace", str(ws.root), "snapshot", "profile", old.ref, check=True)
    assert not leaks(names, shown.stdout.encode())
    assert "withheld: PII column" in shown.stdout
    md, html = datasheet.write(ws, "alice", old.ref, tmp_path / "reports")
    assert not leaks(names, md.read_bytes() + html.read_bytes())
    # A data sheet rendered from the old profile (before this change) quotes the names: a
    # screen withholds it.
    with monkeypatch.context() as m:
        m.setattr(
            snapshots,
            "load_profile",
            lambda w, s: json.loads(w.objects.read_verified(s.profile_digest)),
        )
        md, _ = datasheet.write(ws, "alice", old.ref, tmp_path / "old-reports")
    assert leaks(names, md.read_bytes())
    detail = views.snapshot_detail(ws, old.ref)
    assert views.sheet_shown(ws, detail, md.read_text()).startswith("withheld")
    # A hashes-only bundle of a model trained on it: a redacted profile, no such data sheet.
    validation.run(ws, "alice", old.ref, write(tmp_path, "suite.toml", VIEW_SUITE))
    spec = TRAIN.replace("people-features@1", old.ref).replace('"repayment"', '"legacy"')
    run = training.train(ws, "alice", write(tmp_path, "t.toml", spec))
    models.register(ws, "alice", run.run_id, "legacy-model")
    models.sign(ws, "val", "legacy-model@1")
    out = tmp_path / "legacy.zip"
    bundle.export(ws, "alice", "legacy-model@1", out, data="hashes")
    with zipfile.ZipFile(out) as z:
        names_in = set(z.namelist())
        assert "evidence/profile-legacy-1.redacted.json" in names_in
        assert "evidence/profile-legacy-1.json" not in names_in
        assert "reports/datasheet-legacy-1.withheld.txt" in names_in
        assert "reports/datasheet-legacy-1.md" not in names_in
        profile_doc = json.loads(z.read("evidence/profile-legacy-1.redacted.json"))
        assert profile_doc["redacted_from"] == f"sha256:{old.profile_digest}"
        for name in names_in:
            assert not leaks(names, z.read(name)), name
    verified = run_cli_here("bundle", "verify", str(out))
    assert verified.returncode in (0, 1), verified.stdout + verified.stderr


def test_a_redacted_validation_check_keeps_counts_and_drops_values() -> None:
    doc = {
        "checks": [
            {
                "name": "a",
                "type": "allowed_values",
                "column": "name",
                "observed": 3,
                "detail": "3 rows violate it: 'Ann Smith' (2), 'Bo Li' (1)",
                "passed": False,
            },
            {
                "name": "b",
                "type": "mean",
                "column": "dob_days",
                "observed": 12345.5,
                "detail": "",
                "passed": True,
            },
            {
                "name": "c",
                "type": "mean",
                "column": "income",
                "observed": 10.0,
                "detail": "",
                "passed": True,
            },
            {
                "name": "d",
                "type": "allowed_values",
                "column": "name",
                "observed": 3,
                "offending": [["Ann Smith", 2]],
                "passed": False,
                "detail": "",
            },
        ]
    }
    out = redaction.redact_validation(doc, ["name", "dob_days"])
    a, b, c, d = out["checks"]
    assert a["observed"] == 3 and "Ann" not in json.dumps(a) and a["passed"] is False
    assert b["observed"] == redaction.WITHHELD
    assert c == doc["checks"][2]
    assert "offending" not in d  # a key the filter does not know is dropped, not passed on


SCHEMAS = {"raw": ["name", "dob", "age", "x"], "other": ["id", "email", "score"]}
TAGS = {"raw": (["name", "dob"], ["age"]), "other": (["email"], [])}


def _tags(sql: str, outputs: list[str], **kw: Any) -> column_lineage.Tags:
    traced = column_lineage.derive(sql, SCHEMAS, outputs)
    return column_lineage.propagate(
        traced,
        TAGS,
        pii=kw.get("pii", []),
        sensitive=kw.get("sensitive", []),
        not_pii=kw.get("not_pii", {}),
        not_sensitive=kw.get("not_sensitive", {}),
    )


@pytest.mark.parametrize(
    ("sql", "outputs", "pii", "sensitive"),
    [
        ("SELECT name, dob FROM raw", ["name", "dob"], ["dob", "name"], []),
        (
            "SELECT upper(name) || '!' AS n, CASE WHEN age > 30 THEN 1 ELSE 0 END AS old, x "
            "FROM raw",
            ["n", "old", "x"],
            ["n"],
            ["old"],
        ),
        ("SELECT * FROM raw", ["name", "dob", "age", "x"], ["dob", "name"], ["age"]),
        (
            "SELECT r.x, o.email AS contact, o.score FROM raw r JOIN other o ON r.x = o.id",
            ["x", "contact", "score"],
            ["contact"],
            [],
        ),
        (
            "WITH t AS (SELECT concat(name, x) AS k, age FROM raw) SELECT k, age + 1 AS a FROM t",
            ["k", "a"],
            ["k"],
            ["a"],
        ),
        ("SELECT x, count(*) AS n FROM raw GROUP BY x", ["x", "n"], [], []),
    ],
)
def test_tags_follow_column_lineage(
    sql: str, outputs: list[str], pii: list[str], sensitive: list[str]
) -> None:
    tags = _tags(sql, outputs)
    assert (tags.pii, tags.sensitive, tags.notice) == (sorted(pii), sorted(sensitive), "")


def test_sql_that_cannot_be_traced_keeps_every_tag_and_says_so() -> None:
    # DuckDB's own COLUMNS(*) is not traced column by column: every input tag applies.
    tags = _tags("SELECT COLUMNS(c -> c LIKE '%a%') FROM raw", ["name", "age"])
    assert tags.pii == ["age", "name"] and tags.sensitive == ["age", "name"]
    assert "could not be traced" in tags.notice
    mismatch = _tags("SELECT name FROM raw", ["name", "extra"])
    assert "could not be traced" in mismatch.notice and mismatch.pii == ["extra", "name"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT to_json(raw) AS blob, x FROM raw",
        "SELECT raw AS r, x FROM raw",
        "SELECT CAST(raw AS VARCHAR) AS t, x FROM raw",
        "SELECT (raw).name AS n, x FROM raw",
        "SELECT struct_pack(*) AS s, x FROM raw",
        "SELECT COLUMNS('na.*') AS c, x FROM raw",
        "SELECT * LIKE 'na%' AS c, x FROM raw",
        "SELECT #1 AS born, x FROM raw",
        "WITH t AS (SELECT to_json(raw) AS j FROM raw) SELECT j AS blob, 1 AS x FROM t",
    ],
)
def test_sql_that_reads_columns_without_naming_them_keeps_every_tag(sql: str) -> None:
    """Whole rows as values, unexpanded stars, COLUMNS(…) and positions hide what they read:
    the lineage is not trusted, and every input tag applies to every output."""
    tags = _tags(sql, ["blob", "x"])
    assert "could not be traced" in tags.notice, tags
    assert tags.pii == ["blob", "x"]


def test_a_constant_column_inherits_nothing() -> None:
    tags = _tags(
        "SELECT 1 AS one, CAST(NULL AS VARCHAR) AS nothing, x FROM raw", ["one", "nothing", "x"]
    )
    assert (tags.pii, tags.notice) == ([], "")


def test_a_pivot_over_an_input_with_pii_is_refused(
    pipeline: dict[str, Any], tmp_path: Path
) -> None:
    """A PIVOT names columns by values: people's names would become column names in the
    view's signed event. Refused before anything is stored or recorded."""
    ws = pipeline["ws"]
    before = ws.ledger.head()
    write(
        tmp_path,
        "p.sql",
        "PIVOT (SELECT region, full_name, age FROM raw) "
        "ON full_name USING sum(age) GROUP BY region",
    )
    view = write(
        tmp_path,
        "p.toml",
        '[view]\nname = "pivoted"\nsql = "p.sql"\n[inputs]\nraw = "people@1"\n',
    )
    with pytest.raises(UsageError, match="PIVOT"):
        features.build(ws, "alice", view)
    assert ws.ledger.head() == before


def test_declared_exceptions_need_a_real_column_and_a_reason() -> None:
    sql = "SELECT age // 10 AS band, name FROM raw"
    tags = _tags(sql, ["band", "name"], not_sensitive={"band": "coarsened to decades"})
    assert tags.sensitive == [] and tags.not_sensitive == {"band": "coarsened to decades"}
    with pytest.raises(UsageError, match="not a column of the view"):
        _tags(sql, ["band", "name"], not_pii={"nme": "typo"})
    with pytest.raises(UsageError, match="give the reason"):
        _tags(sql, ["band", "name"], not_pii={"name": " "})
    with pytest.raises(UsageError, match="declared both"):
        _tags(sql, ["band", "name"], pii=["name"], not_pii={"name": "x"})


def test_a_view_file_refuses_unknown_and_mistyped_tags(tmp_path: Path) -> None:
    write(tmp_path, "v.sql", "SELECT 1 AS one FROM raw")
    base = '[view]\nname = "v"\nsql = "v.sql"\n[inputs]\nraw = "people@1"\n[tags]\n'
    with pytest.raises(UsageError, match=r"not_pi.*not a known key"):
        features.load_view(write(tmp_path, "a.toml", base + 'not_pi = { one = "x" }\n'))
    with pytest.raises(UsageError, match="not_pii"):
        features.load_view(write(tmp_path, "b.toml", base + 'not_pii = ["one"]\n'))
    with pytest.raises(UsageError, match=r"not_pii\.one"):
        features.load_view(write(tmp_path, "c.toml", base + "not_pii = { one = 3 }\n"))


def test_lineage_matches_names_as_duckdb_does_whatever_their_case() -> None:
    schemas = {"raw": ["Name", "DOB", "x"]}
    traced = column_lineage.derive(
        "SELECT name, upper(DoB) AS d, X FROM RAW", schemas, ["Name", "d", "x"]
    )
    assert traced.notice == ""
    assert traced.sources == {
        "Name": {("raw", "Name")},
        "d": {("raw", "DOB")},
        "x": {("raw", "x")},
    }


def test_rebuilding_a_view_recorded_without_its_tags_records_them(
    pipeline: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view built before tags followed the data holds the same table with no PII tag."""
    ws: Workspace = pipeline["ws"]
    write(tmp_path, "people.sql", "SELECT full_name, income FROM raw")
    view = write(
        tmp_path, "old.toml", VIEW.replace("people-features", "old-view").split("[tags]")[0]
    )
    with monkeypatch.context() as m:
        m.setattr(features, "propagated_tags", lambda *a: column_lineage.Tags([], []))
        before, created = features.build(ws, "alice", view)
    assert created and before.pii == []
    after, created = features.build(ws, "alice", view)
    assert created and after.version == before.version + 1 and after.pii == ["full_name"]
    assert after.table_digest == before.table_digest
    again, created = features.build(ws, "alice", view)
    assert not created and again.ref == after.ref


def test_a_model_on_a_pii_input_cannot_be_bundled_without_row_data(tmp_path: Path) -> None:
    """The model (its encoder's categories) and its explanations hold values of a PII input."""
    from core.audit import admin

    csv, planted = people(tmp_path, rows=120, seed=5)
    ws = admin.init(tmp_path / "ws", "alice")
    actors.add(ws, "alice", "val", ["validator"])
    keys.create(ws, "val")
    snapshots.add(ws, "alice", csv, dataset="people", pii=PII)
    validation.run(ws, "alice", "people@1", write(tmp_path, "suite.toml", VIEW_SUITE))
    spec = TRAIN.replace("people-features@1", "people@1").replace(
        '["income", "tenure_years"]', '["income", "full_name"]'
    )
    run = training.train(ws, "alice", write(tmp_path, "train.toml", spec))
    models.register(ws, "alice", run.run_id, "leaky")
    models.sign(ws, "val", "leaky@1")
    assert leaks(pattern(planted), ws.objects.read_verified(run.model_digest))  # why it refuses
    out = tmp_path / "leaky.zip"
    ledger = sorted((ws.root / "ledger").rglob("*.log"))
    before = b"".join(p.read_bytes() for p in ledger)
    with pytest.raises(UsageError, match=r"uses PII columns as inputs \(full_name\)"):
        bundle.export(ws, "alice", "leaky@1", out, data="hashes")
    assert not out.exists()
    assert b"".join(p.read_bytes() for p in ledger) == before
    bundle.export(ws, "alice", "leaky@1", out, data="full")  # where the data may go
    assert out.exists()
