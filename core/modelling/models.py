"""The model registry: register runs as ``name@N``, sign them, verify them, load them safely.

Invariant 5 lives here: :func:`load` checks the artifact's bytes against the digest the ledger
recorded at training time *before* anything is deserialised, then (for scoring and export)
requires at least one valid signature from a key that is not revoked, and only then hands the
bytes to skops with an explicit allowlist of types. A model that fails any check is never
deserialised, and the error says which check failed.

Signing writes two signatures in one ``model.sign`` event: our DSSE in-toto statement whose
subject is the artifact and whose predicate binds the run's inputs, spec, environment and
metrics; and, for ECDSA keys, an OpenSSF model-signing bundle (:mod:`core.identity.openssf`)
over the exported model folder, which third-party tools verify offline.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.identity import attest, openssf
from core.identity import keys as keys_mod
from core.identity.actors import needs
from core.identity.authority import KeyState
from core.identity.signing import INTOTO_PAYLOAD_TYPE, verify_envelope
from core.kernel import command
from core.kernel.catalog import Catalog
from core.kernel.errors import IdentityError, IntegrityError, NotFoundError, UsageError
from core.kernel.events import now_iso
from core.kernel.kinds import new_event
from core.kernel.paths import make_folder, write_output
from core.kernel.rows import ModelRow, RunRow, SignatureRow
from core.kernel.workspace import BehindError, Session, Workspace

# core.modelling.training (scikit-learn's side: numpy, pyarrow) is imported where it is needed, so
# `model list` and `model verify` stay light.
from core.modelling import estimators, events
from core.modelling.events import ModelRegistered, ModelSigned

MODEL_PREDICATE = "https://ledgerml.dev/model/v1"
ARTIFACT_NAME = "model.skops"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SIGN_ROLES = events.SIGN_ROLES
# Types a ledgerml pipeline may contain beyond skops's defaults (checked before loading), by
# exact name: the pipeline's own and every estimator's (:mod:`core.modelling.estimators`).
TRUSTED_TYPES = frozenset(estimators.trusted_types())


def resolve(catalog: Catalog, ref: str) -> ModelRow:
    """A model version by ``name@N`` or ``name`` (latest)."""
    ref = ref.removeprefix("model:")
    if "@" in ref:
        row = catalog.model(ref)
        if row is None:
            known = [m.ref for m in catalog.models(ref.split("@", 1)[0])]
            raise NotFoundError(f"no model {ref}", hint=f"Known: {', '.join(known) or 'none'}.")
        return row
    versions = catalog.models(ref)
    if not versions:
        raise NotFoundError(f"no model named {ref!r}", hint="`ledgerml model list` shows them.")
    return versions[-1]


def resolve_run(catalog: Catalog, ref: str) -> RunRow:
    """A run by ``run:<id>`` or an id prefix."""
    run = catalog.run(ref)
    if run is None:
        raise NotFoundError(
            f"no run {ref!r} (or the prefix is ambiguous)",
            hint="`ledgerml model list` and `audit log --action train` list runs.",
        )
    return run


def register(
    ws: Workspace, actor: str, run_ref: str, name: str, *, reason: str = ""
) -> tuple[ModelRow, bool]:
    """Register a run's model as the next version of ``name``; a run registers once per name."""
    if not _NAME.match(name):
        raise UsageError(
            f"invalid model name {name!r}", hint="Use lowercase letters, digits, '.', '_' or '-'."
        )

    def commit(s: Session, _: None) -> tuple[ModelRow, bool]:
        run = resolve_run(s.catalog, run_ref)
        for existing in s.catalog.models(name):
            if existing.run_id == run.run_id:
                return existing, False
        version = max((m.version for m in s.catalog.models(name)), default=0) + 1
        record = ModelRegistered(name, version, run.run_id, run.model_digest)
        s.commit(new_event(actor, record, [f"model:{record.ref}", f"run:{run.run_id}"], reason))
        row = s.catalog.model(record.ref)
        assert row is not None
        return row, True

    return command.run(
        ws,
        actor,
        guards=[
            needs("data-scientist", "admin", action="register models"),
            _register_gate(run_ref, name),
        ],
        commit=commit,
    )


