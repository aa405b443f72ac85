"""The human-readable members of a bundle: ``VERIFY.md`` and ``index.html``."""

from __future__ import annotations

import html

from core.audit.bundle_members import Members, payload_size
from core.audit.coverage import Coverage
from storage import bundle_verifier


def verify_md(model_ref: str, key_id: str) -> str:
    """How to check the bundle without ledgerml, with its verifier or with public tools."""
    return f"""# How to verify this bundle

This bundle documents model **{model_ref}**. Everything in it can be checked without
ledgerml and without network access.

## With the bundled verifier (Python 3.11+ and the `cryptography` package)

    unzip -p BUNDLE.zip verify.py > verify.py      # take the verifier out first
    python verify.py BUNDLE.zip [--checkpoint OLD_CHECKPOINT.json] [--key WORKSPACE_KEY.pem]

`verify.py` is short and meant to be read: it checks the archive is safe, the manifest's
signature, every member's SHA-256, the signed checkpoint, every ledger event's Merkle
inclusion proof, that every piece of evidence is named by an included event, and (with
`--checkpoint`) that the log only grew since a checkpoint you kept. `ledgerml bundle verify`
runs exactly the same code.

The workspace key that signs the manifest and the checkpoint has id `{key_id}`. Compare it
with the one the provider published, or pin it with `--key keys/{key_id}.pem` obtained from
a trusted channel: a bundle can only prove it is consistent with the key it names.

## With public tools

- Member hashes: unzip into an empty folder, then compare `sha256sum <member>` with the
  `sha256` of each entry of `manifest.json`.
- Manifest signature (ECDSA P-256): the signature covers
  `DSSEv1 <len(type)> <type> <len(manifest)> <manifest>` where type is
  `{bundle_verifier.MANIFEST_TYPE}`; write that to `msg`, base64-decode the `sig` of
  `manifest.dsse.json` to `sig.der`, then
  `openssl dgst -sha256 -verify keys/{key_id}.pem -signature sig.der msg`.
- The model's OpenSSF signature: `model_signing verify key model/<name> --signature
  model/<name>.sig --public_key keys/<signer key>.pem`.
- Ledger events: each line of `ledger/events.jsonl` hashes (SHA-256 of the line) to an entry
  hash; the RFC 6962 leaf is SHA-256(0x00 || entry hash); `ledger/proofs.json` holds the audit
  paths to the root signed in `ledger/checkpoint.json`.
"""


def index_html(model_ref: str, members: Members, table: Coverage) -> str:
    """The bundle's front page: coverage, the Annex IV mapping and every member."""
    rows = "".join(
        f'<tr><td><a href="{html.escape(p)}">{html.escape(p)}</a></td><td>{html.escape(m)}'
        f"</td><td>{payload_size(d)}</td></tr>"
        for p, (d, m, _) in sorted(members.items.items())
    )
    cov = "".join(
        f"<tr><td>{html.escape(c.item)}</td><td>{'yes' if c.files else '<b>MISSING</b>'}"
        f"</td><td>{html.escape(', '.join(c.files))}</td></tr>"
        for c in table.auditors
    )
    annex = "".join(
        f"<tr><td>{html.escape(c.item)}</td><td>{'yes' if c.files else '<b>GAP</b>'}"
        f"</td><td>{html.escape(', '.join(c.files))}</td></tr>"
        for c in table.annex_iv
    )
    style = (
        "body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;"
        "padding:0 1rem}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left}"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Audit '
        f"bundle: {html.escape(model_ref)}</title><style>{style}</style></head><body>"
        f"<h1>Audit bundle: {html.escape(model_ref)}</h1><p>Verify it first: see "
        f'<a href="VERIFY.md">VERIFY.md</a>.</p><h2>What auditors look for</h2><table>'
        f"<tr><th>item</th><th>present</th><th>files</th></tr>{cov}</table>"
        f"<h2>EU AI Act Annex IV mapping</h2><table><tr><th>item</th><th>covered</th>"
        f"<th>files</th></tr>{annex}</table><h2>Members</h2><table><tr><th>path</th>"
        f"<th>media type</th><th>bytes</th></tr>{rows}</table></body></html>\n"
    )
