"""Raw files read honestly, on generated tables of other shapes than German credit.

Missing-value codes become NULL in the canonical copy (and are counted: a code that never
occurs is a notice), header-less files take given names, a ``", "`` separator and a title
line are handled and reported, duplicate headers are all named. Every figure is checked
against an independent reading with pandas.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import app
from core.data import snapshots, tables, validation
from core.data.reading import Dialect, ReadOptions
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


def survey(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """A household survey: '?' where an answer is missing, in three of five columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "household": np.arange(n),
            "income": rng.integers(800, 9000, n).astype(str),
            "region": rng.choice(["north", "south", "east"], n),
            "tenure": rng.choice(["own", "rent", "other"], n),
            "children": rng.integers(0, 5, n).astype(str),
        }
    )
    for column, share in (("income", 0.1), ("tenure", 0.05), ("children", 0.2)):
        frame.loc[rng.random(n) < share, column] = "?"
    return frame


def add(ws: Workspace, path: Path, name: str, **options: object) -> snapshots.Added:
    request = snapshots.SnapshotRequest(path, name, options=ReadOptions(**options))  # type: ignore[arg-type]
    return snapshots.submit_detailed(ws, "alice", request)


def canonical(ws: Workspace, snap: object) -> pd.DataFrame:
    return pd.read_parquet(snapshots.parquet_path(ws, snap))  # type: ignore[arg-type]


def last_payload(ws: Workspace) -> dict[str, object]:
    return [e.decode() for e in ws.ledger.iter_entries()][-1]["data"]


def test_question_marks_become_null_everywhere_and_are_counted(
    ws: Workspace, tmp_path: Path
) -> None:
    frame = survey()
    frame.to_csv(tmp_path / "survey.csv", index=False)
    codes = (frame == "?").sum()
    added = add(ws, tmp_path / "survey.csv", "survey", na_values=("?", "n/a"))
    snap = added.snapshot
    table = canonical(ws, snap)
    assert table.isna().sum().to_dict() == codes.to_dict()
    kinds = {c["name"]: c["kind"] for c in json.loads(snap.columns)}
    assert kinds["income"] == "int" and kinds["children"] == "int"  # numbers once '?' is NULL
    expected = pd.to_numeric(frame.income.replace("?", None))
    assert table.income.astype("float").equals(expected.astype("float"))
    profile = snapshots.load_profile(ws, snap)
    assert {c: profile["columns"][c]["nulls"] for c in frame} == codes.to_dict()
    cells = ", ".join(f"{c} {n}" for c, n in codes.items() if n)
    assert f"missing-value code '?' read as NULL in {codes.sum()} cells ({cells})" in added.notices
    assert "missing-value code 'n/a' never occurs in any column: nothing replaced" in added.notices
    recorded = last_payload(ws)["dialect"]
    assert recorded["na_values"] == ["?", "n/a"]  # in the signed snapshot.add event
    assert Dialect.from_json(recorded).to_json() == recorded
    suite = tmp_path / "suite.toml"
    suite.write_text('[[checks]]\ntype = "null_rate"\ncolumn = "children"\nmax = 0.05\n')
    _, result = validation.run(ws, "alice", snap.ref, suite)
    [check] = result.checks
    assert check.observed == round(codes["children"] / len(frame), 6) and not check.passed


def test_no_options_keep_the_recorded_dialect_as_it_was(ws: Workspace) -> None:
    snap, _ = snapshots.add(ws, "alice", SAMPLE / "german.data", dataset="german-credit")
    assert json.loads(snap.dialect) == {
        "format": "csv",
        "delimiter": " ",
        "header": False,
        "quote": '"',
        "encoding": "utf-8",
    }


def test_codes_for_one_column_and_for_parquet_and_json_input(ws: Workspace, tmp_path: Path) -> None:
    frame = survey(seed=5)
    frame["score"] = np.where(frame.household % 7 == 0, -999, frame.household * 2)
    frame.to_parquet(tmp_path / "survey.parquet", index=False)
    frame.to_json(tmp_path / "survey.jsonl", orient="records", lines=True)
    for path in (tmp_path / "survey.parquet", tmp_path / "survey.jsonl"):
        added = add(
            ws,
            path,
            path.suffix[1:],
            na_values=("?",),
            column_na_values=(("score", "-999"), ("region", "west")),
        )
        table = canonical(ws, added.snapshot)
        assert table.isna().sum().to_dict() == {
            **(frame == "?").sum().to_dict(),
            "score": int((frame.score == -999).sum()),
        }
        kinds = {c["name"]: c["kind"] for c in json.loads(added.snapshot.columns)}
        assert kinds["income"] == "int" and kinds["region"] == "str"
        types = {c["name"]: c["type"] for c in json.loads(added.snapshot.columns)}
        plain = add(ws, path, path.suffix[1:] + "-plain").snapshot
        plain_types = {c["name"]: c["type"] for c in json.loads(plain.columns)}
        assert types["score"] == plain_types["score"]  # a code in a number column keeps its type
        assert "missing-value code 'west' never occurs in column 'region': nothing replaced" in (
            added.notices
        )
        assert any(
            f"'-999' read as NULL in {(frame.score == -999).sum()} cells" in n
            for n in added.notices
        )
    csv_only = tmp_path / "survey.csv"
    frame.to_csv(csv_only, index=False)
    added = add(ws, csv_only, "csv", column_na_values=(("income", "?"),))
    table = canonical(ws, added.snapshot)
    assert table.income.isna().sum() == (frame.income == "?").sum()
    assert (table.tenure == "?").sum() == (frame.tenure == "?").sum()  # only income's codes
    assert last_payload(ws)["dialect"]["column_na_values"] == {"income": ["?"]}
    head = ws.ledger.head()
    with pytest.raises(UsageError, match="names column 'incme', which is not in the file"):
        add(ws, csv_only, "csv2", column_na_values=(("incme", "?"),))
    with pytest.raises(UsageError, match="needs a code"):
        add(ws, csv_only, "csv2", na_values=("",))
    assert ws.ledger.head() == head


