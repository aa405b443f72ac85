"""``ledgerml snapshot add|list|show|profile|diff``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    ReasonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)


def snapshot_json(snap: Any) -> dict[str, Any]:
    """A snapshot row for --json, with its JSON-text fields as JSON, not strings in JSON."""
    row: dict[str, Any] = snap.as_dict()
    for name in ("columns", "dialect", "provenance", "encryption", "pseudonyms"):
        if isinstance(row.get(name), str) and row[name]:
            row[name] = json.loads(row[name])
    return row


app = typer.Typer(no_args_is_help=True)
RefArg = Annotated[str, typer.Argument(help="dataset@version, dataset (latest) or sha256:prefix.")]


def _summary(snap: Any) -> list[tuple[str, Any]]:
    from reports.formatting import file_format

    prov = json.loads(snap.provenance)
    return [
        ("snapshot", snap.ref),
        ("rows × columns", f"{snap.rows} × {len(json.loads(snap.columns))}"),
        ("format", file_format(json.loads(snap.dialect))),
        ("table digest", f"sha256:{snap.table_digest}"),
        ("raw file", f"sha256:{snap.raw_digest}" if snap.raw_digest else "(derived)"),
        ("parquet copy", f"sha256:{snap.parquet_digest}"),
        ("provenance", ", ".join(f"{k}={v}" for k, v in prov.items()) or "none recorded"),
        ("PII columns", ", ".join(snap.pii) or "none"),
        ("sensitive columns", ", ".join(snap.sensitive) or "none"),
        ("retention", snap.retention or "not set"),
        ("encrypted at rest", _encryption(snap)),
        ("pseudonymised", _pseudonyms(snap)),
        ("recorded", f"{snap.created_at} by {snap.created_by} (event #{snap.created_seq})"),
        *(
            [("ERASED", f"at #{snap.erased_seq}: its rows no longer exist "
              f"(`ledgerml data receipt {snap.erased_seq}`)")]
            if snap.erased_seq is not None
            else []
        ),
    ]  # fmt: skip


def _encryption(snap: Any) -> str:
    """How the copies are stored: plaintext, encrypted (and under which keys), or erased."""
    if not snap.encryption:
        return "no (plaintext copies)"
    info = json.loads(snap.encryption)
    keys = ", ".join(f"{part} {info[part]['id']}" for part in ("raw", "parquet") if part in info)
    erased = f"; erased at event #{snap.erased_seq}" if snap.erased_seq is not None else ""
    return f"yes, {info['scheme']} ({keys}){erased}"


def _pseudonyms(snap: Any) -> str:
    """Which columns hold keyed pseudonyms, and under which key version."""
    if not snap.pseudonyms:
        return "none"
    recorded = json.loads(snap.pseudonyms)
    return ", ".join(f"{c} (key v{v})" for c, v in sorted(recorded.items()))


def _na_values(values: list[str]) -> dict[str, tuple[Any, ...]]:
    """``?`` (every column) and ``col=CODE`` (one column) as the read options' two fields.

    A value with ``=`` is read as COLUMN=CODE; a code that itself holds ``=`` is not supported.
    """
    every: list[str] = []
    per_column: list[tuple[str, str]] = []
    for value in values:
        column, sep, code = value.partition("=")
        if not sep:
            every.append(value)
        elif not column.strip() or not code:
            raise typer.BadParameter(
                f"{value!r} is not CODE or COLUMN=CODE (e.g. '?' or 'age=-1')",
                param_hint="--na-values",
            )
        else:
            per_column.append((column.strip(), code))
    return {"na_values": tuple(every), "column_na_values": tuple(per_column)}


def _names(text: str | None) -> tuple[str, ...]:
    """``--columns a,b,c``: every name given, none empty (a gap would shift the columns)."""
    if text is None:
        return ()
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise typer.BadParameter(f"{text!r} has an empty name", param_hint="--columns")
    return names


@app.command("add")
@guarded
def add(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file.")],
    dataset: Annotated[str, typer.Option(help="Dataset name; the snapshot becomes NAME@N.")],
    source: Annotated[str | None, typer.Option(help="Where the data came from.")] = None,
    collected_by: Annotated[str | None, typer.Option(help="Who collected it.")] = None,
    collection_method: Annotated[str | None, typer.Option(help="How it was collected.")] = None,
    legal_basis: Annotated[str | None, typer.Option(help="GDPR Art. 6 basis, contract…")] = None,
    consent: Annotated[str | None, typer.Option(help="Consent obtained, and how.")] = None,
    pii: Annotated[str | None, typer.Option(help="Comma-separated columns holding PII.")] = None,
    sensitive: Annotated[
        str | None, typer.Option(help="Comma-separated sensitive columns (sex, age…).")
    ] = None,
    retention: Annotated[str, typer.Option(help="How long to keep it: 90d, 18m, 7y.")] = "",
    fmt: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (detected).")] = None,
    header: Annotated[
        bool | None, typer.Option("--header/--no-header", help="CSV has a header row (detected).")
    ] = None,
    quote: Annotated[str | None, typer.Option(help="CSV quote character (detected).")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="utf-8, utf-16 or latin-1 (detected).")
    ] = None,
    na_values: Annotated[
        list[str] | None,
        typer.Option(
            "--na-values",
            help="A code meaning 'missing' (e.g. '?'), read as NULL in every column; "
            "COLUMN=CODE for one column only. Repeatable; recorded with the snapshot.",
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            "--names",
            help="Comma-separated column names for a CSV file without a header row "
            "(as many as the file has columns).",
        ),
    ] = None,
    encrypt: Annotated[
        bool | None,
        typer.Option(
            "--encrypt/--no-encrypt",
            help="Encrypt the raw and Parquet copies at rest (AES-256-GCM, a fresh data key "
            "each, wrapped under the workspace key in the OS keyring); every later read is "
            "recorded as a data.access event. Default: on for data with --pii when "
            "`ledgerml config encrypt-pii on` was set.",
        ),
    ] = None,
    pseudonymize: Annotated[
        str | None,
        typer.Option(
            "--pseudonymize",
            help="Comma-separated columns whose values are replaced by keyed pseudonyms "
            "(HMAC-SHA-256 under the workspace's pseudonym key in the OS keyring; make one "
            "with `ledgerml data pseudonym-key rotate`). The columns stay PII-tagged and the "
            "copies are encrypted. Values are hashed as text: a CSV column as written in "
            "the file, other values as DuckDB writes them.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Snapshot a file as an immutable dataset version with its provenance.

    The raw bytes are kept untouched; a canonical Parquet copy, the schema, a profile and a
    format-independent table digest are recorded. The same bytes twice make no new version
    (unless read with other --columns or --na-values). Whatever the reading does to values
    (lines skipped above the header, spaces trimmed after ", ", missing-value codes made
    NULL) is recorded in the snapshot's dialect and reported as a notice.
    """
    from core.data import snapshots, tables

    request = snapshots.SnapshotRequest(
        file,
        dataset,
        provenance={
            "source": source or "",
            "collected_by": collected_by or "",
            "collection_method": collection_method or "",
            "legal_basis": legal_basis or "",
            "consent": consent or "",
        },
        pii=snapshots.split_columns(pii),
        sensitive=snapshots.split_columns(sensitive),
        retention=retention,
        reason=reason,
        options=tables.ReadOptions(
            fmt,
            delimiter,
            header,
            quote,
            encoding,
            **_na_values(na_values or []),
            names=_names(columns),
        ),
        encrypt=encrypt,
        pseudonymize=snapshots.split_columns(pseudonymize),
    )
    with output.progress("Snapshotting") as progress:
        added = snapshots.submit_detailed(
            open_ws(workspace), actor_name(as_actor), request, progress=progress
        )
    snap, created = added.snapshot, added.created
    ignored = [] if created else request.unapplied(snap)
    if want_json(json_out):
        output.emit_json(
            {
                **snapshot_json(snap),
                "created": created,
                "not_applied": ignored,
                "notices": list(added.notices),
            }
        )
        return
    for notice in added.notices:
        output.note(f"notice: {notice}")
    if not created:
        output.note(f"these bytes are already {snap.ref}; no new version was made")
    if ignored:
        output.note(
            f"not applied: {', '.join(ignored)} (a version's description is fixed when it is "
            f"recorded); {snap.ref} keeps what `snapshot show {snap.ref}` lists"
        )
    output.fields(_summary(snap))


