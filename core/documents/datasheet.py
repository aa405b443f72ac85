"""Data sheets: the Gebru et al. questions answered from a snapshot's recorded evidence.

Facts come from the ledger and the object store (schema, profile, provenance, tags, lineage,
validation history); the questions no record can answer (motivation, uses, distribution,
maintenance) come from an optional answers file, and when missing they are listed as gaps
rather than filled with boilerplate. The rendered Markdown and HTML are stored as objects
and recorded by one ``report.datasheet`` event, so the report itself is evidence.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from core.data import encryption, features, gates, redaction, snapshots, tables, validation
from core.documents import reporting
from core.documents.events import DatasheetRecorded
from core.identity.actors import require
from core.kernel.errors import UsageError
from core.kernel.rows import SnapshotRow
from core.kernel.verdict import LEGEND
from core.kernel.workspace import Workspace
from core.privacy import periods
from reports.contexts import ColumnSummary, DatasheetContext, GroupSummary, ValidationSummary
from reports.formatting import when
from reports.render import render_datasheet

QUESTIONS = ("motivation", "composition", "uses", "distribution", "maintenance")


def _column_summary(name: str, st: dict[str, Any], snap: SnapshotRow) -> ColumnSummary:
    if redaction.withheld(st):
        summary = "values withheld (PII): counts only"
    elif "mean" in st:
        summary = f"{st['min']} … {st['max']}, mean {st['mean']}"
        if st.get("nan") or st.get("pos_inf") or st.get("neg_inf"):
            summary += f"; NaN {st['nan']}, +inf {st['pos_inf']}, -inf {st['neg_inf']}"
    else:
        top = ", ".join(f"{v} ({n})" for v, n in st.get("top_values", [])[:3])
        summary = f"top: {top}"
    tags = (["PII"] if name in snap.pii else []) + (["sensitive"] if name in snap.sensitive else [])
    return ColumnSummary(
        name,
        st["type"],
        st["nulls"],
        st["distinct"],
        summary,
        st.get("histogram", {}).get("counts", []),
        tags,
    )


def _groups(ws: Workspace, snap: SnapshotRow) -> list[GroupSummary]:
    cols = {c["name"]: c for c in json.loads(snap.columns)}
    con = tables.connect(ws.root / "tmp")
    out = []
    try:
        src = encryption.table_source(ws, con, snap)  # verified; decrypting if sealed
        # A column tagged PII as well as sensitive is not broken down: its groups are values.
        for name in (n for n in snap.sensitive if n not in snap.pii):
            c = tables.quote_ident(name)
            if cols[name]["kind"] in ("int", "float"):
                key = (
                    f"CASE WHEN {c} IS NULL THEN 'missing' ELSE 'quintile ' || "
                    f"CAST(ntile(5) OVER (ORDER BY {c}) AS VARCHAR) END"
                )
                rows = con.execute(
                    f"SELECT g, count(*), min(v), max(v) FROM (SELECT {key} AS g, {c} AS v "
                    f"FROM {src}) GROUP BY g ORDER BY g"
                ).fetchall()
                groups = [
                    (f"{g} ({lo} … {hi})" if lo is not None else g, int(n)) for g, n, lo, hi in rows
                ]
            else:
                rows = con.execute(
                    f"SELECT coalesce(CAST({c} AS VARCHAR), 'missing') AS g, count(*) "
                    f"FROM {src} GROUP BY 1 ORDER BY 2 DESC, 1"
                ).fetchall()
                groups = [(str(g), int(n)) for g, n in rows]
            total = sum(n for _, n in groups) or 1
            out.append(GroupSummary(name, [(g, n, n / total) for g, n in groups]))
    finally:
        con.close()
    return out


def build_context(
    ws: Workspace, snap: SnapshotRow, answers: dict[str, str], history: list[Any], head: int
) -> DatasheetContext:
    """Assemble the data sheet's plain data from recorded evidence."""
    profile = snapshots.load_profile(ws, snap)
    prov = json.loads(snap.provenance)
    gaps = [
        f"{q.capitalize()} is not recorded (give it in an answers file: "
        f"`report datasheet --answers FILE.toml`)."
        for q in QUESTIONS
        if q not in answers
    ]
    for key in ("source", "legal_basis", "consent"):
        if key not in prov:
            gaps.append(f"{key.replace('_', ' ').capitalize()} of the data is not recorded.")
    if not snap.retention:
        gaps.append("No retention period is recorded.")
    if not history:
        gaps.append("No validation has been recorded for this snapshot.")
    preprocessing = []
    dialect = json.loads(snap.dialect)
    if snap.kind == "feature":
        preprocessing.append(
            f"Feature view transform `sha256:{snap.transform_digest}` over "
            + ", ".join(
                e.dst.removeprefix("snapshot:")
                for e in _lineage(ws, snap)
                if e.relation == "derived-from"
            )
        )
    read_as = [
        f"{k} = {json.dumps(dialect[k])}"
        for k in ("skip", "trim", "names", "na_values", "column_na_values")
        if k in dialect
    ]
    if read_as:  # the reading changed values: say how, never "values unchanged"
        preprocessing.append(
            "Copied to canonical Parquet (zstd) by DuckDB, read with "
            + "; ".join(read_as)
            + " (missing-value codes became NULL, leading spaces were trimmed as recorded)."
        )
    else:
        preprocessing.append("Copied to canonical Parquet (zstd) by DuckDB; values unchanged.")
    validations = []
    for v in history:
        result = validation.read_result(ws, v)
        failed = [c.name for c in result.checks if not c.passed]
        validations.append(
            ValidationSummary(
                v.seq,
                v.suite_name,
                v.suite_digest,
                v.passed,
                v.errors,
                v.warnings,
                v.created_at[:19] + "Z",
                v.created_by,
                failed,
                result.verdict,
            )
        )
    default = "Not recorded."
    return DatasheetContext(
        ref=snap.ref,
        title=snap.dataset,
        as_of=f"as of ledger event #{head}",
        rows=snap.rows,
        table_digest=snap.table_digest,
        raw_digest=snap.raw_digest,
        parquet_digest=snap.parquet_digest,
        file_format=dialect,
        answers={q: answers.get(q, default) for q in QUESTIONS},
        provenance=prov,
        pii=list(snap.pii),
        sensitive=list(snap.sensitive),
        retention=_retention(snap.retention),
        columns=[
            _column_summary(c["name"], profile["columns"][c["name"]], snap)
            for c in json.loads(snap.columns)
        ],
        groups=_groups(ws, snap),
        preprocessing=preprocessing,
        validations=validations,
        recorded=(
            f"{when(snap.created_at, seconds=True)} by {snap.created_by} "
            f"(event #{snap.created_seq})"
        ),
        gaps=gaps,
        tag_notes=features.tag_notes(ws, snap),
        legend=list(LEGEND),
    )


