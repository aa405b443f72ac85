"""Feature views: a named SQL transform over snapshots, materialised as a new snapshot.

A view is a small TOML file naming a ``.sql`` file (DuckDB dialect) and its inputs::

    [view]
    name = "german-credit-features"
    sql = "features.sql"

    [inputs]
    raw = "german-credit@1"     # the SQL reads the table `raw`

    [tags]
    sensitive = ["sex", "age_years"]
    pii = []
    retention = "7y"

Building registers each input's verified Parquet copy under its alias and runs the SQL in an
in-memory DuckDB that may read nothing else (external access is switched off once the inputs
are bound), so the lineage edges to the inputs and to the transform's hash are the whole
story. The result becomes the next version of the view's dataset; building again from the
same inputs and SQL gives the same table digest and no new version.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import duckdb

from core import snapshots, tables
from core.actors import require
from core.errors import UsageError
from core.progress import NO_PROGRESS, Progress
from core.workspace import Workspace
from storage.objects import sha256_hex
from storage.rows import SnapshotRow

SQL_MEDIA_TYPE = "application/sql"
ROLES = ("data-scientist", "data-steward", "admin")


def load_view(path: Path) -> dict[str, Any]:
    """Parse a feature view file and the SQL it names.

    Raises:
        UsageError: for a malformed file, a missing SQL file or no inputs.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read feature view {path}: {err}") from err
    view = doc.get("view", {})
    if not view.get("name") or not view.get("sql"):
        raise UsageError(f"{path}: [view] needs name and sql")
    inputs = doc.get("inputs", {})
    if not inputs:
        raise UsageError(f'{path}: [inputs] must name at least one snapshot (alias = "ref")')
    for alias in inputs:
        if not alias.isidentifier():
            raise UsageError(f"{path}: input alias {alias!r} is not a valid SQL name")
    sql_path = (path.parent / view["sql"]).resolve()
    try:
        sql_bytes = sql_path.read_bytes()
    except OSError as err:
        raise UsageError(f"{path}: cannot read SQL file {sql_path}: {err}") from err
    tags = doc.get("tags", {})
    return {
        "name": snapshots.check_dataset_name(str(view["name"])),
        "description": str(view.get("description", "")),
        "inputs": {str(k): str(v) for k, v in inputs.items()},
        "sql": sql_bytes,
        "spec": path.read_bytes(),
        "sensitive": list(tags.get("sensitive", [])),
        "pii": list(tags.get("pii", [])),
        "retention": str(tags.get("retention", "")),
    }


def _inherited(view_path: Path, inputs: dict[str, SnapshotRow]) -> dict[str, str]:
    """Provenance of a derived table: the transform, plus what all its inputs agree on."""
    provenance = {
        "source": f"feature view {view_path.name} over "
        + ", ".join(s.ref for s in inputs.values()),
        "collection_method": "SQL transform of recorded snapshots",
    }
    recorded = [json.loads(s.provenance) for s in inputs.values()]
    for key in ("legal_basis", "consent", "collected_by"):
        values = {r.get(key) for r in recorded}
        if len(values) == 1 and None not in values:
            provenance[key] = str(values.pop())
    return provenance


def build(
    ws: Workspace,
    actor: str,
    view_path: Path,
    *,
    reason: str = "",
    progress: Progress = NO_PROGRESS,
) -> tuple[SnapshotRow, bool]:
    """Materialise a feature view as a snapshot with lineage to its inputs and transform.

    Returns:
        The snapshot and whether it is a new version.
    """
    view = load_view(view_path)
    with ws.session(actor) as s:
        require(s, *ROLES, action="build feature views")
        inputs = {alias: snapshots.resolve(s.catalog, ref) for alias, ref in view["inputs"].items()}
    (ws.root / "tmp").mkdir(exist_ok=True)
    con = tables.connect(ws.root / "tmp")
    try:
        paths = {alias: snapshots.parquet_path(ws, snap) for alias, snap in inputs.items()}
        for alias, path in paths.items():
            source = tables.parquet_source(path)
            con.execute(f"CREATE VIEW {tables.quote_ident(alias)} AS SELECT * FROM {source}")
        work_dir = str(ws.root / "tmp")
        allowed = [str(p) for p in paths.values()]
        con.execute("SET allowed_paths = ?", [allowed])
        con.execute("SET allowed_directories = ?", [[work_dir]])
        con.execute("SET enable_external_access = false")
        sql = view["sql"].decode("utf-8").strip().rstrip(";")
        try:
            con.execute(
                f"DESCRIBE {sql}"
                if sql.lower().startswith("select")
                else f"DESCRIBE SELECT * FROM ({sql})"
            )
        except duckdb.Error as err:
            raise UsageError(
                f"the transform {view_path.name} does not run: {tables._duckdb_reason(err)}",
                hint=f"It may read only its inputs: {', '.join(paths)}.",
            ) from err
        prep = snapshots.prepare(
            ws,
            f"({sql})",
            dialect=tables.Dialect("parquet"),
            con=con,
            progress=progress,
            tagged=(view["pii"], view["sensitive"]),
        )
    finally:
        con.close()
    transform = sha256_hex(view["sql"])
    prep = snapshots.Prepared(
        **{
            **prep.__dict__,
            "extra": {
                "transform_digest": transform,
                "view": {
                    "name": view["name"],
                    "description": view["description"],
                    "inputs": {a: s.ref for a, s in inputs.items()},
                    "spec_digest": sha256_hex(view["spec"]),
                },
            },
        }
    )
    with ws.session(actor) as s:
        require(s, *ROLES, action="build feature views")
        sql_ref = s.put_blob(view["sql"], SQL_MEDIA_TYPE)
        spec_ref = s.put_blob(view["spec"], "application/toml")
        lineage = [(f"snapshot:{snap.ref}", "derived-from") for snap in inputs.values()]
        lineage.append((f"sha256:{transform}", "transformed-by"))
        return snapshots.record(
            s,
            prep,
            dataset=view["name"],
            kind="feature",
            provenance=_inherited(view_path, inputs),
            pii=view["pii"],
            sensitive=view["sensitive"],
            retention=view["retention"],
            reason=reason,
            lineage=lineage,
            extra_objects=[sql_ref, spec_ref],
            dedupe_on="table",
        )
