"""The retention and deletion log as a report: ``ledgerml report retention``.

"Retention & Deletion Logs — proof of compliance with data-retention policies": the rules in
force (and those they replaced), each snapshot with the rule that applies to it and where it
comes from, the legal holds placed and lifted, the erasures with their receipts' digests, and
the retention runs, each with what it erased, kept and was refused. It is rendered from
:func:`storage.bundle_verifier.retention_log` over the signed events (the workstation's whole
ledger here; a bundle's excerpt in ``privacy/retention.json``, rendered by the same code), so
the report and the bundle say the same thing about the same events.

Expiry is counted at the time of the last event the log covers, never the reader's clock, so
the same ledger always renders the same bytes. Flags come first: a run that counted expiry at
a later instant than its own time (``--as-of``), an erasure made before its retention had run
out by the wall clock.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from core.documents.events import RetentionReportRecorded
from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.events import now_iso
from core.kernel.kinds import new_event
from core.kernel.paths import write_output
from core.kernel.workspace import Session, Workspace
from core.privacy import periods
from reports.formatting import when
from reports.render import render_pdf
from reports.retention import (
    ErasureView,
    HoldView,
    RetentionContext,
    RuleView,
    RunView,
    SnapshotView,
    render_retention,
)
from storage.bundle_verifier import RETENTION_FORMAT, retention_log
from storage.canonical import canonical_bytes

FORMATS = ("md", "html", "json", "pdf")


def _short(digest: Any) -> str:
    return f"sha256:{str(digest)[:16]}…" if digest else "—"


def _at(instant: Any) -> str:
    """A recorded instant as the log shows it: to the second, in UTC ("" for none)."""
    return when(instant, seconds=True) if instant else ""


def _period(period: Any) -> str:
    """A retention period (``7y``) in words (``7 years``); anything else as recorded."""
    try:
        return periods.describe(str(period)) if period else ""
    except UsageError:
        return str(period)


def _rule(rule: Any) -> str:
    """The rule an erasure followed (``retention 7y``), its period in words."""
    kind, _, period = str(rule).partition(" ")
    return f"{kind} {_period(period)}" if kind == "retention" and period else str(rule)


def _snapshot_views(doc: dict[str, Any], now: str | None) -> list[SnapshotView]:
    in_force: dict[str, dict[str, Any]] = {}
    for r in doc["rules"]:
        in_force[str(r["target"])] = r
    erased: dict[str, int] = {}
    for e in doc["erasures"]:
        for ref in e["snapshots"]:
            erased.setdefault(str(ref), int(e["seq"]))
    holding = [h for h in doc["holds"] if h["released_seq"] is None]
    out = []
    for s in doc["snapshots"]:
        ref = str(s["snapshot"])
        dataset = ref.split("@", 1)[0]
        rule = in_force.get(f"dataset:{dataset}")
        if rule is not None:
            period, applies = str(rule["period"]), f"dataset:{dataset} rule #{rule['seq']}"
        elif s["tag"]:
            period, applies = str(s["tag"]), "the snapshot's own tag"
        else:
            period, applies = "", "no rule"
        ends = ""
        if period:
            end = periods.ends(periods.instant(str(s["created_at"])), period)
            ends = "" if end == periods.NEVER else periods.iso(end)
        held = [h for h in holding if h["target"] in (f"dataset:{dataset}", f"snapshot:{ref}")]
        if ref in erased:
            status = f"erased at #{erased[ref]}"
        elif not period:
            status = "kept: no rule"
        elif ends and now and ends <= now:
            status = f"expired {_at(ends)}, not erased" + (
                ", held by " + "; ".join(f"#{h['hold']}: {h['reason']}" for h in held)
                if held
                else ": due for erasure (no retention run has erased it)"
            )
        else:
            status = f"kept until {_at(ends)}" if ends else "kept (its period reaches past 9999)"
            if held:
                status += ", held by " + ", ".join(f"#{h['hold']}" for h in held)
        label = f"{_period(period)} ({applies})" if period else applies
        shown = SnapshotView(
            ref, _at(s["created_at"]), _period(s["tag"] or ""), label, _at(ends), status
        )
        out.append(shown)
    return out


def _run_lines(run: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    erased = [
        f"{e['snapshot']} (#{e['erasure']}): {_rule(e['rule'])}, expired {_at(e['expires_at'])}"
        + (f", with {', '.join(e['covers'])}" if e.get("covers") else "")
        for e in run["erased"]
    ] + [
        f"the decision log of {d['deployment_id']} in {d['env']} (#{d['erasure']}): "
        f"{_rule(d['rule'])} from its end {_at(d['ended_at'])}, expired {_at(d['expires_at'])}"
        for d in run["decision_logs"]
    ]
    held = [f"{h['target']}: {h['text']}" for h in run["held"]]
    refused = [f"{x['target']}: {x['error']}" for x in run["refused"]]
    return erased, held, refused


def context(doc: dict[str, Any], *, title: str, scope: str, now: str | None) -> RetentionContext:
    """The report's context from a retention log document (:func:`retention_log`'s)."""
    last: dict[str, int] = {}
    for r in doc["rules"]:
        last[str(r["target"])] = int(r["seq"])
    rules = [
        RuleView(
            int(r["seq"]),
            str(r["target"]),
            _period(r["period"]),
            _period(r["previous"] or ""),
            _at(r["ts"]),
            str(r["actor"]),
            str(r["reason"]),
            last[str(r["target"])] == int(r["seq"]),
        )
        for r in doc["rules"]
    ]
    holds = [
        HoldView(
            int(h["hold"]),
            str(h["target"]),
            f"{_at(h['placed_at'])} by {h['placed_by']}",
            str(h["reason"]),
            f"lifted at #{h['released_seq']} ({_at(h['released_at'])}) by {h['released_by']}: "
            f"{h['released_reason']}"
            if h["released_seq"] is not None
            else "in force",
            h["released_seq"] is None,
        )
        for h in doc["holds"]
    ]
    erasures = [
        ErasureView(
            int(e["seq"]),
            _at(e["ts"]),
            str(e["actor"]),
            str(e["target"]),
            ", ".join([*e["snapshots"], *(f"decision key of {k}" for k in e["decision_keys"])]),
            str(e["method"]),
            str(e["legal_basis"]),
            _rule(e["rule"]),
            _short(e["receipt_digest"]),
            _at(e["as_of"]) if e["as_of"] else "",
            str(e["reason"]),
        )
        for e in doc["erasures"]
    ]
    runs = []
    for r in doc["runs"]:
        erased, held, refused = _run_lines(r)
        runs.append(
            RunView(
                int(r["seq"]),
                _at(r["ts"]),
                str(r["actor"]),
                _at(r["as_of"]) if r["as_of"] else "",
                erased,
                held,
                refused,
                str(r["reason"]),
            )
        )
    notes = [
        "A dataset's rule overrides the retention tag each of its snapshots was ingested "
        "with; without either, nothing expires. Months and years are calendar ones "
        "(29 February plus one year ends on 28 February).",
        f"Expiry above is counted at {_at(now) if now else 'no event'} (the last event the log "
        "covers), "
        "not at the time of reading.",
    ]
    return RetentionContext(
        title=title,
        scope=scope,
        flags=list(doc["flags"]),
        rules=rules,
        snapshots=_snapshot_views(doc, now),
        holds=holds,
        erasures=erasures,
        runs=runs,
        notes=notes,
    )


def render_log(doc: dict[str, Any], *, title: str) -> tuple[str, str]:
    """A retention log document (workspace or bundle) as ``(markdown, html)``."""
    ctx = context(
        doc,
        title=title,
        scope=f"The signed events up to #{doc.get('as_of')}",
        now=doc.get("last_ts"),
    )
    return render_retention(ctx)


def log_of(ws: Workspace) -> dict[str, Any]:
    """The workspace's whole retention log, as a bundle would carry it."""
    events = [(e.seq, e.decode()) for e in ws.ledger.iter_entries()]
    size = events[-1][0] if events else 0
    last = str(events[-1][1].get("ts")) if events else None
    return {
        "format": RETENTION_FORMAT,
        "scope": "workspace",
        "as_of": size,
        "last_ts": last,
        **retention_log(events),
    }


