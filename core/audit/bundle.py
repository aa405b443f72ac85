"""Audit bundles: one zip a regulator verifies on an air-gapped machine with nothing else.

``export`` gathers everything about one model version — the model and its signatures (DSSE
and OpenSSF), evidence, reports, the key list with statuses, lineage, the data (or only its
digests), and the ledger excerpt of every event about the model and its inputs with Merkle
inclusion proofs against a fresh signed checkpoint (and consistency proofs from every earlier
checkpoint), its governance (each approval's signed statement, the policy bundles in force,
the policy decisions and the version's lifecycle history: :mod:`core.audit.bundle_governance`)
— plus a coverage table of what auditors look for, an EU AI Act Annex IV mapping,
``index.html``, ``VERIFY.md`` and ``verify.py`` (:mod:`storage.bundle_verifier`, verbatim).
A manifest of every member's SHA-256, size and media type is signed by the exporter's own key.
``keys/keys.json`` lists every key with its certificate (and the organisation key that issued
them), ``identity/actors.json`` the actors as of the checkpoint; the manifest says
``demo_identities`` when any of them is a demonstration identity.

``verify`` checks a bundle against an anchor: the organisation key an auditor pins (or their
trusted-keys file, or a checkpoint they kept). Without one, a good bundle is only
self-consistent (exit code 1): anyone who can rewrite a bundle can make it agree with itself.

The zip is deterministic for a given ledger state: members in name order, fixed timestamps
and permissions, so exporting twice gives the same bytes. The file is put in place and made
durable, and then the export is recorded as a ``bundle.export`` event (who, what, data level,
why), so the next bundle carries it in its access log: an event never names a bundle that is
not there. ``verify`` runs the stand-alone verifier.

The members come from per-context collectors (:mod:`core.audit.bundle_collectors`); the zip
is written by :mod:`core.audit.bundle_zip`; ``VERIFY.md`` and ``index.html`` are rendered by
:mod:`core.audit.bundle_pages`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.audit import checkpoints, coverage, lineage
from core.audit.bundle_collectors import COLLECTORS
from core.audit.bundle_members import Bundling, Members, payload_sha256, payload_size
from core.audit.bundle_operations import environments
from core.audit.bundle_pages import index_html, verify_md
from core.audit.bundle_zip import check_output, write_zip
from core.audit.coverage import Coverage
from core.audit.events import EXPORT_ROLES, BundleExported
from core.governance import approvals, policy
from core.identity import keys as keys_mod
from core.identity.actors import needs
from core.identity.signing import envelope, pae
from core.kernel import command, kinds
from core.kernel.errors import IntegrityError, UsageError
from core.kernel.progress import NO_PROGRESS, Progress
from core.kernel.rows import KeyRow
from core.kernel.workspace import BehindError, Session, Workspace
from core.modelling import models
from storage import bundle_verifier, failpoints
from storage.canonical import canonical_bytes
from storage.fsutil import fsync_dir
from storage.objects import hash_file, sha256_hex

ROLES = EXPORT_ROLES


@dataclass(frozen=True)
class _Written:
    """A bundle written beside its final name, waiting for its export to be recorded."""

    bundling: Bundling
    partial: Path
    sha256: str
    members: int
    coverage: Coverage


def _gather(ws: Workspace, s: Session, ref: str, data: str) -> Bundling:
    """Fix what the bundle documents under one hold: the model, its inputs and evidence."""
    model = models.resolve(s.catalog, ref)
    run = models.resolve_run(s.catalog, model.run_id)
    cp, _ = checkpoints.sign_checkpoint(ws, s)
    edges = s.catalog.lineage(f"model:{model.ref}")
    snapshots = [
        s.catalog.snapshot(n.removeprefix("snapshot:"))
        for n in sorted({e.dst for e in edges} | {e.src for e in edges})
        if n.startswith("snapshot:")
    ]
    return Bundling(
        ws=ws,
        data_level=data,
        model=model,
        run=run,
        checkpoint=cp,
        key=_signing_key(s),
        keys=s.catalog.keys_of(),
        actors=s.catalog.actors(),
        snapshots=snapshots,
        signatures=s.catalog.signatures(f"model:{model.ref}"),
        evaluations=s.catalog.evaluations(model.ref),
        validations=[v for snap in snapshots if snap for v in s.catalog.validations(snap.ref)],
        reproductions=s.catalog.reproductions(run.run_id),
        earlier=[c for c in checkpoints.checkpoints(ws) if c.size < cp.size],
        seqs=[],
        sign_off=approvals.sign_off_in(s, [model.ref])[model.ref],
    )


def _signing_key(s: Session) -> KeyRow:
    """The exporter's own key, which signs the manifest (as it signed the checkpoint)."""
    row = s.catalog.key(checkpoints.signer_of(s).key.key_id)
    if row is None:
        raise IntegrityError("the exporter's key is in the ledger but not in the catalog")
    return row


