"""The human-readable members of a bundle: ``VERIFY.md`` and ``index.html``."""

from __future__ import annotations

import html

from core.audit.bundle_members import Members, payload_size
from core.audit.coverage import Coverage
from storage import bundle_verifier


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
by an included event, and (with `--checkpoint`) that the log only grew since a checkpoint you
kept. It re-checks the governance too, without running any policy code: every approval in
`signatures/approval-*.dsse.json` is signed by the approver's own certified key for this
model's digest and this workspace, by someone who held the role then and did not develop the
model; every promotion to approved meets the k-of-n rule of the policy bundle in force then
(`policy/*.json`, each hashing to the digest the ledger installed); every policy decision names
that bundle. `governance/history.json` lists the model's risk tier, approvals, rejections,
promotions and refusals. `ledgerml bundle verify` runs exactly the same code, and also tells
whether the bundle's `verify.py` is a known release.

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
