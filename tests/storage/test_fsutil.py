"""Temporary files are named after their process, and swept once that process is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from storage.fsutil import private_dir, private_file, sweep_temp, temp_prefix


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_sweep_removes_only_what_dead_processes_left(tmp_path: Path) -> None:
    dead = _dead_pid()
    (tmp_path / f".tmp-{dead}-abc123").write_bytes(b"torn copy")
    (tmp_path / f".ingest-{dead}-xyz").mkdir()
    (tmp_path / f".ingest-{dead}-xyz" / "part.parquet").write_bytes(b"big")
    live = tmp_path / f"{temp_prefix()}live"
    live.write_bytes(b"still being written")
    fresh_legacy = tmp_path / ".tmp-k2j4h5g6"
    fresh_legacy.write_bytes(b"an older release, maybe still at work")
    old_legacy = tmp_path / ".tmp-12345678"  # all digits, but no dash: not a process id
    old_legacy.write_bytes(b"left days ago")
    two_days = time.time() - 2 * 24 * 3600
    os.utime(old_legacy, (two_days, two_days))
    keep = tmp_path / "blob"
    keep.write_bytes(b"not a temporary file")

    assert sweep_temp(tmp_path) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live.name, fresh_legacy.name, keep.name]
    )
    assert sweep_temp(tmp_path) == 0
    assert sweep_temp(tmp_path / "missing") == 0


def test_private_folders_and_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        folder = private_dir(tmp_path / "a" / "b" / "c")
        fd = private_file(folder / "f", os.O_WRONLY)
        os.close(fd)
    finally:
        os.umask(old)
    for p in (tmp_path / "a", tmp_path / "a" / "b", folder):
        assert p.stat().st_mode & 0o777 == 0o700, p
    assert (folder / "f").stat().st_mode & 0o777 == 0o600
