"""The human-readable members of a bundle: ``VERIFY.md`` and ``index.html``."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

from core.audit.bundle_members import Bundling, Members, payload_size
from core.audit.coverage import Coverage
from core.kernel.verdict import LEGEND
from reports.formatting import when
from reports.render import CARD_COLUMNS, NARROW_WINDOW, VERDICT_CSS
from storage import bundle_verifier


def verdict_legend() -> tuple[tuple[str, str], ...]:
    """The verdict vocabulary's legend, as the cover page shows it."""
    return LEGEND


def verify_md(
    model_ref: str, key_id: str, org_key_ids: list[str], verifier_sha256: str, demo: bool
) -> str:
    """How to check the bundle without ledgerml: with a trusted verifier, or with public tools.

    It sends the auditor to their own copy of the verifier and to the organisation key
    obtained elsewhere, because a bundle checked only against itself proves nothing about who
    made it: whoever could alter the bundle could replace its keys and its verify.py too.
    """
    orgs = "\n".join(f"    {k}" for k in org_key_ids) or "    (none listed)"
    warning = (
        "\n**Demo identities: no assurance.** This workspace's identities were made up for a "
        "demonstration; their keys share one account and prove nothing about who acted.\n"
        if demo
        else ""
    )
    return f"""# How to verify this bundle

This bundle documents model **{model_ref}**. Everything in it can be checked without
ledgerml and without network access.
{warning}
## 1. Use your own trusted copy of the verifier

Do **not** run the `verify.py` inside this bundle: whoever could alter the bundle could alter
it too. Every ledgerml release publishes `verify.py` with its SHA-256; take it from there (or
from a ledgerml installation you trust) and check its hash first. The verifier this bundle was
made with has SHA-256

    {verifier_sha256}

If the copy inside the bundle has another hash, it is not the verifier that made the bundle.

## 2. Get the organisation's public key through another channel

The bundle names the organisation key that certifies every signing key in it, by its SHA-256
fingerprint:

{orgs}

A bundle can only prove it is consistent with the keys it carries. Ask the organisation for
its public key (`ledgerml key export-public organisation -o org.pem` on their side) through
another channel than the one the bundle came by: handed over in person, or its fingerprint
read out and compared. Never take it from the bundle.

## 3. Verify (Python 3.11+ and the `cryptography` package)

    python verify.py BUNDLE.zip --key org.pem [--checkpoint OLD_CHECKPOINT.json]

Exit codes:

- **0**: verified and anchored to the organisation key you pinned (or to a checkpoint you
  kept from before).
- **1**: self-consistent but unanchored: every check passed, but only against the bundle's
  own keys. Get the organisation key as in step 2 and run again with `--key`.
- **3**: rejected: the message says what failed. Do not rely on the bundle.
- **2**: usage error (a file could not be read).

`verify.py` is short and meant to be read: it checks the archive is safe, the manifest's
signature and every member's SHA-256, that the manifest, the checkpoint and every ledger event
are signed by an actor's key certified by the organisation key (and not rotated or revoked at
the time), every ledger event's Merkle inclusion proof, that every piece of evidence is named
by an included event, that every report PDF in `reports/` is a PDF of the report beside it (a
recorded one the very PDF its signed report event names), and (with `--checkpoint`) that the
log only grew since a checkpoint you kept. It re-checks the governance too, without running any
policy code: every approval in `signatures/approval-*.dsse.json` is signed by the approver's
own certified key for this model's digest and this workspace, by someone who held the role then
and did not develop the model; every promotion to approved meets the k-of-n rule of the policy
bundle in force then (`policy/*.json`, each hashing to the digest the ledger installed); every
policy decision names that bundle. `governance/history.json` lists the model's risk tier,
approvals, rejections, promotions and refusals. `ledgerml bundle verify` runs exactly the same
code, and also tells whether the bundle's `verify.py` is a known release.

## 4. Recompute the figures (`--recompute`)

    python verify.py BUNDLE.zip --key org.pem --recompute

A signature proves who stated a figure; this checks the figure. From the bundled test
predictions, with the standard library alone, it recomputes ROC AUC and accuracy, and for each
fairness comparison every group's rates (favourable outcome, positive predictions, TPR, FPR),
the demographic-parity and equalized-odds differences and the disparate impact, and names every
figure that differs from the signed evidence (exit 3). A bundle exported with `--data hashes`
carries the predictions as digests only: it says the recomputation was not possible.

The manifest is signed by key `{key_id}`.

## With public tools

- Member hashes: unzip into an empty folder, then compare `sha256sum <member>` with the
  `sha256` of each entry of `manifest.json`.
- Manifest signature (ECDSA P-256): the signature covers
  `DSSEv1 <len(type)> <type> <len(manifest)> <manifest>` where type is
  `{bundle_verifier.MANIFEST_TYPE}`; write that to `msg`, base64-decode the `sig` of
  `manifest.dsse.json` to `sig.der`, then
  `openssl dgst -sha256 -verify keys/{key_id}.pem -signature sig.der msg`.
- Key certificates: the `certificate` of each entry of `keys/keys.json` is a DSSE envelope
  of type `{bundle_verifier.CERTIFICATE_TYPE}` signed the same way by the organisation key;
  check it with the organisation key you obtained, not with the one in `keys/`.
- The model's OpenSSF signature: `model_signing verify key model/<name> --signature
  model/<name>.sig --public_key keys/<signer key>.pem`.
- Approvals: each `signatures/approval-<seq>.dsse.json` is a DSSE envelope (payload type
  `application/vnd.in-toto+json`) of an in-toto statement about the model's SHA-256, signed
  the same way with the approver's own key (`keys/<key_id>.pem`, the `key_id` its
  `model.approve` event at `<seq>` names); its predicate says who approved, in which role,
  for which stage, under which policy (`policy/<sha256>.json`) and on what conditions.
- Ledger events: each line of `ledger/events.jsonl` hashes (SHA-256 of the line) to an entry
  hash; the RFC 6962 leaf is SHA-256(0x00 || entry hash); `ledger/proofs.json` holds the audit
  paths to the root signed in `ledger/checkpoint.json`.
"""