def _lineage(ws: Workspace, snap: SnapshotRow) -> list[Any]:
    with ws.session() as s:
        return s.catalog.edges_from(f"snapshot:{snap.ref}")


def write(
    ws: Workspace,
    actor: str,
    ref: str,
    out_dir: Path,
    *,
    answers_path: Path | None = None,
    reason: str = "",
    pdf: bool = False,
) -> tuple[Path, Path]:
    """Render a snapshot's data sheet, record it, and write ``.md`` and ``.html`` files."""
    answers = reporting.read_answers(answers_path, QUESTIONS)
    with ws.session(actor) as s:
        require(s, action="write reports")
        snap = snapshots.resolve(s.catalog, ref)
        history = s.catalog.validations(snap.ref)
        head = s.catalog.applied()[0]
        waived = gates.waivers(s, snap)
    # The sensitive groups are counted from the rows: an encrypted copy is opened (and the
    # access recorded) for that.
    with encryption.open(
        ws, actor, [snap], "datasheet", target=f"datasheet:{snap.ref}", reason=reason
    ):
        built = build_context(ws, snap, answers, history, head)
    ctx = dataclasses.replace(
        built,
        waivers=[
            f"#{w.seq} by {w.actor}: failed run #{w.waives} of suite {w.suite} may be used for "
            f"{', '.join(w.scope)} until {w.expires} ({w.reason})"
            for w in waived
        ],
    )
    markdown, html = render_datasheet(ctx)
    return reporting.record(
        ws,
        actor,
        as_payload=lambda md, html_: DatasheetRecorded(
            snapshot=snap.ref, gaps=len(ctx.gaps), markdown=md, html=html_
        ),
        subject=f"snapshot:{snap.ref}",
        markdown=markdown,
        html=html,
        out_dir=out_dir,
        stem=f"datasheet-{snap.dataset}-{snap.version}",
        reason=reason,
        pdf=pdf,
    )


def _retention(period: str) -> str:
    """The snapshot's retention tag (``7y``) in words (``7 years``); "" when none is set."""
    if not period:
        return ""
    try:
        return periods.describe(period)
    except UsageError:
        return period