@app.command("list")
@guarded
def list_(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List snapshots."""
    from core.data import snapshots

    rows = snapshots.list_snapshots(open_ws(workspace), actor_name(as_actor), dataset)
    if want_json(json_out):
        output.emit_json([snapshot_json(r) for r in rows])
        return
    output.table(
        ["snapshot", "kind", "rows", "table digest", "recorded", "by", "erased"],
        [
            (
                r.ref,
                r.kind,
                r.rows,
                r.table_digest[:16],
                r.created_at[:19],
                r.created_by,
                f"erased at #{r.erased_seq}" if r.erased_seq is not None else "",
            )
            for r in rows
        ],
    )


@app.command("show")
@guarded
def show(
    ref: RefArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a snapshot: schema, digests, provenance, tags."""
    from core.data import snapshots

    snap = snapshots.show(open_ws(workspace), ref, actor_name(as_actor))
    if want_json(json_out):
        output.emit_json(snapshot_json(snap))
        return
    output.fields(_summary(snap))
    output.table(
        ["column", "type", "kind"],
        [(c["name"], c["type"], c["kind"]) for c in json.loads(snap.columns)],
    )


@app.command("profile")
@guarded
def profile(
    ref: RefArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Per column: type, nulls, NaN, ±inf, distinct, range, mean, std, quantiles, top values."""
    from core.data import snapshots

    ws = open_ws(workspace)
    snap = snapshots.show(ws, ref, actor_name(as_actor))
    prof = snapshots.load_profile(ws, snap)
    if want_json(json_out):
        output.emit_json(prof)
        return
    rows = []
    for name in (c["name"] for c in json.loads(snap.columns)):
        st = prof["columns"][name]
        rng = (
            f"{st.get('min')} … {st.get('max')}"
            if "min" in st
            else st.get("withheld") or f"len {st.get('min_length')} … {st.get('max_length')}"
        )
        top = ", ".join(f"{v}×{n}" for v, n in st.get("top_values", [])[:3])
        rows.append(
            (
                name,
                st["type"],
                st["nulls"],
                st.get("nan", ""),
                st["distinct"],
                rng,
                st.get("mean", ""),
                top,
            )
        )
    output.table(
        ["column", "type", "nulls", "NaN", "distinct", "range", "mean", "top values"],
        rows,
        title=f"{snap.ref}: {prof['rows']} rows",
    )


@app.command("diff")
@guarded
def diff(
    a: RefArg,
    b: RefArg,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Schema and profile differences between two snapshots."""
    from core.data import snapshots

    d = snapshots.diff(open_ws(workspace), a, b, actor_name(as_actor))
    if want_json(json_out):
        output.emit_json(d)
        return
    output.fields(
        [
            ("compared", f"{d['a']} → {d['b']}"),
            ("rows", f"{d['rows'][0]} → {d['rows'][1]}"),
            ("same table", d["same_table"]),
            ("added columns", ", ".join(d["added"]) or "none"),
            ("removed columns", ", ".join(d["removed"]) or "none"),
            (
                "type changes",
                ", ".join(f"{k}: {a} → {b}" for k, (a, b) in d["type_changed"].items()) or "none",
            ),
        ]
    )
    output.table(
        ["column", "statistic", d["a"], d["b"]],
        [
            (col, stat, a_, b_)
            for col, stats in d["profile"].items()
            for stat, (a_, b_) in stats.items()
        ],
    )
