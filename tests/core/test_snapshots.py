"""Snapshots on real files: formats, the table digest, profiles, dedupe and bad input."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import struct
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.data import snapshots, tables
from core.kernel.errors import NotFoundError, PermissionDeniedError, UsageError
from core.kernel.workspace import Workspace
from storage.canonical import canonical_bytes

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit" / "german.data"
BAD = Path(__file__).parents[1] / "data" / "bad_inputs"


def reference_digest(header: list[tuple[str, str]], rows: list[tuple[object, ...]]) -> str:
    """The table digest written from its definition in core/data/tables.py, in plain Python."""
    streams = []
    for index, (name, kind) in enumerate(header):
        validity, values, data = b"", b"", b""
        for row in rows:
            value = row[index]
            validity += b"\x00" if value is None else b"\x01"
            if kind == "str":
                text = b"" if value is None else str(value).encode()
                values += struct.pack("<Q", len(text))
                data += text
            elif kind == "float":
                v = 0.0 if value is None else float(value)  # type: ignore[arg-type]
                values += (
                    struct.pack("<Q", 0x7FF8000000000000) if math.isnan(v) else struct.pack("<d", v)
                )
            else:
                values += struct.pack("<q", 0 if value is None else int(value))  # type: ignore[call-overload]
        streams.append(
            [name, kind, *(hashlib.sha256(b).hexdigest() for b in (validity, values, data))]
        )
    doc = {"v": 2, "rows": len(rows), "columns": streams}
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


@pytest.fixture
def steward_ws(ws: Workspace) -> Workspace:
    from core.identity import actors

    actors.add(ws, "alice", "dana", ["data-steward"])
    return ws


MIXED_CSV = (
    'id,score,name,ok\n1,0.1,x,true\n2,nan,,false\n3,inf,"q,r",\n4,-inf,z,true\n,1e16,w,false\n'
)
MIXED_ROWS = [
    (1, 0.1, "x", True),
    (2, math.nan, None, False),
    (3, math.inf, "q,r", None),
    (4, -math.inf, "z", True),
    (None, 1e16, "w", False),
]
MIXED_HEADER = [("id", "int"), ("score", "float"), ("name", "str"), ("ok", "bool")]


def test_same_rows_as_csv_parquet_and_jsonl_share_one_table_digest(
    steward_ws: Workspace, tmp_path: Path
) -> None:
    csv_path = tmp_path / "mixed.csv"
    csv_path.write_text(MIXED_CSV)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv_path}')) TO '{tmp_path / 'm.parquet'}'")
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv_path}') WHERE isfinite(score) OR "
        f"score IS NULL) TO '{tmp_path / 'finite.jsonl'}'"
    )
    as_csv, _ = snapshots.add(steward_ws, "dana", csv_path, dataset="mixed")
    as_parquet, created = snapshots.add(steward_ws, "dana", tmp_path / "m.parquet", dataset="mixed")
    assert created and as_parquet.version == 2
    assert as_csv.table_digest == as_parquet.table_digest
    assert as_csv.raw_digest != as_parquet.raw_digest
    assert as_csv.table_digest == reference_digest(MIXED_HEADER, MIXED_ROWS)
    # JSON has no NaN or infinity: the finite rows alone, read from JSON Lines, match too.
    finite, _ = snapshots.add(steward_ws, "dana", tmp_path / "finite.jsonl", dataset="finite")
    assert finite.table_digest == reference_digest(
        MIXED_HEADER, [r for r in MIXED_ROWS if r[1] is None or math.isfinite(r[1])]
    )


def test_nan_inf_and_null_are_counted_apart(steward_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(MIXED_CSV)
    snap, _ = snapshots.add(steward_ws, "dana", path, dataset="mixed")
    score = snapshots.load_profile(steward_ws, snap)["columns"]["score"]
    assert (score["nulls"], score["nan"], score["pos_inf"], score["neg_inf"]) == (0, 1, 1, 1)
    assert score["min"] == 0.1 and score["max"] == 1e16
    ident = snapshots.load_profile(steward_ws, snap)["columns"]["id"]
    assert ident["nulls"] == 1 and ident["distinct"] == 4


@settings(max_examples=50, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_duckdb_prints_floats_as_python_repr(value: float) -> None:
    """The digest definition says repr(float); DuckDB's cast must agree, or it is wrong."""
    con = duckdb.connect()
    row = con.execute("SELECT CAST(CAST(? AS DOUBLE) AS VARCHAR)", [value]).fetchone()
    assert row is not None and row[0] == repr(value)


