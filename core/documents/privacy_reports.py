"""Privacy reports: the access log (who read or exported what) and data minimisation.

Both are rendered from the ledger's records (:mod:`core.privacy.access_log`,
:mod:`core.privacy.minimisation`), recorded as a ``report.access`` / ``report.minimisation``
event naming their Markdown and HTML, and written where the user asked
(:func:`core.documents.reporting.record`), like every other report.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from core.documents import reporting
from core.documents.events import AccessReportRecorded, MinimisationReportRecorded
from core.evidence.vocabulary import plural
from core.identity.actors import needs
from core.kernel.workspace import Workspace
from core.privacy import access_log, minimisation
from reports.privacy import (
    AccessContext,
    AccessRowView,
    ColumnView,
    MinimisationContext,
    ModelMinimisation,
    SnapshotMinimisation,
    render_access,
    render_minimisation,
)

UNENFORCED = [
    "Reads of a snapshot stored in plaintext: its Parquet and raw files are readable by anyone "
    "with this workspace's OS account, with no record. Only encrypted snapshots "
    "(`snapshot add --encrypt`, or `ledgerml config encrypt-pii on`) make every read need a "
    "key, and so an event.",
    "What happens to a bundle after it was exported: an auditor reading it on an air-gapped "
    "machine, or anyone it is passed on to, leaves no trace here. The export itself is "
    "recorded, with the snapshots whose rows it carried.",
    "On one OS account every actor shares one unlocked keyring: the data keys are released "
    "only through ledgerml's recorded door, but a person with that account and a debugger "
    "could take them. Real separation is one OS account per person.",
]


MINIMISATION_LEGEND = (
    ("FLAG", "a PII column a model reads as input or target"),
    ("DROP?", "a PII or sensitive column no model uses"),
)
"""What the minimisation report's coloured words mean, for its legend."""


def access_context(entries: list[access_log.AccessEntry], title: str, scope: str) -> AccessContext:
    """The access-log report's context from the entries."""
    rows = [
        AccessRowView(e.seq, e.ts[:19].replace("T", " "), e.actor, e.what, e.purpose, e.reason)
        for e in entries
    ]
    return AccessContext(
        title=title,
        scope=scope,
        rows=rows,
        counts=sorted(Counter(e.purpose for e in entries).items()),
        people=sorted(Counter(e.actor for e in entries).items()),
        unenforced=UNENFORCED,
    )


def _scope(since: str | None, by: str | None, snapshot: str | None) -> str:
    parts = [
        f"since {since}" if since else "",
        f"by {by}" if by else "",
        f"about {snapshot}" if snapshot else "",
    ]
    shown = ", ".join(p for p in parts if p)
    return shown or "every recorded read and export"


def write_access(
    ws: Workspace,
    actor: str,
    out_dir: Path,
    *,
    since: str | None = None,
    by: str | None = None,
    snapshot: str | None = None,
    reason: str = "",
    pdf: bool = False,
) -> tuple[Path, Path, list[access_log.AccessEntry]]:
    """Render, record and write the access-log report; the files and the entries shown."""
    with ws.session(actor) as s:
        needs(action="write reports")(s)
    found = access_log.entries(ws, actor, since=since, by=by, snapshot=snapshot)
    scope = _scope(since, by, snapshot)
    md, html = render_access(access_context(found, f"workspace {ws.workspace_id}", scope))
    paths = reporting.record(
        ws,
        actor,
        as_payload=lambda m, h: AccessReportRecorded(scope, len(found), m, h),
        subject="privacy:access-log",
        markdown=md,
        html=html,
        out_dir=out_dir,
        stem="access-log",
        reason=reason,
        pdf=pdf,
    )
    return paths[0], paths[1], found


def _uses(column: dict[str, Any]) -> str:
    parts = []
    for e in column["used_by"]:
        via = f" via {' → '.join(e['via'])}" if e["via"] else ""
        parts.append(f"{e['model']} {e['as']}{via}")
    return "; ".join(parts)


def _tags(column: dict[str, Any]) -> str:
    return ", ".join(
        t
        for t, on in (
            ("PII", column["pii"]),
            ("sensitive", column["sensitive"]),
            ("pseudonymised", column["pseudonymised"]),
        )
        if on
    )


def headline(doc: dict[str, Any]) -> str:
    """The report's first line: flags and drop candidates counted over every snapshot."""
    flagged = sum(len(s["pii_used"]) for s in doc["snapshots"])
    drop = sum(len(s["drop_candidates"]) for s in doc["snapshots"])
    if not flagged and not drop:
        return "OK: no PII column is read by a model, and every PII or sensitive column is used"
    parts = []
    if flagged:
        parts.append(f"FLAG: {plural(flagged, 'PII column')} read by a model as input or target")
    if drop:
        parts.append(
            f"{plural(drop, 'PII or sensitive column')} used by no model (drop candidates)"
        )
    return "; ".join(parts)


def minimisation_context(doc: dict[str, Any], title: str) -> MinimisationContext:
    """The minimisation report's context from :func:`core.privacy.minimisation.report`."""
    snaps = []
    for s in doc["snapshots"]:
        columns = [
            ColumnView(
                name=c["name"],
                type=c["type"],
                tags=_tags(c),
                uses=_uses(c),
                flag="FLAG"
                if c["name"] in s["pii_used"]
                else ("DROP?" if c["name"] in s["drop_candidates"] else ""),
            )
            for c in s["columns"]
        ]
        snaps.append(
            SnapshotMinimisation(
                s["snapshot"], s["kind"], s["rows"], s["erased"], s["verdicts"], columns
            )
        )
    models = [
        ModelMinimisation(
            m["model"],
            m["input"],
            ", ".join(m["features"]),
            m["target"],
            ", ".join(m["fairness"]),
            ", ".join(m["pii_inputs"]),
        )
        for m in doc["models"]
    ]
    return MinimisationContext(
        title, headline(doc), snaps, models, list(doc["notes"]), legend=list(MINIMISATION_LEGEND)
    )


def write_minimisation(
    ws: Workspace, actor: str, out_dir: Path, *, reason: str = "", pdf: bool = False
) -> tuple[Path, Path, dict[str, Any]]:
    """Render, record and write the minimisation report; the files and its figures."""
    with ws.session(actor) as s:
        needs(action="write reports")(s)
    doc = minimisation.report(ws, actor)
    ctx = minimisation_context(doc, f"workspace {ws.workspace_id}")
    md, html = render_minimisation(ctx)
    paths = reporting.record(
        ws,
        actor,
        as_payload=lambda m, h: MinimisationReportRecorded(ctx.headline, m, h),
        subject="privacy:minimisation",
        markdown=md,
        html=html,
        out_dir=out_dir,
        stem="minimisation",
        reason=reason,
        pdf=pdf,
    )
    return paths[0], paths[1], {**doc, "headline": ctx.headline}
