"""The one-pass table digest and profile, checked against DuckDB and exact arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data import profile, tables
from storage.canonical import canonical_bytes


def _table(rows: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    floats = rng.lognormal(8, 2, rows)
    floats[rng.random(rows) < 0.01] = np.nan
    floats[rng.random(rows) < 0.005] = np.inf
    return pa.table(
        {
            "i": pa.array(rng.integers(-(10**9), 10**9, rows), mask=rng.random(rows) < 0.02),
            "f": pa.array(floats, mask=rng.random(rows) < 0.03),
            "s": pa.array(rng.choice(np.array(["a", "bb", "ccc", ""]), rows)),
            "b": pa.array(rng.random(rows) < 0.4),
            "few": pa.array(rng.integers(0, 7, rows) * 0.5),
        }
    )


def _profile(path: Path) -> tuple[str, dict[str, object]]:
    con = tables.connect()
    try:
        cols = tables.columns(con, tables.parquet_source(path))
        return tables.digest_and_profile(con, path, cols)
    finally:
        con.close()


def test_digest_and_profile_do_not_depend_on_row_groups(tmp_path: Path) -> None:
    """Batches follow row groups; the figures follow the rows alone (blocks cut by row number)."""
    table = _table(200_000)
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    pq.write_table(table, small, row_group_size=1_000)
    pq.write_table(table, large, row_group_size=70_001)
    one, two = _profile(small), _profile(large)
    assert one[0] == two[0]
    assert canonical_bytes(one[1]) == canonical_bytes(two[1])


def test_quantiles_and_histograms_are_duckdbs_on_the_systematic_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above EXACT_ROWS the sample is every k-th row; its figures are quantile_cont's and
    histogram's on those rows (compared at the 12 digits the profile keeps)."""
    monkeypatch.setattr(profile, "EXACT_ROWS", 7_000)
    path = tmp_path / "t.parquet"
    pq.write_table(_table(50_000, seed=9), path, row_group_size=6_007)
    _, prof = _profile(path)
    step = prof["quantile_sample"]["every_kth_row"]  # type: ignore[index]
    assert step == 8 and prof["distinct_method"] == "hyperloglog (approximate)"
    con = duckdb.connect()
    for name in ("i", "f", "few"):
        stats = prof["columns"][name]  # type: ignore[index]
        edges = stats["histogram"]["edges"]
        lo, hi = stats["min"], stats["max"]
        width = (hi - lo) / 10
        inner = [lo + k * width for k in range(1, 10)]
        c = f"CAST({name} AS DOUBLE)"
        qs, hist = con.execute(
            f"SELECT quantile_cont({c}, {list(tables.QUANTILES)}) FILTER (WHERE isfinite({c})), "
            f"histogram({c}, {inner}::DOUBLE[]) FILTER (WHERE isfinite({c})) "
            f"FROM read_parquet('{path}', file_row_number = true) "
            f"WHERE file_row_number % {step} = 0"
        ).fetchone()
        assert stats["quantiles"] == {
            str(q): tables.round_figure(v) for q, v in zip(tables.QUANTILES, qs, strict=True)
        }
        counts = [int(n) for _, n in sorted(hist.items())]
        assert stats["histogram"]["counts"] == (counts + [0] * 10)[:10]
        assert edges[0] == lo and len(edges) == 11
        [(distinct,)] = con.execute(
            f"SELECT approx_count_distinct({name}) FROM read_parquet('{path}')"
        ).fetchall()
        assert stats["distinct"] == distinct


def test_quantile_interpolation_matches_duckdb_on_random_samples() -> None:
    rng = np.random.default_rng(1)
    con = duckdb.connect()
    for _ in range(40):
        n = int(rng.integers(1, 3_000))
        values = np.round(rng.lognormal(10, 1, n), 2)
        numeric = [(tables.Column("x", "DOUBLE", "float"), tables.Figures())]
        fig = numeric[0][1]
        fig.lo, fig.hi = float(values.min()), float(values.max())
        fig.sample = [values]
        out: dict[str, dict[str, dict[str, object]]] = {"columns": {"x": {}}}
        profile._quantiles_and_histograms(numeric, out)
        sample = pa.table({"x": values})  # noqa: F841 (read by DuckDB by name)
        [(expected,)] = con.execute(
            f"SELECT quantile_cont(x, {list(tables.QUANTILES)}) FROM sample"
        ).fetchall()
        assert out["columns"]["x"]["quantiles"] == {
            str(q): tables.round_figure(v) for q, v in zip(tables.QUANTILES, expected, strict=True)
        }


def test_std_is_exact_to_the_recorded_digits_for_a_small_spread(tmp_path: Path) -> None:
    """Values near 1e6 that differ by 1e-3: a one-pass running update loses digits here."""
    rng = np.random.default_rng(5)
    values = rng.normal(0, 1e-3, 70_000) + 1e6
    path = tmp_path / "narrow.parquet"
    pq.write_table(pa.table({"x": values}), path, row_group_size=10_000)
    _, prof = _profile(path)
    exact = [Fraction(v) for v in values]
    mean = sum(exact) / len(exact)
    var = sum((v - mean) ** 2 for v in exact) / (len(exact) - 1)
    stats = prof["columns"]["x"]  # type: ignore[index]
    assert stats["mean"] == tables.round_figure(float(mean))
    assert stats["std"] == tables.round_figure(math.sqrt(var))
