"""``ledgerml report datasheet``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli import output
from app.cli.common import (
    ActorOpt,
    JsonOpt,
    ModelArg,
    ReasonOpt,
    WorkspaceOpt,
    actor_name,
    guarded,
    open_ws,
    want_json,
)

app = typer.Typer(no_args_is_help=True)
DEFAULT_DIR = Path("reports-out")
ReportDirOpt = Annotated[
    Path,
    typer.Option(
        "-o",
        "--output",
        help="Folder for the .md, .html and .pdf files, created if missing "
        "(default: reports-out/ in the current folder).",
        show_default=False,
    ),
]

PdfOpt = Annotated[
    bool,
    typer.Option(
        "--pdf/--no-pdf",
        help="Also write an A4 PDF/A-3b for filing, its digest recorded with the others "
        "(default: on; --no-pdf skips it, about a second faster).",
    ),
]


def _files(md: Path, html: Path, pdf: bool) -> dict[str, str]:
    """The written files by format (the PDF sits beside the Markdown)."""
    files = {"markdown": str(md), "html": str(html)}
    if pdf:
        files["pdf"] = str(md.with_suffix(".pdf"))
    return files


def _written(md: Path, html: Path, json_out: bool, pdf: bool = False) -> None:
    """Say on stderr where the files went (also with --json); the paths as JSON on stdout."""
    folder = md.parent
    where = f"{folder}/" + (
        " (the default folder; -o DIR picks another)" if folder == DEFAULT_DIR else ""
    )
    names = [Path(p).name for p in _files(md, html, pdf).values()]
    output.note(f"wrote {', '.join(names[:-1])} and {names[-1]} into {where}")
    if json_out:
        output.emit_json(_files(md, html, pdf))


@app.command("datasheet")
@guarded
def datasheet(
    ref: Annotated[str, typer.Argument(help="Snapshot: dataset@version or dataset (latest).")],
    out: ReportDirOpt = DEFAULT_DIR,
    answers: Annotated[
        Path | None,
        typer.Option(
            help="TOML answering motivation, composition, uses, distribution, maintenance."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write a data sheet (Markdown, self-contained HTML and a PDF) and record it as evidence."""
    from core.documents import datasheet as ds

    md, html = ds.write(
        open_ws(workspace),
        actor_name(as_actor),
        ref,
        out,
        answers_path=answers,
        reason=reason,
        pdf=pdf,
    )
    _written(md, html, want_json(json_out), pdf)


