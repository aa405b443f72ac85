"""What ``ledgerml policy list|show|check|decisions`` read: installs, bundles, decisions.

Reads only. Which bundle is in force is the signed ledger's answer
(:meth:`core.identity.authority.Authority.policy_at`), never the catalog's ``policies`` table:
a row an insider adds to that table is listed (the table is an index) but is never marked in
force, and ``audit verify`` reports the table differing from the ledger.

``check`` is a dry run: the same input the gate would build (the real facts of a model
version, or a document the user gives), evaluated by the policy in force, recording nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.governance import facts, policy
from core.kernel.errors import NotFoundError, UsageError
from core.kernel.events import now_iso
from core.kernel.rows import EventRow, PolicyRow
from core.kernel.workspace import Session, Workspace


@dataclass(frozen=True)
class Install:
    """One ``policy.install``: which bundle, by whom, when, and whether it is in force now."""

    seq: int
    name: str
    version: str
    digest: str
    installed_by: str
    installed_at: str
    modules: list[str]
    in_force: bool

    def to_json(self) -> dict[str, Any]:
        """``--json``."""
        return asdict(self)


def installs(ws: Workspace, actor: str = "") -> list[Install]:
    """Every policy install, oldest first; the one the ledger has in force is marked."""
    from core.identity.signer import authority_of

    with ws.session(actor) as s:
        current = authority_of(s).policy_at()
        rows = s.catalog.rows(PolicyRow, "SELECT * FROM policies ORDER BY seq")
    return [
        Install(
            r.seq,
            r.name,
            r.version,
            r.digest,
            r.installed_by,
            r.installed_at,
            list(json.loads(r.modules)),
            current is not None and current == (r.seq, r.digest),
        )
        for r in rows
    ]


def _resolve(s: Session, digest: str | None) -> tuple[policy.PolicyBundle, int]:
    """A bundle by digest prefix (default: the one in force) and its install's number."""
    from core.identity.signer import authority_of

    auth = authority_of(s)
    if digest is None:
        current = auth.policy_at()
        if current is None:
            raise NotFoundError(
                "no policy is installed",
                hint="An admin installs one: `ledgerml policy install "
                "sample_data/policies/default --reason …`.",
            )
        return policy.stored(s, current[1], current[0]), current[0]
    want = digest if digest.startswith("sha256:") else "sha256:" + digest
    found = sorted({(seq, d) for seq, d in auth.policies if d.startswith(want)})
    if not found:
        raise NotFoundError(
            f"no installed policy bundle has digest {digest}",
            hint="`ledgerml policy list` shows them.",
        )
    if len({d for _, d in found}) > 1:
        raise UsageError(f"digest prefix {digest} is ambiguous", hint="Give more of it.")
    seq, full = found[-1]
    return policy.stored(s, full, seq), seq


@dataclass(frozen=True)
class Shown:
    """A stored bundle, as ``policy show`` prints it."""

    bundle: policy.PolicyBundle
    seq: int
    in_force: bool

    def fixtures(self) -> int:
        """How many fixture cases the bundle carries."""
        return sum(
            len(doc.get("case", [])) for doc in self.bundle.tests.values() if isinstance(doc, dict)
        )

    def to_json(self) -> dict[str, Any]:
        """``--json``: the bundle whole (modules' text included) and where it was installed."""
        b = self.bundle
        return {
            "name": b.name,
            "version": b.version,
            "digest": b.digest,
            "installed_seq": self.seq,
            "in_force": self.in_force,
            "modules": b.modules,
            "governance": b.data,
            "fixtures": self.fixtures(),
        }


def show(ws: Workspace, digest: str | None = None, actor: str = "") -> Shown:
    """The bundle in force, or an installed one by digest (prefix)."""
    from core.identity.signer import authority_of

    with ws.session(actor) as s:
        bundle, seq = _resolve(s, digest)
        current = authority_of(s).policy_at()
    return Shown(bundle, seq, current is not None and current[1] == bundle.digest)


def stored_bundle(ws: Workspace, digest: str, actor: str = "") -> policy.PolicyBundle:
    """An installed bundle by digest (prefix), for ``policy test DIGEST``."""
    with ws.session(actor) as s:
        return _resolve(s, digest)[0]