def test_the_same_bytes_with_other_codes_are_another_version(ws: Workspace, tmp_path: Path) -> None:
    survey().to_csv(tmp_path / "s.csv", index=False)
    plain = add(ws, tmp_path / "s.csv", "s")
    coded = add(ws, tmp_path / "s.csv", "s", na_values=("?",))
    assert plain.created and coded.created and coded.snapshot.ref == "s@2"
    assert plain.snapshot.table_digest != coded.snapshot.table_digest
    again = add(ws, tmp_path / "s.csv", "s", na_values=("?",))
    assert not again.created and again.snapshot.ref == "s@2"
    assert add(ws, tmp_path / "s.csv", "s").snapshot.ref == "s@1"


def headerless(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """An adult-census-like extract: no header, ', ' between values, ' ?' for missing."""
    rows = [
        (39, "State-gov", "Bachelors", 40),
        (50, "Self-emp", "?", 13),
        (38, "Private", "HS-grad", 40),
        (53, "?", "11th", 40),
        (28, "Private", "Bachelors", 35),
    ]
    path = tmp_path / "adult.data"
    path.write_text("".join(", ".join(map(str, r)) + "\n" for r in rows))
    frame = pd.read_csv(
        path, header=None, names=["age", "workclass", "education", "hours"], skipinitialspace=True
    )
    return path, frame


def test_a_headerless_comma_space_file_takes_names_trims_and_says_so(
    ws: Workspace, tmp_path: Path
) -> None:
    path, frame = headerless(tmp_path)
    names = ("age", "workclass", "education", "hours")
    added = add(ws, path, "adult", names=names, na_values=("?",))
    table = canonical(ws, added.snapshot)
    assert list(table.columns) == list(names)
    expected = frame.replace("?", None)
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert any(
        "leading spaces are trimmed" in n and "(3 columns had them)" in n for n in added.notices
    )
    assert "missing-value code '?' read as NULL in 2 cells (workclass 1, education 1)" in (
        added.notices
    )
    recorded = json.loads(added.snapshot.dialect)
    assert recorded["names"] == list(names) and recorded["trim"] is True
    assert recorded["header"] is False
    for bad, message in [
        (("age", "workclass", "education"), "gives 3 names but adult.data has 4 columns"),
        (("a", "b", "A", "b"), "repeats the column names 'a' \\(2 times, also as 'A'\\), 'b'"),
    ]:
        with pytest.raises(UsageError, match=message):
            add(ws, path, "adult2", names=bad)
    with pytest.raises(UsageError, match="--columns is for a file without a header"):
        add(ws, path, "adult2", names=names, header=True)
    frame.to_parquet(tmp_path / "adult.parquet")
    with pytest.raises(UsageError, match="header-less CSV"):
        add(ws, tmp_path / "adult.parquet", "adult2", names=names)


@pytest.mark.parametrize(
    "junk", ["Visits to the clinic, spring 2024", "# exported by the ward system"]
)
def test_a_line_above_the_header_is_skipped_recorded_and_reported(
    ws: Workspace, tmp_path: Path, junk: str
) -> None:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "ward": rng.choice(["a", "b"], 50),
            "beds": rng.integers(1, 30, 50),
            "rate": rng.random(50),
        }
    )
    path = tmp_path / "visits.csv"
    path.write_text(junk + "\n" + frame.to_csv(index=False))
    added = add(ws, path, "visits")
    [notice] = added.notices
    assert notice.startswith(f"skipped 1 line above the header (the first: {junk!r})")
    recorded = json.loads(added.snapshot.dialect)
    assert recorded["skip"] == 1 and recorded["delimiter"] == ","
    table = canonical(ws, added.snapshot)
    pd.testing.assert_frame_equal(table, frame, check_dtype=False)
    # A re-read with the recorded dialect alone reads the same table.
    con = tables.connect()
    again = con.execute(
        f"SELECT * FROM {tables.source_sql(path, Dialect.from_json(recorded))}"
    ).df()
    pd.testing.assert_frame_equal(again, frame, check_dtype=False)


