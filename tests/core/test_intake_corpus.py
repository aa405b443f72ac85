"""The shared generated corpus (tests/corpus) through `snapshot add`: header-less ', ' files
with names and '?' codes, a title line, repeated headers; checked against pandas."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.data import snapshots
from core.data.reading import ReadOptions
from core.kernel.errors import UsageError
from core.kernel.workspace import Workspace
from tests.corpus import generate


def added(ws: Workspace, path: Path, name: str, **options: object) -> snapshots.Added:
    request = snapshots.SnapshotRequest(path, name, options=ReadOptions(**options))  # type: ignore[arg-type]
    return snapshots.submit_detailed(ws, "alice", request)


def test_the_headerless_census_reads_with_its_names_and_codes(
    ws: Workspace, tmp_path: Path
) -> None:
    table = generate.census_headerless(tmp_path)
    result = added(
        ws, table.path, "census", names=tuple(table.columns), na_values=tuple(table.na_values)
    )
    got = pd.read_parquet(snapshots.parquet_path(ws, result.snapshot))
    expected = pd.read_csv(
        table.path,
        header=None,
        names=table.columns,
        skipinitialspace=True,
        na_values=table.na_values,
        keep_default_na=False,
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    codes = int((expected.isna()).sum().sum())
    assert any(f"'?' read as NULL in {codes} cells" in n for n in result.notices)
    assert any("leading spaces are trimmed" in n for n in result.notices)
    profile = snapshots.load_profile(ws, result.snapshot)
    assert profile["columns"]["workclass"]["nulls"] == int(expected.workclass.isna().sum())


def test_the_titled_file_skips_and_reports_its_title(ws: Workspace, tmp_path: Path) -> None:
    path = generate.with_title_line(tmp_path)
    result = added(ws, path, "titled")
    assert json.loads(result.snapshot.dialect)["skip"] == 1
    assert result.notices == (
        "skipped 1 line above the header (the first: 'Export of 2026-11-30, confidential'); "
        "recorded as skip = 1",
    )
    got = pd.read_parquet(snapshots.parquet_path(ws, result.snapshot))
    pd.testing.assert_frame_equal(got, pd.read_csv(path, skiprows=1), check_dtype=False)


def test_both_repeated_headers_are_named(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'amount' \\(2 times, also as 'Amount'\\), 'date'"):
        added(ws, generate.duplicate_headers(tmp_path), "dupes")