def _assemble(b: Bundling) -> tuple[Members, Coverage]:
    """Every member: the collectors', then what is derived from them all."""
    members = Members()
    for collect in COLLECTORS:
        collect(b, members)
    actions = [b.event_body(q)["action"] for q in b.seqs]
    table = coverage.build(
        members=set(members.items), actions=actions, reports=b.reports, data_level=b.data_level
    )
    members.add("coverage.json", canonical_bytes(table.to_json()), "application/json")
    members.add("coverage.md", table.markdown().encode(), "text/markdown")
    verifier = Path(bundle_verifier.__file__).read_bytes()
    members.add("verify.py", verifier, "text/x-python")
    orgs = [k.key_id for k in b.keys if k.purpose == "organisation"]
    page = verify_md(b.model.ref, b.key.key_id, orgs, sha256_hex(verifier), b.demo())
    members.add("VERIFY.md", page.encode(), "text/markdown")
    members.add("index.html", index_html(b, members, table).encode(), "text/html")
    return members, table


def _write(b: Bundling, out: Path, progress: Progress) -> _Written:
    """Collect, sign the manifest and write the zip beside ``out`` (nothing is recorded)."""
    progress(0, None, "collecting evidence, reports and the ledger excerpt")
    b = dataclasses.replace(
        b, seqs=[q for q in _excerpt_seqs(b.ws, b.model.ref) if q <= b.checkpoint.size]
    )
    members, table = _assemble(b)
    listed = [
        {
            "path": p,
            "sha256": payload_sha256(d),
            "size": payload_size(d),
            "media_type": m,
            "ledger_object": lo,
        }
        for p, (d, m, lo) in sorted(members.items.items())
    ]
    manifest: dict[str, Any] = {
        "format": bundle_verifier.FORMAT,
        "model": b.model.ref,
        "workspace": b.ws.workspace_id,
        "exported_at": b.checkpoint.size,
        "data_level": b.data_level,
        "demo_identities": b.demo(),
        "signed_by": b.key.key_id,
        "members": listed,
    }
    manifest_bytes = canonical_bytes(manifest)
    manifest_sig = keys_mod.sign_with(b.key, pae(bundle_verifier.MANIFEST_TYPE, manifest_bytes))
    manifest_env = canonical_bytes(
        envelope(bundle_verifier.MANIFEST_TYPE, manifest_bytes, b.key.key_id, manifest_sig)
    )
    partial = write_zip(out, members, manifest_bytes, manifest_env, progress)
    try:
        bundle_digest = hash_file(partial)  # streamed: a full-data bundle can be large
        progress(1, 1, "recording the export")  # the last point a caller may cancel
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return _Written(b, partial, bundle_digest, len(listed), table)


