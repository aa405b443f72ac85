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

An input is any snapshot reference: ``name@N``, ``name`` (its latest version) or
``sha256:<prefix>``. ``build(..., inputs={"raw": "loans@1"})`` (the CLI's
``--input raw=loans@1``) points an alias at another snapshot without editing the file; the
event records the snapshots actually read. Unknown sections and keys are refused
(:class:`ViewFile`, read strictly), so a misspelt tag cannot silently leave a sensitive
column untagged.

Tags follow the data: an output column derived from a PII (sensitive) column of an input is
PII (sensitive) too, traced through the SQL by :mod:`core.data.column_lineage`, unless
``[tags]`` ``not_pii`` / ``not_sensitive`` declare otherwise with a reason
(``not_pii = { age_band = "coarsened to 10-year bands" }``). The event records the final
``pii`` and ``sensitive`` lists, and under ``view.tags`` where each inherited tag came from
and each declared exception. Building is gated (:mod:`core.data.gates`): an input whose
latest run of any suite failed is refused unless an approver's waiver covers it, and the
waivers relied on are named under ``view.waivers``.

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
from pydantic import BaseModel, Field

from core.data import column_lineage, data_keys, encryption, gates, ingest, snapshots, tables
from core.data.events import FEATURE_ROLES
from core.data.ingest import Prepared
from core.identity.actors import needs
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.formats import parse_strict, strict_config
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import SnapshotRow
from core.kernel.workspace import Session, Workspace
from storage.fsutil import private_dir
from storage.objects import sha256_hex

SQL_MEDIA_TYPE = "application/sql"
ROLES = FEATURE_ROLES


class _ViewTable(BaseModel):
    """``[view]``: what the view is called and which SQL file it runs."""

    model_config = strict_config()
    name: str
    sql: str
    description: str = ""


class _Tags(BaseModel):
    """``[tags]``: declared tags, and the exceptions to the tags the columns inherit."""

    model_config = strict_config()
    sensitive: list[str] = Field(default_factory=list)
    pii: list[str] = Field(default_factory=list)
    retention: str = ""
    not_pii: dict[str, str] = Field(default_factory=dict)
    not_sensitive: dict[str, str] = Field(default_factory=dict)


class ViewFile(BaseModel):
    """A feature view file, read strictly: an unknown section or key is refused by name."""

    model_config = strict_config()
    view: _ViewTable
    inputs: dict[str, str]
    tags: _Tags = Field(default_factory=_Tags)


# Every section and key a view file may hold (the documentation lists exactly these).
SECTIONS: dict[str, frozenset[str] | None] = {
    "view": frozenset(_ViewTable.model_fields),
    "inputs": None,  # alias = "ref": any SQL name
    "tags": frozenset(_Tags.model_fields),
}