def check(
    ws: Workspace,
    gate_name: str,
    ref: str,
    *,
    actor: str = "",
    request: dict[str, Any] | None = None,
    input_file: Path | None = None,
) -> policy.Decision:
    """What the policy in force would decide at ``gate_name`` for ``ref``; records nothing.

    Without ``input_file`` the input is what the gate builds: the actor as the ledger has
    them, the model version's real facts, ``request`` (the gate's own parameters, filled in
    as the gate does) and, for promote and approve, the approvals as the gate counts them. With
    it, that document is evaluated as given (``gate`` is set from ``gate_name``).

    Raises:
        NotFoundError: no policy in force, or an unknown model version.
        UsageError: an unknown gate or an input file that is not a JSON object.
    """
    if gate_name not in policy.GATES:
        raise UsageError(f"unknown gate {gate_name!r}", hint=f"Gates: {', '.join(policy.GATES)}.")
    given: dict[str, Any] | None = None
    if input_file is not None:
        try:
            given = json.loads(input_file.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise UsageError(f"cannot read the input {input_file}: {err}") from err
        if not isinstance(given, dict):
            raise UsageError(f"{input_file} holds no JSON object: a gate's input is one")
    with ws.session(actor) as s:
        bundle, _ = _resolve(s, None)
        if given is None:
            row = facts.model_row(s, ref)
            given = {
                "actor": policy.actor_input(s),
                "time": now_iso(),
                "subject": f"model:{row.ref}",
                "model": facts.model_facts(s, row.ref, untiered=policy.untiered(s)),
            }
            if request:
                given["request"] = _request(gate_name, request, given["model"])
            _approvals(s, gate_name, given, bundle)
    given.pop("gate", None)
    return policy.decide(bundle, gate_name, given)


DECISION_MARK = '"policy":{"allow":'
"""How a decision begins in a canonical event body (its keys sorted: allow comes first)."""


def _request(gate_name: str, request: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """The request as the real gate fills it in.

    A promotion starts from the current stage; an approval is of the approved stage unless
    told otherwise.
    """
    out = dict(request)
    if gate_name == "promote":
        out.setdefault("from_stage", model["stage"])
        out.setdefault("break_glass", False)
    if gate_name == "approve":
        out.setdefault("stage", "approved")
        out.setdefault("decision", "approve")
    return out


def _approvals(
    s: Session, gate_name: str, doc: dict[str, Any], bundle: policy.PolicyBundle
) -> None:
    """Add the ``approvals`` member the promote and approve gates give (the same function)."""
    from core.governance import rules, separation
    from core.governance.approvals import APPROVAL_STAGES

    request = doc.get("request") or {}
    if gate_name == "promote":
        stage = request.get("to_stage")
    elif gate_name == "approve":
        stage = request.get("stage", "approved")
    else:
        return
    if stage in APPROVAL_STAGES:
        parsed = rules.parse(bundle.data, where=f"policy {bundle.name}")
        doc["approvals"] = separation.member(s, doc["model"], str(stage), parsed)


@dataclass(frozen=True)
class DecisionLine:
    """One recorded decision: the event that carries it and what it said."""

    seq: int
    ts: str
    actor: str
    action: str
    gate: str
    subject: str
    allow: bool
    bundle: str
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        """``--json``."""
        return asdict(self)


def decisions(
    ws: Workspace, *, actor: str = "", deny_only: bool = False, model: str | None = None
) -> list[DecisionLine]:
    """Every decision the event index holds, oldest first (the ``policy`` member of events).

    ``model`` keeps the decisions about one version (``name@N``); ``deny_only`` the refusals.
    """
    subject = None if model is None else "model:" + model.removeprefix("model:")
    with ws.session(actor) as s:
        rows = s.catalog.rows(
            EventRow,
            "SELECT * FROM events WHERE contains(body, ?) ORDER BY seq",
            [DECISION_MARK],
        )
    out: list[DecisionLine] = []
    for row in rows:
        seq, doc = row.seq, json.loads(row.body)
        member = doc.get("policy")
        if not isinstance(member, dict):
            continue  # the text was inside some other member
        allow = bool(member.get("allow"))
        found = str(member.get("input", {}).get("subject", ""))
        if (deny_only and allow) or (subject is not None and found != subject):
            continue
        out.append(
            DecisionLine(
                int(seq),
                str(doc.get("ts", "")),
                str(doc.get("actor", "")),
                str(doc.get("action", "")),
                str(member.get("gate", "")),
                found,
                allow,
                str(member.get("bundle", "")),
                [str(r) for r in member.get("reasons", [])],
            )
        )
    return out