def _register_gate(run_ref: str, name: str) -> Callable[[Session], Any]:
    """The policy's register gate: it decides on the version about to be registered.

    The version does not exist yet, so its facts come from a row as the commit would write
    it (the run's artifact, the actor as registrant). A run already registered under
    ``name`` records nothing, so it is not asked about.
    """
    from core.governance import facts, policy

    def prospective(s: Session) -> ModelRow | None:
        run = resolve_run(s.catalog, run_ref)
        known = s.catalog.models(name)
        if any(m.run_id == run.run_id for m in known):
            return None
        version = max((m.version for m in known), default=0) + 1
        return ModelRow(
            ref=f"{name}@{version}",
            name=name,
            version=version,
            run_id=run.run_id,
            model_digest=run.model_digest,
            seq=0,
            created_at=now_iso(),
            created_by=s.actor,
        )

    def subject(s: Session) -> str:
        row = prospective(s)
        return f"model:{row.ref}" if row is not None else f"run:{run_ref}"

    def model(s: Session) -> dict[str, Any]:
        row = prospective(s)
        if row is None:
            return {}
        return {"model": facts.model_facts(s, row.ref, untiered=policy.untiered(s), model=row)}

    inner = policy.gate("register", subject, model)

    def guard(s: Session) -> Any:
        if prospective(s) is None:  # already registered: nothing will be recorded
            return None
        return inner(s)

    return guard


def resolve_run_for(ws: Workspace, ref: str, actor: str = "") -> RunRow:
    """The run that produced a model version."""
    with ws.session(actor) as s:
        return resolve_run(s.catalog, resolve(s.catalog, ref).run_id)


def folder_name(model: ModelRow) -> str:
    """The exported folder's name, which the OpenSSF subject names."""
    return f"{model.name}-{model.version}"


def sign(
    ws: Workspace, actor: str, ref: str, *, key_ref: str | None = None, reason: str = ""
) -> SignatureRow:
    """Sign a model version (see the module docstring)."""
    return command.run(
        ws,
        actor,
        guards=[needs(*SIGN_ROLES, action="sign models")],
        commit=lambda s, _: _sign(ws, s, ref, key_ref, reason),
    )


def _sign(ws: Workspace, s: Session, ref: str, key_ref: str | None, reason: str) -> SignatureRow:
    """The commit step of :func:`sign`: both signatures, then one ``model.sign`` event."""
    from core.modelling import training

    model = resolve(s.catalog, ref)
    run = resolve_run(s.catalog, model.run_id)
    ws.objects.read_verified(model.model_digest)  # never sign bytes that changed
    key = attest.signing_key(s, key_ref)
    record = training.run_record(ws, run)
    predicate = {
        "model": model.ref,
        "run": run.run_id,
        "inputs": record.input.to_data(),
        "gate": record.gate.to_data(),
        "spec_digest": run.spec_digest,
        "environment_digest": run.environment_digest,
        "freeze_digest": record.freeze_digest,
        "code": record.code,
        "metrics": record.metrics,
        "predictions_digest": run.predictions_digest,
    }
    extra_objects, openssf_digest = [], None
    if key.algorithm == "ecdsa-p256":
        payload = openssf.statement(folder_name(model), [(ARTIFACT_NAME, model.model_digest)])
        sig = keys_mod.sign_with(key, openssf.signed_message(payload))
        raw = json.dumps(openssf.bundle(payload, sig, key.public_pem)).encode()
        ref_obj = s.put_blob(raw, openssf.BUNDLE_MEDIA_TYPE)
        extra_objects.append(ref_obj)
        openssf_digest = ref_obj.sha256
    subject = f"model:{model.ref}"
    att = attest.sign_statement(
        s,
        key_ref=key.key_id,
        subjects=[(ARTIFACT_NAME, model.model_digest)],
        predicate_type=MODEL_PREDICATE,
        predicate=predicate,
        reason=reason,
        extra_subjects=[subject],
        extra_objects=extra_objects,
        as_payload=lambda env, key_id, kind: ModelSigned(
            env, key_id, kind, subject=subject, openssf=openssf_digest
        ),
    )
    return next(r for r in s.catalog.signatures(subject) if r.seq == att.seq)


