"""What the erasure tests share: a small table, holds placed the real way, byte scans."""

from __future__ import annotations

import re
from pathlib import Path

from core.identity.actors import needs
from core.kernel import command
from core.kernel.kinds import new_event
from core.kernel.workspace import Workspace
from core.privacy.events import HOLD_ROLES, HoldPlaced, HoldReleased


def small_csv(folder: Path, name: str, rows: int = 40, *, tag: str = "") -> Path:
    """A CSV of loans with a unique customer id per row (``C-<tag>-<i>``) and a region."""
    lines = ["customer_id,region,amount,repaid"]
    for i in range(rows):
        lines.append(f"C-{tag or name}-{i:04d},{('north', 'south')[i % 2]},{100 + i},{i % 2}")
    path = folder / f"{name}.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def hold(ws: Workspace, actor: str, target: str, reason: str) -> int:
    """Place a legal hold (``data.hold``) through the command kernel; its event number."""
    return int(
        command.run(
            ws,
            actor,
            guards=[needs(*HOLD_ROLES, action="place holds")],
            commit=lambda s, _: (
                s.commit(new_event(s.actor, HoldPlaced(target), [target], reason)).seq
            ),
        )
    )


def release(ws: Workspace, actor: str, seq: int, target: str, reason: str) -> None:
    """Lift a hold (``data.release``)."""
    command.run(
        ws,
        actor,
        guards=[needs(*HOLD_ROLES, action="lift holds")],
        commit=lambda s, _: s.commit(
            new_event(s.actor, HoldReleased(seq, target), [target], reason)
        ),
    )


def ledger_bytes(ws: Workspace) -> bytes:
    """Every ledger segment's bytes: equal before and after means nothing was recorded."""
    return b"".join(p.read_bytes() for p in sorted((ws.root / "ledger" / "segments").glob("*")))


def actions(ws: Workspace) -> list[str]:
    """The action of every event, in order."""
    return [str(e.decode()["action"]) for e in ws.ledger.iter_entries()]


def readable(path: Path, data: bytes) -> list[bytes]:
    """The bytes of a file as stored, plus what a reader could decode from them.

    Stored bytes alone would make the scan kind: Parquet pages are zstd-compressed and
    DuckDB compresses strings in its file (FSST, dictionaries), so a planted value can sit
    in them without appearing byte for byte. A plaintext Parquet file is therefore also read
    back as text, and a DuckDB file dumped table by table, so the scan finds what any reader
    with the file could find. Encrypted Parquet (magic ``PARE``) and sealed objects are
    read as stored: without their key nobody can decode them.
    """
    import io

    out = [data]
    if data[:4] == b"PAR1" and data[-4:] == b"PAR1":
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pacsv.write_csv(pq.read_table(io.BytesIO(data)), buf)
        out.append(buf.getvalue())
    if path.suffix == ".duckdb":
        import shutil
        import tempfile

        import duckdb

        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "copy.duckdb"
            shutil.copyfile(path, copy)
            con = duckdb.connect(str(copy), read_only=True)
            try:
                for (table,) in con.execute(
                    "SELECT table_name FROM information_schema.tables"
                ).fetchall():
                    rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
                    out.append(repr(rows).encode())
            finally:
                con.close()
    return out


def _hits(path: Path, data: bytes, pattern: re.Pattern[bytes]) -> list[str]:
    found: set[str] = set()
    for view in readable(path, data):
        found |= {m.group(0).decode() for m in pattern.finditer(view)}
    return sorted(found)


def scan(root: Path, pattern: re.Pattern[bytes]) -> dict[str, list[str]]:
    """Every file under ``root`` a reader could find a match of ``pattern`` in (see
    :func:`readable`), with up to three of the matches."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hits = _hits(path, path.read_bytes(), pattern)
        if hits:
            found[str(path.relative_to(root))] = hits[:3]
    return found


def scan_zip(path: Path, pattern: re.Pattern[bytes]) -> dict[str, list[str]]:
    """Every member of a zip (decompressed, and decoded as :func:`readable` does)."""
    import zipfile

    found: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            hits = _hits(Path(info.filename), archive.read(info), pattern)
            if hits:
                found[info.filename] = hits[:3]
    return found
