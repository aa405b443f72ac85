"""Everything a workspace holds is its owner's alone: files 0600, folders 0700."""

from __future__ import annotations

import os
from pathlib import Path

from core.audit import admin, checkpoints
from core.data import snapshots, validation
from core.identity import actors

SAMPLE = Path(__file__).parents[2] / "sample_data" / "german-credit"


def test_a_workspace_in_use_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual default: new files 0644, folders 0755
    try:
        root = tmp_path / "ws"
        ws = admin.init(root, "alice", reason="test")
        actors.add(ws, "alice", "dana", ["data-steward"])
        snapshots.add(ws, "dana", SAMPLE / "german.data", dataset="credit", pii=["column00"])
        validation.run(ws, "alice", "credit@1", SAMPLE / "raw_suite.toml")
        checkpoints.checkpoint(ws, "alice")
    finally:
        os.umask(old)
    loose = []
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        if path.name.endswith(".wal"):  # DuckDB's write-ahead log, gone at a clean close
            continue
        if mode & 0o077:
            loose.append(f"{path.relative_to(tmp_path)} {mode:o}")
    assert loose == []