@dataclass
class SignatureVerdict:
    """One signature's verdict."""

    seq: int
    key_id: str
    key_status: str
    ok: bool
    detail: str
    openssf: str


@dataclass
class ModelVerification:
    """Everything ``model verify`` checked."""

    model: str
    artifact_ok: bool
    artifact_detail: str
    signatures: list[SignatureVerdict] = field(default_factory=list)

    @property
    def trusted(self) -> bool:
        """Bytes intact and at least one valid signature from a key that is not revoked."""
        return self.artifact_ok and any(v.ok and v.key_status != "revoked" for v in self.signatures)

    @property
    def why_untrusted(self) -> str:
        """The reason in words, or "" when trusted."""
        if not self.artifact_ok:
            return f"the artifact failed its check ({self.artifact_detail})"
        if not self.signatures:
            return "it is not signed"
        if not any(v.ok for v in self.signatures):
            return "no signature verifies"
        if not self.trusted:
            return (
                "every valid signature is from a revoked key (still evidence of who signed "
                "when, but no longer trust): sign it again with an active key"
            )
        return ""


def _ledger_keys(s: Session) -> dict[str, KeyState] | None:
    """Key states from the signed ledger (None for a format-1 workspace, which signs none)."""
    from core.identity.signer import authority_of

    try:
        return authority_of(s).keys
    except IdentityError:
        return None


def _check_signature(
    ws: Workspace,
    catalog: Catalog,
    model: ModelRow,
    sig: SignatureRow,
    ledger_keys: dict[str, KeyState] | None,
) -> SignatureVerdict:
    from core.identity.keys.lifecycle import as_ledger_says

    key = catalog.key(sig.key_id)
    state = ledger_keys.get(sig.key_id) if ledger_keys is not None else None
    if key is None or (ledger_keys is not None and state is None):
        return SignatureVerdict(sig.seq, sig.key_id, "unknown", False, "unknown key", "-")
    if state is not None:  # the ledger's word on the key, not the (editable) catalog's
        key = as_ledger_says(key, state)
    try:
        env = json.loads(ws.objects.read_verified(sig.envelope_digest))
        statement = verify_envelope(
            env, {key.key_id: key.public_pem}, expected_type=INTOTO_PAYLOAD_TYPE
        ).json()
        digests = [s_["digest"]["sha256"] for s_ in statement["subject"]]
        if model.model_digest not in digests:
            raise IntegrityError("the signature is about other bytes than this model")
        verdict = keys_mod.key_verdict(key, sig.seq)
        ok, detail = verdict.ok, verdict.detail
        if key.compromised_since is not None and sig.created_at >= key.compromised_since:
            ok, detail = False, f"signed after the key was compromised ({key.compromised_since})"
    except (IntegrityError, NotFoundError) as err:
        ok, detail = False, err.msg
    openssf_state = "none"
    if sig.openssf_digest:
        try:
            openssf.verify(
                ws.objects.read_verified(sig.openssf_digest),
                key.public_pem,
                [(ARTIFACT_NAME, model.model_digest)],
            )
            openssf_state = "valid"
        except (IntegrityError, NotFoundError) as err:
            openssf_state = f"INVALID: {err.msg}"
            ok = False
    return SignatureVerdict(sig.seq, key.key_id, key.status, ok, detail, openssf_state)


def verify(ws: Workspace, ref: str, actor: str = "") -> ModelVerification:
    """Check a model's bytes and every signature over it, with each key's status."""
    with ws.session(actor) as s:
        model = resolve(s.catalog, ref)
        sigs = s.catalog.signatures(f"model:{model.ref}")
        issue = ws.objects.check(model.model_digest)
        result = ModelVerification(
            model.ref,
            issue is None,
            "bytes match the digest recorded at training"
            if issue is None
            else f"artifact sha256:{model.model_digest[:16]}… is {issue}",
        )
        known = _ledger_keys(s)
        result.signatures = [_check_signature(ws, s.catalog, model, sig, known) for sig in sigs]
    return result