def export(
    ws: Workspace,
    actor: str,
    ref: str,
    out: Path,
    *,
    data: str = "full",
    reason: str = "",
    overwrite: bool = False,
    progress: Progress = NO_PROGRESS,
) -> dict[str, Any]:
    """Write a bundle for a model version and record the export (see the module docstring).

    The output path is checked first (not a folder; an existing file only with
    ``overwrite``), because after the export event is recorded nothing may fail.

    ``progress`` hears about each stage and about the bytes written; a caller may cancel from
    it up to the moment the export is recorded.
    """
    if data not in ("full", "hashes"):
        raise UsageError("--data must be full or hashes")
    check_output(out, overwrite)
    guard = needs(*ROLES, action="export bundles")
    with ws.session(actor) as s:
        guard(s)
        ref = models.resolve(s.catalog, ref).ref  # one exact version from here on
    progress(0, None, f"verifying {ref}")
    if not models.verify(ws, ref, actor).trusted:
        raise IntegrityError(
            f"refusing to export {ref}: it is not trusted",
            hint=f"`ledgerml model verify {ref}` says why.",
        )
    written: list[_Written] = []
    published = recording = False

    def write(b: Bundling) -> _Written:
        written.append(_write(b, out, progress))
        return written[0]

    def record(s: Session, w: _Written) -> _Written:
        nonlocal published, recording
        # The bundle is durable under its name before the event is appended: a kill between
        # the two leaves a bundle no event records (the command failed; run it again), never
        # a recorded export whose file is missing. The guards were re-checked just before.
        # On a shared ledger this step runs again when a teammate's event came first: the
        # file is already in place then.
        if not published:
            w.partial.replace(out)
            published = True
            fsync_dir(out.parent)
        failpoints.hit("export.before-event")
        recording = True  # from here the event may be durable: keep the file
        model = w.bundling.model
        exported = BundleExported(
            model=model.ref,
            data_level=data,
            bundle_sha256=w.sha256,
            members=w.members,
            checkpoint_size=w.bundling.checkpoint.size,
            rows_of=rows_of(w.bundling),
        )
        try:
            s.commit(kinds.new_event(actor, exported, [f"model:{model.ref}"], reason))
        except BehindError:
            recording = False  # nothing was recorded: the retry records it, or the file goes
            raise
        failpoints.hit("export.after-event")
        return w

    try:
        done = command.run(
            ws,
            actor,
            guards=[guard, policy.model_gate("export", ref)],
            prepare=lambda s: _gather(ws, s, ref, data),
            compute=write,
            commit=record,
        )
    except BaseException:
        if written and not recording:  # refused or failed before the event: no bundle
            (out if published else written[0].partial).unlink(missing_ok=True)
        raise
    return {
        "path": str(out),
        "sha256": done.sha256,
        "members": done.members + 2,
        "checkpoint_size": done.bundling.checkpoint.size,
        "events": len(done.bundling.seqs),
        "coverage": done.coverage.to_json(),
    }


def rows_of(b: Bundling) -> list[str] | None:
    """The snapshots whose rows the bundle carries (None: a hashes-only bundle carries none).

    A full bundle carries the Parquet copy of each plaintext snapshot (an encrypted one's
    rows never leave: its digests go instead) and the run's test predictions, which are
    rows of the training input (labels, scores, sensitive attributes), whether encrypted
    or not.
    """
    from core.data import encryption

    if b.data_level != "full":
        return None
    carried = {s.ref for s in b.snapshots if s is not None and not encryption.is_encrypted(s)}
    return sorted(carried | {b.run.input_ref})