@app.command("model-card")
@guarded
def model_card(
    ref: ModelArg,
    out: ReportDirOpt = DEFAULT_DIR,
    answers: Annotated[
        Path | None,
        typer.Option(
            help="TOML answering purpose, intended_uses, out_of_scope, "
            "limitations, ethical_considerations, contacts."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write a model card (Markdown, self-contained HTML and a PDF) from recorded evidence."""
    from core.documents import modelcard

    md, html = modelcard.write_card(
        open_ws(workspace),
        actor_name(as_actor),
        ref,
        out,
        answers_path=answers,
        reason=reason,
        pdf=pdf,
    )
    _written(md, html, want_json(json_out), pdf)


@app.command("score-card")
@guarded
def score_card(
    score: Annotated[
        str, typer.Argument(help="The score: SNAPSHOT#COLUMN (as evaluated with --predictions).")
    ],
    out: ReportDirOpt = DEFAULT_DIR,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write a score card (Markdown, HTML and a PDF) from an existing score's recorded evidence."""
    from core.documents import scorecard

    md, html = scorecard.write(
        open_ws(workspace), actor_name(as_actor), score, out, reason=reason, pdf=pdf
    )
    _written(md, html, want_json(json_out), pdf)


@app.command("impact-assessment")
@guarded
def impact_assessment(
    ref: ModelArg,
    answers: Annotated[Path, typer.Option(help="The questionnaire the team fills (TOML).")],
    out: ReportDirOpt = DEFAULT_DIR,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write an algorithmic impact assessment: answers + evidence, impact level, gaps."""
    from core.documents import modelcard

    md, html = modelcard.write_impact(
        open_ws(workspace),
        actor_name(as_actor),
        ref,
        out,
        answers_path=answers,
        reason=reason,
        pdf=pdf,
    )
    _written(md, html, want_json(json_out), pdf)


EnvOpt = Annotated[str, typer.Option("--env", help="The environment, e.g. production.")]


@app.command("monitoring")
@guarded
def monitoring(
    env: EnvOpt,
    out: ReportDirOpt = DEFAULT_DIR,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write a monitoring report: every window's verdict and drift and performance over time.

    The post-market monitoring EU AI Act Art. 72 asks for, as charts (HTML) and figures
    (Markdown), from the signed monitor.run events; a FAILed window reads FAIL.
    """
    from core.documents import operations_reports

    md, html = operations_reports.write(
        open_ws(workspace), actor_name(as_actor), "monitoring", env, out, reason=reason, pdf=pdf
    )
    _written(md, html, want_json(json_out), pdf)


@app.command("incidents")
@guarded
def incidents(
    env: EnvOpt,
    out: ReportDirOpt = DEFAULT_DIR,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write an incident report: each ticket's timeline, actions, runbook and resolution."""
    from core.documents import operations_reports

    md, html = operations_reports.write(
        open_ws(workspace), actor_name(as_actor), "incidents", env, out, reason=reason, pdf=pdf
    )
    _written(md, html, want_json(json_out), pdf)


@app.command("decisions")
@guarded
def decisions(
    env: EnvOpt,
    out: ReportDirOpt = DEFAULT_DIR,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write a decision-log report: batches, representative decisions with their reasons,
    outcomes and human overrides (EU AI Act Art. 12 logs, Art. 14 oversight)."""
    from core.documents import operations_reports

    md, html = operations_reports.write(
        open_ws(workspace), actor_name(as_actor), "decisions", env, out, reason=reason, pdf=pdf
    )
    _written(md, html, want_json(json_out), pdf)


@app.command("access")
@guarded
def access(
    out: ReportDirOpt = DEFAULT_DIR,
    since: Annotated[str | None, typer.Option(help="2026-03-01, 2026-03-01T09:30, 2h, 7d…")] = None,
    by: Annotated[str | None, typer.Option("--actor", help="Only this actor's entries.")] = None,
    snapshot: Annotated[
        str | None, typer.Option(help="Only entries that read or exported this snapshot.")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write the access-log report: who read or exported sensitive data, when and why.

    The same entries as `ledgerml audit access` (decryptions, re-links, reveals, bundle
    exports), counted per purpose and per person, and what the log cannot show.
    """
    from core.documents import privacy_reports

    md, html, found = privacy_reports.write_access(
        open_ws(workspace),
        actor_name(as_actor),
        out,
        since=since,
        by=by,
        snapshot=snapshot,
        reason=reason,
        pdf=pdf,
    )
    _written(md, html, False, pdf)
    if want_json(json_out):
        output.emit_json({**_files(md, html, pdf), "entries": [e.to_json() for e in found]})


@app.command("minimisation")
@guarded
def minimisation(
    out: ReportDirOpt = DEFAULT_DIR,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
    pdf: PdfOpt = True,
) -> None:
    """Write the data-minimisation report for the data protection officer.

    Per dataset version the columns stored and which models use each (input, target, or
    fairness checks; through feature views too); PII and sensitive columns no model uses
    (drop candidates); PII columns a model reads (FLAG). With --json, the figures as well.
    """
    from core.documents import privacy_reports

    md, html, doc = privacy_reports.write_minimisation(
        open_ws(workspace), actor_name(as_actor), out, reason=reason, pdf=pdf
    )
    _written(md, html, False, pdf)
    if want_json(json_out):
        output.emit_json({**_files(md, html, pdf), "report": doc})
        return
    output.line(doc["headline"])


@app.command("retention")
@guarded
def retention(
    out: ReportDirOpt = DEFAULT_DIR,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="md, html, json or pdf; repeat for several (default: md, html and pdf). "
            "Markdown, HTML and JSON are recorded whichever are written; the PDF when written.",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_actor: ActorOpt = None,
    reason: ReasonOpt = "",
    json_out: JsonOpt = False,
) -> None:
    """Write the retention and deletion log: rules in force, each snapshot's rule and expiry,
    legal holds placed and lifted, erasures with their receipts' digests, retention runs.

    Flags come first: an erasure made before its retention had run out by the wall clock
    (a run with --as-of) reads as such.
    """
    from core.documents import retention_report
    from core.evidence.vocabulary import plural

    ws = open_ws(workspace)
    paths = retention_report.write(
        ws,
        actor_name(as_actor),
        out,
        formats=tuple(formats or ("md", "html", "pdf")),
        reason=reason,
    )
    doc = retention_report.log_of(ws)
    summary = retention_report.summary(doc)
    output.note(f"wrote {', '.join(p.name for p in paths)} into {out}/")
    if want_json(json_out):
        output.emit_json({"files": [str(p) for p in paths], **summary})
        return
    output.line(
        f"{plural(summary['rules'], 'rule')}, {plural(summary['holds'], 'hold')} "
        f"({summary['holds_in_force']} in force), {plural(summary['erasures'], 'erasure')}, "
        f"{plural(summary['runs'], 'retention run')}"
    )
    for flag in summary["flags"]:
        output.line(f"FLAG: {flag}")