def write(
    ws: Workspace,
    actor: str,
    out_dir: Path,
    *,
    formats: tuple[str, ...] = ("md", "html"),
    reason: str = "",
) -> list[Path]:
    """Render, record (``report.retention``) and write the retention and deletion log.

    The Markdown, HTML and JSON are stored and named by the event whatever ``formats`` asks
    to write, so any of them can be fetched later by its digest; the PDF (slow to render)
    only when ``formats`` names it, its dates the event's time.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"unknown report format {unknown[0] if unknown else '(none)'!r}",
            hint=f"Formats: {', '.join(FORMATS)}.",
        )
    with ws.session(actor) as s:
        needs(action="write reports")(s)
    doc = log_of(ws)
    md, html = render_log(doc, title="workspace")
    data = {"md": md.encode(), "html": html.encode(), "json": canonical_bytes(doc)}
    ts = now_iso()
    if "pdf" in formats:  # the PDF only when asked: it is the one slow rendering
        md_digest = hashlib.sha256(data["md"]).hexdigest()
        data["pdf"] = render_pdf(html, doc_id=f"retention · md sha256:{md_digest[:12]}", created=ts)

    def prepare(_: Session) -> None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot write reports into {out_dir}: {err}") from err

    def commit(s: Session, _: None) -> None:
        refs = {
            "md": s.put_blob(data["md"], "text/markdown"),
            "html": s.put_blob(data["html"], "text/html"),
            "json": s.put_blob(data["json"], "application/json"),
        }
        if "pdf" in data:
            refs["pdf"] = s.put_blob(data["pdf"], "application/pdf")
        payload = RetentionReportRecorded(
            markdown=refs["md"].sha256,
            html=refs["html"].sha256,
            json=refs["json"].sha256,
            events=int(doc["as_of"]),
            flags=len(doc["flags"]),
            pdf=refs["pdf"].sha256 if "pdf" in refs else None,
        )
        event = new_event(actor, payload, ["retention"], reason, list(refs.values()))
        s.commit(dataclasses.replace(event, ts=ts))

    command.run(ws, actor, guards=[needs(action="write reports")], prepare=prepare, commit=commit)
    written = []
    for fmt in formats:
        path = out_dir / f"retention.{fmt}"
        write_output(path, data[fmt])
        written.append(path)
    return written


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """Counts for ``--json`` and the command's closing line."""
    return {
        "rules": len(doc["rules"]),
        "holds": len(doc["holds"]),
        "holds_in_force": sum(1 for h in doc["holds"] if h["released_seq"] is None),
        "erasures": len(doc["erasures"]),
        "runs": len(doc["runs"]),
        "flags": doc["flags"],
    }