def _excerpt_seqs(ws: Workspace, model_ref: str) -> list[int]:
    """The ledger excerpt of a bundle.

    Every event about the model, its run, its inputs and their evidence, plus the events
    that give keys and actors their status and the earlier exports (the access log). The
    governance events about it come with them: its approvals, promotions and refusals name
    the version; a risk assessment names the model (``model:NAME``: a tier is set per name).
    """
    up = lineage.walk(ws, model_ref)
    down = lineage.walk(ws, model_ref, down=True)
    nodes = (
        {up.root, "model:" + model_ref.removeprefix("model:").split("@", 1)[0]}
        | {e.src for e in up.edges}
        | {e.dst for e in up.edges}
        | {e.src for e in down.edges}
    )
    wanted: set[int] = {e.seq for e in up.edges} | {e.seq for e in down.edges}
    # Legal holds and retention rules name a dataset (every version): those of the datasets
    # of the version's inputs belong to its retention log (privacy/retention.json).
    datasets = {
        "dataset:" + n.removeprefix("snapshot:").split("@", 1)[0]
        for n in nodes
        if n.startswith("snapshot:")
    }
    per_dataset = tuple(
        b'{"action":"' + a.encode() + b'"' for a in ("data.hold", "data.release", "retention.set")
    )
    # Bodies are canonical JSON, whose first member is always the action.
    always = tuple(b'{"action":"' + a.encode() + b'"' for a in kinds.always_in_bundle())
    deploys = (b'{"action":"model.deploy"', b'{"action":"model.rollback"')
    envs: dict[str, set[int]] = {}  # env node -> events naming it
    ref = model_ref.removeprefix("model:")
    opens: set[int] = set()
    for entry in ws.ledger.iter_entries():
        if entry.body.startswith(always):
            wanted.add(entry.seq)
            continue
        if entry.body.startswith(b'{"action":"incident.open"'):
            opens.add(entry.seq)
        body = entry.decode()
        subjects = body.get("subjects", [])
        if not isinstance(subjects, list):
            continue
        if entry.body.startswith(per_dataset) and datasets.intersection(map(str, subjects)):
            wanted.add(entry.seq)
        if nodes.intersection(map(str, subjects)):
            wanted.add(entry.seq)
            if entry.body.startswith(deploys):
                nodes |= environments([body], ref)
                data = body.get("data")
                if isinstance(data, dict) and data.get("model") == ref:
                    nodes.add(f"deployment:{data.get('deployment_id')}")  # its overrides
                    nodes.add("outcomes")  # the late labels of its decisions
        for s in subjects:
            if str(s).startswith(("env:", "incident:")):
                envs.setdefault(str(s), set()).add(entry.seq)
    # Every event of an environment the version served in (what ended its deployments, what
    # ran beside it, its monitoring and incidents) and every event of those incidents (a
    # close names only its incident): the operations members and the verifier need them.
    for node, seqs in list(envs.items()):
        if node in nodes:
            wanted |= seqs
            for q in seqs & opens:
                wanted |= envs.get(f"incident:{q}", set())
    return sorted(wanted)


TRUSTED_KEYS = "trusted-keys.pem"
RELEASES = Path(__file__).with_name("verifier_releases.json")
"""SHA-256 of the ``verify.py`` each earlier ledgerml release shipped."""
MAX_VERIFIER = 4 * 1024 * 1024


def trusted_keys_file() -> Path:
    """The user's trusted organisation keys: ``$XDG_CONFIG_HOME/ledgerml/trusted-keys.pem``.

    Without ``XDG_CONFIG_HOME`` it is ``~/.config/ledgerml/trusted-keys.pem``. It holds one or
    more PEM public keys the user obtained from organisations directly; when it exists it is
    the anchor of every ``bundle verify`` that pins no key itself.
    """
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ledgerml" / TRUSTED_KEYS