_WIDE = f"table:has(th:nth-child({CARD_COLUMNS}))"
"""A table too wide to keep its shape in a narrow window (as in the reports)."""
_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1f24}h1{margin-bottom:.2rem}h2{border-bottom:1px solid #d0d7de;"
    "padding-bottom:.2rem;margin-top:2rem}table{border-collapse:collapse;font-size:13px;"
    "margin:.5rem 0;width:100%}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;"
    "text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right;"
    "white-space:nowrap}code,a{word-break:break-all}.meta{color:#57606a}"
    ".box{padding:.6rem 1rem;border-left:4px solid #0969da;background:#ddf4ff;margin:1rem 0}"
    ".warn-box{border-left-color:#d4a72c;background:#fff8c5}"
    + "".join(f".{name}{{color:{colour};font-weight:600}}" for name, colour in VERDICT_CSS.items())
    + "dl{display:grid;grid-template-columns:max-content 1fr;"
    "gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}"
    "p,li,dd,h1,h2{overflow-wrap:anywhere}"
    # A narrow window: a wide table shows each row as a card, one line per cell under its
    # column's heading (data-label, from _labelled); a narrower table wraps in its cells.
    # Nothing is wider than the window; the reports' style sheet has the same rules.
    f"@media screen and (max-width:{NARROW_WINDOW}){{body{{margin:1rem auto}}"
    "td{overflow-wrap:anywhere}"
    f"{_WIDE},{_WIDE}>tbody,{_WIDE}>tbody>tr{{display:block}}{_WIDE}>thead{{display:none}}"
    f"{_WIDE}>tbody>tr{{border:1px solid #d0d7de;margin:.5rem 0;padding:.2rem 0}}"
    f"{_WIDE}>tbody>tr>td{{display:flow-root;border:0;padding:.1rem .5rem .1rem 9rem}}"
    f"{_WIDE}>tbody>tr>td:empty{{display:none}}"
    f"{_WIDE}>tbody>tr>td::before{{content:attr(data-label);float:left;width:8rem;"
    "margin-left:-8.5rem;color:#57606a;font-weight:600}}"
    "@media print{a{color:inherit;text-decoration:none}}"
)
_VERDICTS = ("PASS", "WARN", "INCONCLUSIVE", "FAIL")