def test_german_credit_snapshot_provenance_profile_and_dedupe(steward_ws: Workspace) -> None:
    snap, created = snapshots.add(
        steward_ws,
        "dana",
        SAMPLE,
        dataset="german-credit",
        provenance={"source": "UCI"},
        sensitive=["column08", "column12"],
        retention="7y",
        reason="intake",
    )
    assert created and snap.ref == "german-credit@1" and snap.rows == 1000
    assert snap.raw_digest == "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"
    assert steward_ws.objects.read_verified(snap.raw_digest) == SAMPLE.read_bytes()
    assert json.loads(snap.dialect) == {
        "delimiter": " ",
        "encoding": "utf-8",
        "format": "csv",
        "header": False,
        "quote": '"',
    }
    assert len(json.loads(snap.columns)) == 21
    profile = snapshots.load_profile(steward_ws, snap)
    age = profile["columns"]["column12"]
    assert (age["min"], age["max"]) == (19, 75) and sum(age["histogram"]["counts"]) == 1000
    assert profile["columns"]["column20"]["top_values"] == [["1", 700], ["2", 300]]
    head = steward_ws.ledger.head()
    again, created = snapshots.add(steward_ws, "dana", SAMPLE, dataset="german-credit")
    assert not created and again.ref == snap.ref and steward_ws.ledger.head() == head
    # A second description of the same bytes is not applied, and says which fields differ.
    assert (
        snapshots.unapplied(again, provenance={"source": "UCI"}, sensitive=["column12", "column08"])
        == []
    )
    assert snapshots.unapplied(
        again, provenance={"source": "bank", "consent": ""}, pii=["column00"], retention="90d"
    ) == ["source", "pii", "retention"]
    assert snapshots.show(steward_ws, "german-credit").ref == "german-credit@1"
    assert snapshots.show(steward_ws, f"sha256:{snap.table_digest[:10]}").ref == snap.ref


def test_the_digest_does_not_depend_on_the_run(steward_ws: Workspace, tmp_path: Path) -> None:
    copy = tmp_path / "again.data"
    shutil.copy(SAMPLE, copy)
    one, _ = snapshots.add(steward_ws, "dana", SAMPLE, dataset="a")
    two, _ = snapshots.add(steward_ws, "dana", copy, dataset="b")
    assert one.table_digest == two.table_digest
    assert one.profile_digest == two.profile_digest  # the profile is deterministic too


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "empty"),
        ("ragged.csv", "parsing dialect|Expected Number of Columns|columns"),
        ("latin1.csv", "not valid UTF-8"),
        ("duplicate_header.csv", "repeats the column name 'Age' \\(2 times, also as 'age'\\)$"),
        (
            "duplicate_headers.csv",
            "repeats the column names 'id' \\(3 times\\), 'score' \\(2 times, also as 'Score'\\), "
            "'ward' \\(2 times, also as 'WARD'\\)$",
        ),
        ("corrupt_footer.parquet", "[Ff]ooter|[Pp]arquet"),
        ("binary.bin", "unknown format"),
        ("not_json.jsonl", "JSON|json"),
    ],
)
def test_bad_input_is_refused_and_records_nothing(
    steward_ws: Workspace, name: str, message: str
) -> None:
    head = steward_ws.ledger.head()
    with pytest.raises(UsageError, match=message):
        snapshots.add(steward_ws, "dana", BAD / name, dataset="bad")
    assert steward_ws.ledger.head() == head
    assert snapshots.list_snapshots(steward_ws) == []


def test_long_fields(steward_ws: Workspace, tmp_path: Path) -> None:
    over_python = tmp_path / "long.csv"
    over_python.write_text("a,b\n1," + "y" * 200_000 + "\n2,short\n")
    snap, _ = snapshots.add(steward_ws, "dana", over_python, dataset="long")
    b = snapshots.load_profile(steward_ws, snap)["columns"]["b"]
    assert b["max_length"] == 200_000
    over_duckdb = tmp_path / "huge.csv"
    over_duckdb.write_text("a,b\n1," + "x" * 3_000_000 + "\n")
    head = steward_ws.ledger.head()
    with pytest.raises(UsageError, match=r"cannot read huge\.csv"):
        snapshots.add(steward_ws, "dana", over_duckdb, dataset="huge")
    assert steward_ws.ledger.head() == head