def test_every_duplicate_header_name_is_named(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("id,Name,score,name,id,score,id\n1,a,2,b,3,4,5\n")
    with pytest.raises(UsageError) as caught:
        add(ws, path, "dup")
    assert caught.value.msg.endswith(
        "the header repeats the column names 'id' (3 times), 'Name' (2 times, also as 'name'), "
        "'score' (2 times)"
    )


def test_the_cli_reads_na_values_and_columns_and_prints_notices(tmp_path: Path) -> None:
    runner = CliRunner()

    def invoke(*args: str) -> object:
        return runner.invoke(
            app,
            ["--workspace", str(tmp_path / "ws"), "--as", "alice", *args],
            catch_exceptions=False,
        )

    assert invoke("init", "--reason", "tests").exit_code == 0
    path, _ = headerless(tmp_path)
    shown = invoke(
        "snapshot",
        "add",
        str(path),
        "--dataset",
        "adult",
        "--columns",
        "age,workclass,education,hours",
        "--na-values",
        "?",
        "--na-values",
        "hours=-1",
    )
    assert shown.exit_code == 0, shown.output
    assert "notice: values follow the delimiter ','" in shown.stderr
    assert "notice: missing-value code '-1' never occurs in column 'hours'" in shown.stderr
    again = invoke(
        "snapshot",
        "add",
        str(path),
        "--dataset",
        "adult2",
        "--names",
        "age,workclass,education,hours",
        "--na-values",
        "?",
        "--json",
    )
    doc = json.loads(again.stdout)
    assert doc["dialect"]["names"] == ["age", "workclass", "education", "hours"]
    assert any("read as NULL in 2 cells" in n for n in doc["notices"])
    for bad in (["--na-values", "=x"], ["--columns", "a,,b,c"]):
        refused = invoke("snapshot", "add", str(path), "--dataset", "adult3", *bad)
        assert refused.exit_code == 2, refused.output


def test_the_data_sheet_says_how_the_file_was_read(ws: Workspace, tmp_path: Path) -> None:
    from core.documents import datasheet

    survey().to_csv(tmp_path / "s.csv", index=False)
    add(ws, tmp_path / "s.csv", "s")
    add(ws, tmp_path / "s.csv", "s", na_values=("?",))
    plain, _ = datasheet.write(ws, "alice", "s@1", tmp_path / "one")
    coded, _ = datasheet.write(ws, "alice", "s@2", tmp_path / "two")
    assert "values unchanged" in plain.read_text()
    text = coded.read_text()
    assert "values unchanged" not in text and 'na_values = ["?"]' in text


def test_a_title_line_above_a_comma_space_file(ws: Workspace, tmp_path: Path) -> None:
    """Every line has two spaces, so Python's sniffer takes the space for the delimiter: the
    spaces all follow commas, so the comma is the delimiter and the title a skipped line."""
    rng = np.random.default_rng(2)
    n = 60
    status = rng.choice(["ok", "bad", "?"], n)
    dose = [str(v) if v % 9 else "x" for v in rng.integers(1, 50, n)]
    path = tmp_path / "clinic.csv"
    lines = ["Clinic export 2024", "id, status, dose"]
    lines += [f"{i}, {s}, {d}" for i, (s, d) in enumerate(zip(status, dose, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    added = add(ws, path, "clinic", na_values=("?",), column_na_values=(("dose", "x"),))
    recorded = json.loads(added.snapshot.dialect)
    assert (recorded["delimiter"], recorded["skip"], recorded["trim"]) == (",", 1, True)
    expected = pd.read_csv(
        path, skiprows=1, skipinitialspace=True, na_values={"status": ["?"], "dose": ["x"]}
    )
    pd.testing.assert_frame_equal(canonical(ws, added.snapshot), expected, check_dtype=False)
    assert len(added.notices) == 4


def test_a_line_skipped_above_data_rows_is_described_not_quoted(
    ws: Workspace, tmp_path: Path
) -> None:
    """Above a header the skipped line is a title (quoted, so the user can check it); above
    data rows it may be a person's row, so the notice gives its shape, not its text."""
    rows = "".join(f"Person {i},p{i}@planted.invalid,{20 + i % 50}\n" for i in range(300))
    path = tmp_path / "people.csv"
    path.write_text("Zebedee Quux-9999\n" + rows)
    added = snapshots.submit_detailed(
        ws,
        "alice",
        snapshots.SnapshotRequest(
            path,
            "people",
            pii=("name", "email"),
            options=ReadOptions(header=False, delimiter=",", names=("name", "email", "age")),
        ),
    )
    [notice] = [n for n in added.notices if n.startswith("skipped")]
    assert "Zebedee" not in notice and "17 characters, 1 field" in notice
    assert added.snapshot.rows == 300