def human_size(size: int) -> str:
    """A byte count as people read it (``812 B``, ``4.2 KiB``, ``1.3 MiB``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _verdict(verdict: str) -> str:
    """A verdict in its colour (anything else escaped as it is)."""
    if verdict in _VERDICTS:
        return f'<span class="{verdict.lower()}">{verdict}</span>'
    return html.escape(verdict)


# A report's rendering in the bundle: reports/<stem>.md, .html or .pdf.
_REPORT_FILE = re.compile(r"reports/[^/]+\.(md|html|pdf)")


def _link(path: str, text: str = "") -> str:
    """A relative link to a bundle member, the member's path (or ``text``) as its text."""
    return f'<a href="{html.escape(quote(path))}">{html.escape(text or path)}</a>'


def _approvals(b: Bundling) -> list[dict[str, Any]]:
    """The approvals and rejections of this version in the ledger excerpt, oldest first."""
    found = []
    for seq in b.seqs:
        body = b.event_body(seq)
        data = body.get("data") or {}
        if body.get("action") == "model.approve" and (
            data.get("model") == b.model.ref or f"model:{b.model.ref}" in body.get("subjects", [])
        ):
            found.append({"seq": seq, "ts": str(body.get("ts", "")), **data})
    return found


def _counts_now(b: Bundling, seq: int) -> str:
    """The "counts now" cell of one approval: yes, or NO and why (never blank)."""
    found = b.sign_off.by_seq().get(seq) if b.sign_off else None
    if found is None:
        return "<b class=fail>NO</b>: not among the version's approvals at export"
    if found.counted:
        return "yes"
    return f"<b class=fail>NO</b>: {html.escape(found.why_not or 'does not count')}"


def _stage_line(b: Bundling) -> str:
    """The version's stage at export, with a word when its approvals no longer count."""
    return b.sign_off.stage_detail if b.sign_off else "not recorded"


# A table as the cover writes it: its header row first, then its rows.
_TABLE = re.compile(r"<table>(<tr><th>.*?</tr>)(.*?)</table>", re.S)


def _labelled(page: str) -> str:
    """``page`` with its tables' header rows in ``<thead>`` and wide tables' cells labelled.

    Each ``<td>`` of a table of ``CARD_COLUMNS`` columns or more gets ``data-label``, its
    column's heading: the labels let a narrow window show the table as one card per row
    (the style sheet's narrow-screen rules). They are read from each header row once the
    page is written, so a table's columns are named once, in its header.
    """

    def labelled(table: re.Match[str]) -> str:
        header, body = table.group(1), table.group(2)
        labels = [
            html.escape(html.unescape(re.sub(r"<[^>]*>", "", cell)))
            for cell in re.findall(r"<th>(.*?)</th>", header, re.S)
        ]

        def row(tr: re.Match[str]) -> str:
            names = iter(labels)
            return re.sub(
                r"<td(?=[ >])", lambda _: f'<td data-label="{next(names, "")}"', tr.group(0)
            )

        if len(labels) >= CARD_COLUMNS:
            body = re.sub(r"<tr>.*?</tr>", row, body, flags=re.S)
        return f"<table><thead>{header}</thead><tbody>{body}</tbody></table>"

    return _TABLE.sub(labelled, page)