def test_overrides_unknown_columns_names_and_roles(steward_ws: Workspace, tmp_path: Path) -> None:
    latin = snapshots.add(
        steward_ws,
        "dana",
        BAD / "latin1.csv",
        dataset="people",
        options=tables.ReadOptions(encoding="latin-1"),
    )[0]
    top = snapshots.load_profile(steward_ws, latin)["columns"]["name"]["top_values"]
    assert ["José", 1] in top
    with pytest.raises(UsageError, match="PII column 'email' is not in the table"):
        snapshots.add(steward_ws, "dana", SAMPLE, dataset="gc", pii=["email"])
    with pytest.raises(UsageError, match="invalid dataset name"):
        snapshots.add(steward_ws, "dana", SAMPLE, dataset="Bad Name")
    with pytest.raises(UsageError, match="invalid retention"):
        snapshots.add(steward_ws, "dana", SAMPLE, dataset="gc", retention="forever")
    with pytest.raises(PermissionDeniedError, match="'data-steward' or 'admin'"):
        snapshots.add(steward_ws, "bob", SAMPLE, dataset="gc")
    with pytest.raises(UsageError, match="no such file"):
        snapshots.add(steward_ws, "dana", tmp_path / "nope.csv", dataset="gc")
    with pytest.raises(NotFoundError, match="no snapshot gc@9"):
        snapshots.show(steward_ws, "gc@9")
    headerless = tmp_path / "h.csv"
    headerless.write_text("x,y\n1,2\n")
    snap = snapshots.add(
        steward_ws, "dana", headerless, dataset="h", options=tables.ReadOptions(header=False)
    )[0]
    assert snap.rows == 2 and json.loads(snap.dialect)["header"] is False


def test_diff(steward_ws: Workspace, tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("x,y\n1,a\n2,b\n")
    b = tmp_path / "b.csv"
    b.write_text("x,z\n1,a\n5,b\n7,c\n")
    snapshots.add(steward_ws, "dana", a, dataset="d")
    snapshots.add(steward_ws, "dana", b, dataset="d")
    d = snapshots.diff(steward_ws, "d@1", "d@2")
    assert d["added"] == ["z"] and d["removed"] == ["y"] and d["rows"] == [2, 3]
    assert d["profile"]["x"]["max"] == [2, 7]


def test_refused_tags_store_nothing_and_quotes_in_paths_are_safe(tmp_path: Path) -> None:
    from core.audit import admin

    root = tmp_path / "o'brien" / "ws"
    ws = admin.init(root, "alice")
    before = set(ws.objects.digests())
    with pytest.raises(UsageError, match="PII column 'email'"):
        snapshots.add(ws, "alice", SAMPLE, dataset="gc", pii=["email"])
    assert set(ws.objects.digests()) == before  # nothing published for refused input
    snap, _ = snapshots.add(ws, "alice", SAMPLE, dataset="gc")
    assert snap.rows == 1000


def test_duckdb_never_draws_a_progress_bar_on_stdout() -> None:
    """DuckDB's own bar (queries over 2 s) would corrupt `--json` output and the TUI."""
    from core.data import tables
    from core.kernel.catalog import Catalog

    for con in (tables.connect(), Catalog.memory().con):
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)


def test_a_request_runs_each_check_once(
    steward_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema (PII) check and the duplicate check run once; the role guard before the
    ingest and again at the commit, because the workspace was released in between."""
    from core.data import ingest
    from core.identity import actors

    calls: dict[str, int] = {"columns": 0, "duplicate": 0, "role": 0}

    def counted(name: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(tables, "columns", counted("columns", tables.columns))
    monkeypatch.setattr(
        snapshots, "existing_version", counted("duplicate", ingest.existing_version)
    )
    monkeypatch.setattr(actors, "require", counted("role", actors.require))
    request = snapshots.SnapshotRequest(
        SAMPLE,
        "german-credit",
        provenance={"source": "UCI", "consent": ""},
        pii=("column00",),
        sensitive=snapshots.split_columns("column12, column08,"),
        retention="7y",
        reason="intake",
    )
    snap, created = snapshots.submit(steward_ws, "dana", request)
    assert created and calls == {"columns": 1, "duplicate": 1, "role": 2}
    assert snap.pii == ["column00"] and snap.sensitive == ["column08", "column12"]
    assert json.loads(snap.provenance) == {"source": "UCI"} and snap.retention == "7y"
    event = json.loads(steward_ws.ledger.entry(snap.created_seq).body)
    assert sorted(event["data"]) == sorted(
        ["dataset", "version", "kind", "dialect", "parquet_digest", "table_digest",
         "table_digest_version", "profile_digest", "rows", "columns", "provenance", "pii",
         "sensitive", "retention", "lineage", "raw_digest"]
    )  # fmt: skip
    again, created = snapshots.submit(steward_ws, "dana", request)
    assert not created and again.ref == snap.ref and request.unapplied(again) == []