def load(ws: Workspace, ref: str, *, purpose: str = "score", actor: str = "") -> Any:
    """Deserialise a model only after its checks pass.

    Args:
        ws: the workspace.
        ref: ``name@N``.
        purpose: ``"score"`` or ``"export"`` also require a trusted signature;
            ``"evaluate"`` accepts a model not signed yet (it is evaluated before it is
            signed), but not one whose every signature is invalid or from a revoked key:
            a signed model that nobody trusted any more is never deserialised.
        actor: who asks.

    Raises:
        IntegrityError: naming the failed check (bytes, signature, untrusted types).
    """
    from skops.io import get_untrusted_types, loads

    with ws.session(actor) as s:
        model = resolve(s.catalog, ref)  # resolve once: every check is about this version
    check = verify(ws, model.ref, actor)
    if not check.artifact_ok:
        raise IntegrityError(f"refusing to load {check.model}: {check.artifact_detail}")
    if not check.trusted and (purpose in ("score", "export") or check.signatures):
        states = "; ".join(f"#{v.seq} {v.detail}" for v in check.signatures) or "unsigned"
        raise IntegrityError(
            f"refusing to load {check.model} for {purpose}: no valid signature from an "
            f"unrevoked key ({states})",
            hint=f"Sign it: `ledgerml model sign {check.model}`.",
        )
    data = ws.objects.read_verified(model.model_digest)
    untrusted = get_untrusted_types(data=data)
    foreign = [t for t in untrusted if t not in TRUSTED_TYPES]
    if foreign:
        raise IntegrityError(
            f"refusing to load {model.ref}: it contains untrusted types {', '.join(foreign)}"
        )
    return loads(data, trusted=untrusted)


def export(
    ws: Workspace, ref: str, out_dir: Path, actor: str = "", *, reason: str = ""
) -> dict[str, Path]:
    """Write a trusted model folder and its OpenSSF signature for third-party verification.

    Recorded as one ``model.export`` event (who, which version, why) after the files are
    written, like a bundle export: a model is derived from personal data, so taking it out
    is in the access log. Any proven actor may export a trusted model.
    """
    with ws.session(actor) as s:
        model = resolve(s.catalog, ref)
    load(ws, model.ref, purpose="export", actor=actor)  # all checks, including deserialising
    recorded = False
    created: list[Path] = []  # what this command made; on a retry the files already exist

    def put(path: Path, data: bytes) -> None:
        if not path.exists():
            created.append(path)
        write_output(path, data)

    def commit(s: Session, _: None) -> dict[str, Path]:
        nonlocal recorded
        sigs = [g for g in s.catalog.signatures(f"model:{model.ref}") if g.openssf_digest]
        key = s.catalog.key(sigs[-1].key_id) if sigs else None
        folder = out_dir / folder_name(model)
        if not folder.exists():
            make_folder(folder)
            created.append(folder)
        put(folder / ARTIFACT_NAME, ws.objects.read_verified(model.model_digest))
        paths = {"model": folder}
        if sigs and key is not None:
            sig_path = out_dir / f"{folder_name(model)}.sig"
            put(sig_path, ws.objects.read_verified(str(sigs[-1].openssf_digest)))
            pem_path = out_dir / f"{folder_name(model)}.pub.pem"
            put(pem_path, key.public_pem.encode())
            paths.update({"signature": sig_path, "public_key": pem_path})
        exported = events.ModelExported(
            model=model.ref, model_digest=model.model_digest, with_signature="signature" in paths
        )
        recorded = True  # from here the event may be durable: keep the files
        try:
            s.commit(new_event(s.actor, exported, [f"model:{model.ref}"], reason))
        except BehindError:
            recorded = False  # nothing was recorded: the retry records it, or the files go
            raise
        return paths

    try:
        return command.run(ws, actor, guards=[needs(action="export models")], commit=commit)
    except BaseException:
        # Refused (on a shared ledger a teammate's event can change what the retry's guard
        # says) or failed before the event: no model copy this command made stays unlogged.
        if not recorded:
            for path in reversed(created):
                with contextlib.suppress(OSError):
                    path.rmdir() if path.is_dir() else path.unlink()
        raise


def list_models(ws: Workspace, actor: str = "") -> list[ModelRow]:
    """All model versions."""
    with ws.session(actor) as s:
        return s.catalog.models()