def index_html(b: Bundling, members: Members, table: Coverage) -> str:
    """The bundle's cover page: what it documents, what was checked at export, every member.

    It states only what the exporter checked when it wrote the bundle (the model's bytes and
    signature, every ledger-named member's digest, the fresh signed checkpoint) and the
    verdicts the signed evidence records; it verifies nothing when opened, and says so: the
    auditor's own verdict comes from ``ledgerml bundle verify`` or their trusted verifier.
    """
    ref = html.escape(b.model.ref)
    evaluations = "".join(
        f"<tr><td>{_link(f'evidence/evaluation-{e.seq}.json')}</td><td>#{e.seq}</td>"
        f"<td>{_verdict(e.verdict)}</td><td>{e.errors} failing, {e.warnings} warning or "
        f"inconclusive</td><td>{html.escape(e.created_by)}, "
        f"{html.escape(when(e.created_at, seconds=True))}</td></tr>"
        for e in b.evaluations
    )
    validations = "".join(
        f"<tr><td>{html.escape(v.suite_name)} on {html.escape(v.snapshot)}</td><td>#{v.seq}</td>"
        f"<td>{_verdict('FAIL' if not v.passed else 'WARN' if v.warnings else 'PASS')}</td>"
        f"<td>{v.errors} errors, {v.warnings} warnings of {v.checks} checks</td>"
        f"<td>{html.escape(v.created_by)}, "
        f"{html.escape(when(v.created_at, seconds=True))}</td></tr>"
        for v in b.validations
    )
    approvals = "".join(
        f"<tr><td>#{a['seq']}</td><td>{html.escape(when(a['ts'], seconds=True))}</td>"
        f"<td>{html.escape(str(a.get('approver', '')))}</td>"
        f"<td>{html.escape(str(a.get('decision', '')))}</td>"
        f"<td>{html.escape(str(a.get('role', '')))}</td>"
        f"<td>{html.escape(str(a.get('stage', '')))}</td>"
        f"<td>{html.escape('; '.join(str(c) for c in a.get('conditions') or []))}</td>"
        f"<td>{_counts_now(b, int(a['seq']))}</td></tr>"
        for a in _approvals(b)
    )
    overall = b.evaluations[-1].verdict if b.evaluations else "none recorded"
    reports = "".join(
        f"<tr><td>{html.escape(stem.removeprefix('reports/'))}</td>"
        + "".join(
            f"<td>{_link(f'{stem}.{kind}', text) if f'{stem}.{kind}' in members.items else '—'}"
            "</td>"
            for kind, text in (("pdf", "PDF"), ("html", "HTML"), ("md", "Markdown"))
        )
        + "</tr>"
        for stem in sorted(
            {p.rsplit(".", 1)[0] for p in members.items if _REPORT_FILE.fullmatch(p)}
        )
    )
    rows = "".join(
        f"<tr><td>{_link(p)}</td><td>{html.escape(m)}</td>"
        f'<td class="n">{human_size(payload_size(d))}</td></tr>'
        for p, (d, m, _) in sorted(members.items.items())
    )
    cov = "".join(
        f"<tr><td>{html.escape(c.item)}</td><td>"
        f"{'yes' if c.files else '<b class=fail>MISSING</b>'}</td><td>"
        + ", ".join(_link(f) if f in members.items else html.escape(f) for f in c.files)
        + "</td></tr>"
        for c in table.auditors
    )
    annex = "".join(
        f"<tr><td>{html.escape(c.item)}</td><td>"
        f"{'yes' if c.files else '<b class=warn>GAP</b>'}</td><td>"
        + ", ".join(_link(f) if f in members.items else html.escape(f) for f in c.files)
        + "</td></tr>"
        for c in table.annex_iv
    )
    demo = (
        '<p class="box warn-box"><b>Demo identities: no assurance.</b> The identities in this '
        "bundle were made up for a demonstration.</p>"
        if b.demo()
        else ""
    )
    return _labelled(
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Audit bundle: {ref}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Audit bundle: {ref}</h1>"
        f'<p class="meta">Exported at ledger size {b.checkpoint.size} · data level '
        f"{html.escape(b.data_level)} · manifest signed by key "
        f"<code>{html.escape(b.key.key_id[:16])}</code></p>{demo}"
        '<div class="box"><b>Verified at export, not by this page.</b> When the bundle '
        f"was exported, ledgerml checked that the bytes of {ref} match the digest recorded "
        "at training and that a key that was not revoked signed them, read every "
        "ledger-named member back against its SHA-256, and signed a checkpoint at ledger "
        f"size {b.checkpoint.size} covering the excerpt. Anyone who could alter the bundle "
        "could alter this page too: for your own verdict run "
        "<code>ledgerml bundle verify BUNDLE.zip --key org.pem</code> (or your trusted copy "
        'of verify.py), as <a href="VERIFY.md">VERIFY.md</a> explains, with the '
        "organisation key obtained through another channel.</div>"
        "<h2>Headline facts</h2><dl>"
        f"<dt>Model</dt><dd>{html.escape(b.model.name)}</dd>"
        f"<dt>Version</dt><dd>{b.model.version} ({ref})</dd>"
        f"<dt>Training run</dt><dd>run:{html.escape(b.run.run_id)} "
        f"({html.escape(b.run.estimator.replace('_', ' '))})</dd>"
        f"<dt>Model digest</dt><dd><code>sha256:{html.escape(b.model.model_digest)}</code></dd>"
        f"<dt>Evidence verdict (newest)</dt><dd>{_verdict(overall)}</dd>"
        f"<dt>Signatures</dt><dd>{len(b.signatures)}</dd>"
        f"<dt>Approvals and rejections</dt><dd>{len(_approvals(b))}</dd></dl>"
        "<p class=meta>Verdicts: "
        + "; ".join(f"{_verdict(v)} {html.escape(m)}" for v, m in verdict_legend())
        + ".</p>"
        "<h2>Evaluation evidence</h2>"
        + (
            "<table><tr><th>evidence</th><th>event</th><th>verdict</th><th>checks not "
            f"passed</th><th>by, when</th></tr>{evaluations}</table>"
            if evaluations
            else "<p>None recorded.</p>"
        )
        + "<h2>Data validations</h2>"
        + (
            "<table><tr><th>suite</th><th>event</th><th>verdict</th><th>counts</th>"
            f"<th>by, when</th></tr>{validations}</table>"
            if validations
            else "<p>None recorded.</p>"
        )
        + "<h2>Approvals</h2>"
        + (
            "<p>Whether each approval counted toward its stage when the bundle was exported "
            "(the rule promotion applies: newer evidence voids an approval, approvals expire, "
            f"a developer's never counts). Stage then: {html.escape(_stage_line(b))}.</p>"
            "<table><tr><th>event</th><th>when</th><th>who</th><th>decision</th><th>role</th>"
            "<th>for stage</th><th>conditions</th><th>counts now</th></tr>"
            f"{approvals}</table>"
            if approvals
            else "<p>No approval recorded.</p>"
        )
        + "<h2>Reports</h2>"
        + (
            "<p>Each report as filed (PDF/A, A4), to read in a browser, and as its Markdown "
            "source; every file is listed in the signed manifest with its SHA-256.</p>"
            "<table><tr><th>report</th><th>PDF</th><th>HTML</th><th>Markdown</th></tr>"
            f"{reports}</table>"
            if reports
            else "<p>No report in this bundle.</p>"
        )
        + "<h2>What auditors look for</h2><table>"
        f"<tr><th>item</th><th>present</th><th>files</th></tr>{cov}</table>"
        "<h2>EU AI Act Annex IV mapping</h2><table><tr><th>item</th><th>covered</th>"
        f"<th>files</th></tr>{annex}</table><h2>Members</h2>"
        f"<p>Also in the archive: {_link(bundle_verifier.MANIFEST)} (every member's SHA-256) "
        f"and {_link(bundle_verifier.MANIFEST_SIG)} (its signature).</p>"
        "<table><tr><th>path</th><th>media type</th><th>size</th></tr>"
        f"{rows}</table></body></html>\n"
    )