def load_view(path: Path, inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """Parse a feature view file and the SQL it names.

    Args:
        path: the view file.
        inputs: alias to snapshot reference, replacing what the file names for that alias.

    Raises:
        UsageError: for a malformed file, an unknown section or key, a missing SQL file, no
            inputs, or an override of an alias the view does not declare.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read feature view {path}: {err}") from err
    parsed = parse_strict(ViewFile, doc, where=str(path))
    declared = parsed.inputs
    if not declared:
        raise UsageError(f'{path}: [inputs] must name at least one snapshot (alias = "ref")')
    for alias in declared:
        if not alias.isidentifier():
            raise UsageError(f"{path}: input alias {alias!r} is not a valid SQL name")
    for alias in inputs or {}:
        if alias not in declared:
            raise UsageError(
                f"{path} has no input {alias!r}",
                hint=f"Its inputs: {', '.join(declared)} (--input ALIAS=DATASET@N).",
            )
    sql_path = (path.parent / parsed.view.sql).resolve()
    try:
        sql_bytes = sql_path.read_bytes()
    except OSError as err:
        raise UsageError(f"{path}: cannot read SQL file {sql_path}: {err}") from err
    tags = parsed.tags
    snapshots.check_retention(tags.retention)
    return {
        "name": snapshots.check_dataset_name(parsed.view.name),
        "description": parsed.view.description,
        "inputs": {**declared, **(inputs or {})},
        "sql": sql_bytes,
        "spec": path.read_bytes(),
        "sensitive": list(tags.sensitive),
        "pii": list(tags.pii),
        "not_pii": dict(tags.not_pii),
        "not_sensitive": dict(tags.not_sensitive),
        "retention": tags.retention,
    }


def _resolve_input(catalog: Catalog, view_path: Path, alias: str, ref: str) -> SnapshotRow:
    try:
        return snapshots.resolve(catalog, ref)
    except NotFoundError as err:
        raise NotFoundError(
            f"{view_path.name}: input {alias} = {ref!r}: {err.msg}",
            hint=f"Point it at a snapshot you have: --input {alias}=DATASET@N "
            "(`ledgerml snapshot list` shows them).",
        ) from err


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
    inputs: dict[str, str] | None = None,
    reason: str = "",
    progress: Progress = NO_PROGRESS,
) -> tuple[SnapshotRow, bool]:
    """Materialise a feature view as a snapshot with lineage to its inputs and transform.

    Args:
        ws: the workspace.
        actor: who builds it.
        view_path: the view file.
        inputs: alias to snapshot reference, replacing what the view file names.
        reason: recorded with the event.
        progress: receives coarse progress.

    Returns:
        The snapshot and whether it is a new version.
    """
    view = load_view(view_path, inputs)
    built: list[Prepared] = []

    def resolve_inputs(s: Session) -> tuple[dict[str, SnapshotRow], list[gates.Waiver]]:
        snaps = {
            alias: _resolve_input(s.catalog, view_path, alias, ref)
            for alias, ref in view["inputs"].items()
        }
        return snaps, gates.require(s, snaps.values(), "view")

    def materialise(
        resolved: tuple[dict[str, SnapshotRow], list[gates.Waiver]],
    ) -> tuple[dict[str, SnapshotRow], Prepared]:
        snaps, waived = resolved
        with encryption.open(
            ws, actor, list(snaps.values()), "feature", target=f"view:{view['name']}", reason=reason
        ):
            prep = _materialise(ws, view_path, view, snaps, waived, progress)
        built.append(prep)
        return snaps, prep

    def record(
        s: Session, built: tuple[dict[str, SnapshotRow], Prepared]
    ) -> tuple[SnapshotRow, bool]:
        snaps, prep = built
        gates.require(s, snaps.values(), "view")  # a run recorded meanwhile counts too
        sql_ref = s.put_blob(view["sql"], SQL_MEDIA_TYPE)
        spec_ref = s.put_blob(view["spec"], "application/toml")
        lineage = [(f"snapshot:{snap.ref}", "derived-from") for snap in snaps.values()]
        lineage.append((f"sha256:{prep.extra['transform_digest']}", "transformed-by"))
        tags = prep.extra["view"]["tags"]
        # The same table with other tags (a view built before tags followed the data, or
        # after an input's tags changed) is a new version: tags are never left behind.
        # So is the same table stored the other way (plaintext, encrypted), or erased.
        for existing in s.catalog.snapshots(view["name"]):
            if (
                existing.table_digest == prep.table_digest
                and existing.transform_digest == prep.extra["transform_digest"]
                and (existing.pii, existing.sensitive) == (tags["pii"], tags["sensitive"])
                and bool(existing.encryption) == (prep.encryption is not None)
                and existing.erased_seq is None
            ):
                _drop_key(ws, prep)
                return existing, False
        return ingest.commit_new(
            s,
            prep,
            dataset=view["name"],
            kind="feature",
            provenance=_inherited(view_path, snaps),
            pii=tags["pii"],
            sensitive=tags["sensitive"],
            retention=view["retention"],
            reason=reason,
            lineage=lineage,
            extra_objects=[sql_ref, spec_ref],
        )

    try:
        return command.run(
            ws,
            actor,
            guards=[needs(*ROLES, action="build feature views")],
            prepare=resolve_inputs,
            compute=materialise,
            commit=record,
        )
    except BaseException:
        for prep in built:  # refused at the commit: the copy's key goes with it
            _drop_key(ws, prep)
        raise


def _drop_key(ws: Workspace, prep: Prepared) -> None:
    """Destroy the data key of a view's encrypted copy no event will name."""
    if prep.encryption is not None:
        data_keys.destroy(ws, prep.encryption["parquet"]["id"])


def must_encrypt(ws: Workspace, snaps: dict[str, SnapshotRow], pii: list[str]) -> bool:
    """Whether a view's copy is encrypted.

    Always over an encrypted input (PII tags, and the protection they call for, follow data
    through views); else as the workspace's ``[privacy] encrypt_pii`` setting says for a
    view with PII columns.
    """
    if any(encryption.is_encrypted(snap) for snap in snaps.values()):
        return True
    return snapshots.encrypt_default(ws, pii, None)[0]


def propagated_tags(
    sql: str, view: dict[str, Any], snaps: dict[str, SnapshotRow], outputs: list[str]
) -> column_lineage.Tags:
    """The view's PII and sensitive columns: declared, inherited through lineage, excepted."""
    schemas = {a: [c["name"] for c in json.loads(snap.columns)] for a, snap in snaps.items()}
    traced = column_lineage.derive(sql, schemas, outputs)
    return column_lineage.propagate(
        traced,
        {a: (list(snap.pii), list(snap.sensitive)) for a, snap in snaps.items()},
        pii=view["pii"],
        sensitive=view["sensitive"],
        not_pii=view["not_pii"],
        not_sensitive=view["not_sensitive"],
    )


def _refuse_names_by_values(sql: str, snaps: dict[str, SnapshotRow]) -> None:
    """Refuse a PIVOT over an input with PII columns, before the query runs.

    Its output columns are named by values: people's names would become column names, which
    the view's signed event would record for good.
    """
    with_pii = sorted(a for a, snap in snaps.items() if snap.pii)
    if with_pii and column_lineage.names_columns_by_values(sql):
        raise UsageError(
            "the transform names its output columns by values (a PIVOT), and input "
            f"{with_pii[0]!r} has PII columns: their values could become column names, "
            "which the view's signed event would record for good",
            hint="Select the columns by name (a CASE per value), or pivot a table without "
            "PII columns.",
        )


def _materialise(
    ws: Workspace,
    view_path: Path,
    view: dict[str, Any],
    snaps: dict[str, SnapshotRow],
    waived: list[gates.Waiver],
    progress: Progress,
) -> Prepared:
    """Run the transform over the inputs' verified copies, sealed off from anything else.

    Runs without holding the workspace (snapshots are immutable); records nothing.
    """
    private_dir(ws.root / "tmp")
    # Whether the copy may be encrypted is known before the transform runs (its PII tags
    # are not, yet): then nothing of it may spill, and the setting is frozen below.
    sealed = any(encryption.is_encrypted(snap) for snap in snaps.values()) or (
        snapshots.encrypt_pii(ws)
    )
    con = tables.connect(None if sealed else ws.root / "tmp")
    try:
        if sealed:
            encryption.no_spill(con)
        paths = {alias: ws.objects.path(snap.parquet_digest) for alias, snap in snaps.items()}
        for alias, snap in snaps.items():
            source = encryption.table_source(ws, con, snap)  # verified; decrypting if sealed
            con.execute(f"CREATE VIEW {tables.quote_ident(alias)} AS SELECT * FROM {source}")
        work_dir = str(ws.root / "tmp")
        allowed = [str(p) for p in paths.values()]
        con.execute("SET allowed_paths = ?", [allowed])
        con.execute("SET allowed_directories = ?", [[work_dir]])
        con.execute("SET enable_external_access = false")
        sql = view["sql"].decode("utf-8").strip().rstrip(";")
        _refuse_names_by_values(sql, snaps)
        try:
            described = con.execute(
                f"DESCRIBE {sql}"
                if sql.lower().startswith("select")
                else f"DESCRIBE SELECT * FROM ({sql})"
            ).fetchall()
        except duckdb.Error as err:
            raise UsageError(
                f"the transform {view_path.name} does not run: {tables.duckdb_reason(err)}",
                hint=f"It may read only its inputs: {', '.join(paths)}.",
            ) from err
        tags = propagated_tags(sql, view, snaps, [str(row[0]) for row in described])
        prep = ingest.prepare(
            ws,
            f"({sql})",
            dialect=tables.Dialect("parquet"),
            con=con,
            progress=progress,
            tagged=(tags.pii, tags.sensitive),
            encrypt=must_encrypt(ws, snaps, tags.pii),
        )
    finally:
        con.close()
    transform = sha256_hex(view["sql"])
    return Prepared(
        **{
            **prep.__dict__,
            "extra": {
                "transform_digest": transform,
                "view": {
                    "name": view["name"],
                    "description": view["description"],
                    "inputs": {a: s.ref for a, s in snaps.items()},
                    "spec_digest": sha256_hex(view["spec"]),
                    "tags": {"pii": tags.pii, "sensitive": tags.sensitive, **tags.to_json()},
                    **({"waivers": [w.to_json() for w in waived]} if waived else {}),
                },
            },
        }
    )


def recorded_view(ws: Workspace, snap: SnapshotRow) -> dict[str, Any]:
    """What a feature view's ``snapshot.add`` event recorded under ``view`` ({} for raw data)."""
    if snap.kind != "feature":
        return {}
    data = ws.ledger.entry(snap.created_seq).decode().get("data")
    view = data.get("view") if isinstance(data, dict) else None
    return view if isinstance(view, dict) else {}


def tag_notes(ws: Workspace, snap: SnapshotRow) -> list[str]:
    """How a view's columns got their tags, and which waivers its build relied on, as text.

    Views built before tags were propagated recorded neither; they get no notes.
    """
    view = recorded_view(ws, snap)
    tags = view.get("tags", {})
    notes = []
    if tags.get("lineage", "traced from the SQL") != "traced from the SQL":
        notes.append(str(tags["lineage"]))
    for tag, key in (("PII", "inherited_pii"), ("sensitive", "inherited_sensitive")):
        for col, sources in sorted(tags.get(key, {}).items()):
            notes.append(f"{col} is {tag}: derived from {', '.join(sources)}")
    for tag, key in (("PII", "not_pii"), ("sensitive", "not_sensitive")):
        for col, why in sorted(tags.get(key, {}).items()):
            notes.append(f"{col} is declared not {tag}: {why}")
    for w in view.get("waivers", []):
        notes.append(
            f"built past failed run #{w['waives']} of suite {w['suite']!r} on {w['snapshot']} "
            f"under waiver #{w['seq']} by {w['by']} (until {w['expires']}): {w['reason']}"
        )
    return notes