def known_verifiers() -> dict[str, str]:
    """SHA-256 → release, for this installation's verifier and every earlier release's.

    A missing or unreadable list leaves only this installation's: a bundle's verify.py is
    then reported as unknown, the safe mistake.
    """
    known: dict[str, str] = {}
    try:
        for entry in json.loads(RELEASES.read_text())["releases"]:
            known[str(entry["sha256"])] = str(entry["release"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    here = sha256_hex(Path(bundle_verifier.__file__).read_bytes())
    known[here] = f"{_version()} (this installation)"
    return known


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"ledgerml {version('ledgerml')}"
    except PackageNotFoundError:
        return "ledgerml"


def bundled_verifier(path: Path) -> dict[str, Any]:
    """Whether the bundle's own ``verify.py`` is a verifier some ledgerml release shipped.

    Read without trusting the archive (one member, size-capped): this runs before and
    independently of verification, so an auditor hears about a swapped verifier even when the
    bundle is rejected for it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("verify.py")
            if info.file_size > MAX_VERIFIER:
                return {"sha256": None, "release": None, "line": _differs("it is too large")}
            digest = sha256_hex(archive.read(info))
    except KeyError:
        return {"sha256": None, "release": None, "line": "the bundle carries no verify.py"}
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError, NotImplementedError) as err:
        return {"sha256": None, "release": None, "line": _differs(f"it cannot be read: {err}")}
    release = known_verifiers().get(digest)
    if release is None:
        return {"sha256": digest, "release": None, "line": _differs(f"sha256 {digest}")}
    return {
        "sha256": digest,
        "release": release,
        "line": f"verify.py inside the bundle: matches release {release}",
    }


def _differs(detail: str) -> str:
    return (
        "verify.py inside the bundle DIFFERS from every known release: do not run it; use "
        f"your own trusted copy ({detail})"
    )


def verify(
    path: Path,
    *,
    previous: Path | None = None,
    key: Path | None = None,
    trusted: Path | None = None,
    recompute: bool = False,
) -> dict[str, Any]:
    """Verify a bundle with the stand-alone verifier (no workspace needed).

    The anchor is ``key`` (the organisation's public key, pinned), else the ``trusted`` keys
    file (default :func:`trusted_keys_file`) when it exists. Without either, and without an
    earlier checkpoint that anchors it, a good bundle is reported unanchored
    (``report["exit_code"]`` 1): it agrees with itself, which anyone who can rewrite it can
    arrange. The report also says whether the bundle's own verify.py is a known release.
    With ``recompute``, the headline figures are recomputed from the bundled test predictions
    (``report["recompute"]``, its lines in ``report["recompute_lines"]``); a figure that
    differs from the signed evidence makes the exit code 3.

    Raises:
        IntegrityError: naming what failed (exit code 3).
        UsageError: if the earlier checkpoint or a key file cannot be read.
    """
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    anchor_file, anchor = key, f"the organisation key you pinned ({key})"
    if anchor_file is None:
        store = trusted if trusted is not None else trusted_keys_file()
        if store.is_file():
            anchor_file, anchor = store, f"your trusted keys ({store})"
    try:
        old = json.loads(previous.read_text()) if previous else None
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {previous}: {err}") from err
    try:
        pinned = anchor_file.read_text() if anchor_file else None
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read {anchor_file}: {err}") from err
    release = bundled_verifier(path)
    try:
        report = bundle_verifier.verify(str(path), old, pinned, anchor=anchor)
    except bundle_verifier.PinError as err:
        raise UsageError(
            f"{anchor_file} cannot be an anchor: {err}",
            hint="Give the organisation's public key as PEM "
            "(`ledgerml key export-public organisation -o org.pem` on their side).",
        ) from err
    except bundle_verifier.RejectedError as err:
        raise IntegrityError(
            f"bundle rejected: {err}", hint=release["line"] if not release["release"] else ""
        ) from err
    code, lines = bundle_verifier.verdict(report)
    out = {**report, "exit_code": code, "verdict": lines, "verify_py": release}
    if recompute:
        figures = bundle_verifier.recompute(str(path))
        held, figure_lines = bundle_verifier.recompute_lines(figures)
        out.update(recompute=figures, recompute_lines=figure_lines)
        if not held:
            out["exit_code"] = bundle_verifier.EXIT_REJECTED
    return out
