"""Policies as code: a Rego bundle, evaluated in process and offline at every governed gate.

A **policy bundle** is a folder: ``bundle.toml`` (its ``[bundle]`` name and version and its
``[governance]`` data: tiers, approvals, separation of duties, which
:mod:`core.governance.rules` reads), Rego modules (``*.rego``, package ``ledgerml.gate``)
and test fixtures (``tests/*.toml``). Installing it stores the whole folder as one canonical
JSON blob (:class:`PolicyBundle`) whose SHA-256 names it, and records ``policy.install``, an
admin's authority event: the policy in force is signed ledger state, found the way roles are
(:meth:`core.identity.authority.Authority.policy_at`), so editing the catalog swaps nothing.

A **gate** (:func:`gate`) is a command guard. It builds the decision's input (the gate's
name, the actor and their ledger roles, the time, the subject, and the facts the command
supplies: evidence verdicts and ages, PII use, DPIA reference, approvals, tier), asks the
Rego rule set ``data.ledgerml.gate.deny`` for reasons to refuse, and then either

- allows: the session carries the decision and the command's own event records it as its
  ``policy`` member (one action, one event; the input is recorded whole, so the decision can
  be replayed by anyone holding the bundle), or
- denies: it appends a ``policy.deny`` attempt event carrying the same member, synchronously
  and before the refusal is raised, and changes nothing else.

Nothing is buffered: a decision is in the fsynced ledger before the command goes on or the
user sees the refusal (OPA's decision logs, by contrast, are shipped asynchronously and lost
on a crash). Rego evaluation is regopy (rego-cpp); one compiled interpreter per bundle digest
is kept per process, so a gate costs a query, not a compile.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import sys
import threading
import tomllib
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.kernel.errors import CheckFailedError, IntegrityError, NotFoundError, UsageError
from core.kernel.events import now_iso
from core.kernel.workspace import Session
from storage.canonical import canonical_bytes

FORMAT = "ledgerml/policy-bundle/v1"
MEDIA_TYPE = "application/vnd.ledgerml.policy-bundle+json"
PACKAGE = "ledgerml.gate"
QUERY = f"data.{PACKAGE}.deny"
GATES = ("register", "promote", "approve", "deploy", "score", "export", "erase", "risk")
"""The governed actions a policy can decide; later floors call the same gate."""
_MANIFEST = "bundle.toml"
PLANNED_QUERY = f"[count({QUERY}), [base64.encode(m) | m := {QUERY}[_]]]"
"""What the compiled plan asks: how many reasons, and each reason base64-encoded. rego-cpp
1.5 writes its answer as JSON without escaping quotes or backslashes inside strings, so a
reason quoting a column name with a quote in it would be unreadable; base64 cannot be
misread. The count catches a reason that is not a string (base64.encode would drop it)."""


class PolicyDeniedError(CheckFailedError):
    """The policy in force refused the action (exit code 1); the refusal is recorded."""

    default_title = "Refused by policy"


class PolicyError(UsageError):
    """A policy bundle that cannot be read, compiled or trusted."""


@dataclass(frozen=True)
class PolicyBundle:
    """A policy bundle as stored: modules, declarative data and test fixtures, by path."""

    name: str
    version: str
    modules: dict[str, str]
    data: dict[str, Any]
    tests: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The canonical JSON blob that is stored and whose SHA-256 names the bundle."""
        return canonical_bytes(
            {
                "format": FORMAT,
                "name": self.name,
                "version": self.version,
                "modules": self.modules,
                "data": self.data,
                "tests": self.tests,
            }
        )

    @functools.cached_property
    def digest(self) -> str:
        """``sha256:…`` of :meth:`to_bytes`.

        Computed once: canonical JSON of a whole bundle costs milliseconds, and every
        decision names its bundle.
        """
        return "sha256:" + hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> PolicyBundle:
        """Read a stored bundle back.

        Raises:
            PolicyError: if it is not a policy bundle of this format.
        """
        try:
            doc = json.loads(raw)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, not {FORMAT!r}")
            return cls(
                str(doc["name"]),
                str(doc["version"]),
                {str(k): str(v) for k, v in doc["modules"].items()},
                dict(doc["data"]),
                dict(doc.get("tests", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise PolicyError(f"not a policy bundle: {err}") from err


def load_dir(path: Path) -> PolicyBundle:
    """Read a policy folder (``bundle.toml``, ``*.rego``, ``tests/*.toml``) without compiling.

    Raises:
        NotFoundError: if the folder or its manifest is missing.
        PolicyError: for a malformed manifest, no module, or a module outside the package.
    """
    from core.governance import rules

    if not path.is_dir():
        raise NotFoundError(
            f"no policy folder at {path}",
            hint="A policy bundle is a folder with bundle.toml and *.rego files; the default "
            "one is sample_data/policies/default.",
        )
    manifest = path / _MANIFEST
    if not manifest.is_file():
        raise NotFoundError(f"{path} has no {_MANIFEST}", hint="It names the bundle: [bundle].")
    try:
        doc = tomllib.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise PolicyError(f"cannot read {manifest}: {err}") from err
    head = doc.get("bundle")
    if not isinstance(head, dict) or not head.get("name") or not head.get("version"):
        raise PolicyError(
            f"{manifest}: needs a [bundle] table with name and version",
            hint='[bundle]\nname = "default"\nversion = "1"',
        )
    extra = sorted(set(head) - {"name", "version"})
    if extra:
        raise PolicyError(
            f"{manifest}: [bundle] has no key {extra[0]!r}", hint="Keys of [bundle]: name, version."
        )
    unknown = sorted(set(doc) - {"bundle", "governance"})
    if unknown:
        raise PolicyError(
            f"{manifest}: unknown table [{unknown[0]}]", hint="[bundle], [governance]."
        )
    data = doc.get("governance", {})
    rules.parse(data, where=str(manifest))  # refuse bad governance data before anything else
    modules = {p.name: p.read_text() for p in sorted(path.glob("*.rego"))}
    if not modules:
        raise PolicyError(f"{path} holds no .rego module")
    for name, text in modules.items():
        if not any(line.strip() == f"package {PACKAGE}" for line in text.splitlines()):
            raise PolicyError(
                f"{path / name}: the package must be {PACKAGE}",
                hint=f"Start the module with `package {PACKAGE}`; gates ask for {QUERY}.",
            )
    tests: dict[str, Any] = {}
    for p in sorted((path / "tests").glob("*.toml")):
        try:
            tests[p.name] = tomllib.loads(p.read_text())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise PolicyError(f"cannot read {p}: {err}") from err
    return PolicyBundle(str(head["name"]), str(head["version"]), modules, data, tests)


@contextmanager
def _quiet_stdout() -> Any:
    """rego-cpp prints compile errors on file descriptor 1; the error it raises says it all."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


class Engine:
    """One bundle compiled: a regopy interpreter holding its modules and data.

    The deny query is compiled once into a regopy bundle (an execution plan): evaluating a
    plain query makes rego-cpp compile every module again, about 6 ms for the default pack,
    while the plan answers in a quarter of a millisecond. Both give the same answers (the
    tests hold them equal on every fixture and on generated inputs).
    """

    def __init__(self, bundle: PolicyBundle) -> None:
        """Compile ``bundle`` (raises :class:`PolicyError` naming the module that fails)."""
        import regopy

        self.bundle = bundle
        self.digest = bundle.digest
        self._rego = regopy.Interpreter()
        self._plan: Any = None
        # One interpreter holds one input at a time: a TUI worker and the main thread must
        # not interleave set_input and query (one would read the other's answer).
        self._lock = threading.Lock()
        try:
            with _quiet_stdout():
                self._current = "(data)"
                self._rego.add_data({"governance": bundle.data})
                for name, text in bundle.modules.items():
                    self._current = name
                    self._rego.add_module(name, text)
                self._query({})  # compiles the whole set: a broken rule body fails here
                self._current = "(the deny query's plan)"
                self._plan = self._rego.build(PLANNED_QUERY)
        except regopy.RegoError as err:
            raise PolicyError(
                f"policy {bundle.name} {bundle.version} does not compile "
                f"(module {self._current}): {_first_line(err)}",
                hint="Fix the module and try again; `ledgerml policy test DIR` compiles and "
                "runs its fixtures without installing anything.",
            ) from err

    def _query(self, doc: Mapping[str, Any], *, planned: bool = True) -> list[str]:
        import regopy

        plan = self._plan if planned else None

        try:
            with self._lock:
                self._rego.set_input(dict(doc))
                out = self._rego.query(QUERY) if plan is None else self._rego.query_bundle(plan)
            if plan is not None:
                return self._decoded(out)
        except (regopy.RegoError, ValueError) as err:
            # ValueError: regopy parses rego-cpp's output as JSON, and some of it is not
            # (1.5's sprintf quotes a computed string without escaping its quotes).
            raise PolicyError(
                f"policy {self.bundle.name} {self.bundle.version} failed to evaluate: "
                f"{_first_line(err)}",
                hint="`ledgerml policy test` on the bundle's folder shows which fixture "
                'breaks; build messages with concat() rather than sprintf("%s") of a '
                "computed string.",
            ) from err
        if not out.ok():
            raise PolicyError(f"policy {self.bundle.name} failed to evaluate: {out}")
        if str(out).strip() == "undefined":
            raise PolicyError(
                f"policy {self.bundle.name} {self.bundle.version} defines no {QUERY} rule",
                hint=f"Gates ask {QUERY} for reasons to refuse: `deny contains msg if {{ … }}` "
                f"in package {PACKAGE}.",
            )
        try:
            value = json.loads(str(out))["expressions"][0]
        except (ValueError, KeyError, IndexError) as err:
            raise PolicyError(f"policy {self.bundle.name} answered {out!s:.200}") from err
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyError(
                f"policy {self.bundle.name}: {QUERY} must be a set of strings, not {value!r:.200}"
            )
        return sorted(value)

    def _decoded(self, out: Any) -> list[str]:
        """The planned query's answer: ``[count, [base64 reason, …]]``."""
        import base64
        import binascii

        text = str(out).strip()
        if not out.ok() or text == "undefined":
            raise PolicyError(f"policy {self.bundle.name} failed to evaluate: {text:.200}")
        try:
            count, encoded = json.loads(text)["expressions"][0]
            reasons = [base64.b64decode(e, validate=True).decode() for e in encoded]
        except (ValueError, KeyError, IndexError, TypeError, binascii.Error) as err:
            raise PolicyError(f"policy {self.bundle.name} answered {text:.200}") from err
        if count != len(reasons):
            raise PolicyError(
                f"policy {self.bundle.name}: {QUERY} holds {count} reasons, "
                f"{count - len(reasons)} of them not strings",
                hint="Every deny reason must be a string (a sentence the user can act on).",
            )
        return sorted(reasons)

    def deny_reasons(self, doc: Mapping[str, Any]) -> list[str]:
        """The reasons the policy gives to refuse ``doc`` (empty: allowed)."""
        return self._query(doc)

    def deny_reasons_unplanned(self, doc: Mapping[str, Any]) -> list[str]:
        """The same answer by a plain query (recompiling): the plan's reference, for tests."""
        return self._query(doc, planned=False)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    for line in text.splitlines():
        if "errormsg" in line:
            return line.split(":", 1)[-1].strip(" )")
    return text.splitlines()[0] if text else repr(err)


_ENGINES: dict[str, Engine] = {}


def engine(bundle: PolicyBundle) -> Engine:
    """The compiled engine of ``bundle``, compiled once per process and digest."""
    found = _ENGINES.get(bundle.digest)
    if found is None:
        found = Engine(bundle)
        if len(_ENGINES) > 16:
            _ENGINES.clear()
        _ENGINES[bundle.digest] = found
    return found


@dataclass(frozen=True)
class Decision:
    """A gate's answer, as the ledger records it in the event's ``policy`` member."""

    gate: str
    bundle: str
    allow: bool
    reasons: list[str]
    input: dict[str, Any]

    def member(self) -> dict[str, Any]:
        """The event's ``policy`` member."""
        return {
            "gate": self.gate,
            "bundle": self.bundle,
            "allow": self.allow,
            "reasons": list(self.reasons),
            "input": self.input,
        }

    @classmethod
    def from_member(cls, doc: Mapping[str, Any]) -> Decision:
        """Read a ``policy`` member back (``KeyError``/``TypeError`` for a malformed one)."""
        return cls(
            str(doc["gate"]),
            str(doc["bundle"]),
            bool(doc["allow"]),
            [str(r) for r in doc["reasons"]],
            dict(doc["input"]),
        )


def decide(bundle: PolicyBundle, gate_name: str, doc: Mapping[str, Any]) -> Decision:
    """Evaluate ``bundle`` on one gate's input (records nothing: ``policy check`` uses it)."""
    if gate_name not in GATES:
        raise UsageError(f"unknown gate {gate_name!r}", hint=f"Gates: {', '.join(GATES)}.")
    full = {"gate": gate_name, **doc}
    reasons = engine(bundle).deny_reasons(full)
    return Decision(gate_name, bundle.digest, not reasons, reasons, full)


def in_force(s: Session) -> PolicyBundle | None:
    """The bundle the signed ledger has in force now (None before any was installed).

    Raises:
        IntegrityError: if its blob is missing or does not match its digest.
    """
    from core.identity.signer import authority_of

    found = authority_of(s).policy_at()
    if found is None:
        return None
    seq, digest = found
    return stored(s, digest, seq)


_STORED: dict[str, PolicyBundle] = {}


def stored(s: Session, digest: str, seq: int = 0) -> PolicyBundle:
    """A stored bundle by digest, its bytes checked against it.

    Once per process and digest: the blob is content-addressed, and a gate should cost a
    query, not a hash of the blob.
    """
    found = _STORED.get(digest)
    if found is not None:
        return found
    try:
        raw = s.workspace.objects.read_verified(digest.removeprefix("sha256:"))
    except (OSError, ValueError, LookupError) as err:
        raise IntegrityError(
            f"the policy bundle {digest[:19]}… installed at #{seq} cannot be read: {err}",
            hint="Restore objects/ from a backup; run `ledgerml audit verify`.",
        ) from err
    bundle = PolicyBundle.from_bytes(raw)
    if bundle.digest != digest:
        raise IntegrityError(f"the policy bundle stored as {digest[:19]}… is not canonical")
    if len(_STORED) > 16:
        _STORED.clear()
    _STORED[digest] = bundle
    return bundle


def untiered(s: Session) -> int:
    """The tier the policy in force gives a model nobody assessed (1 when none is in force)."""
    from core.governance import rules

    bundle = in_force(s)
    if bundle is None:
        return 1
    found = _UNTIERED.get(bundle.digest)
    if found is None:
        found = rules.parse(bundle.data, where=f"policy {bundle.name}").untiered
        _UNTIERED[bundle.digest] = found
    return found


_UNTIERED: dict[str, int] = {}


def model_gate(
    gate_name: str, ref: str | Callable[[Session], str], *, required: bool = False
) -> Callable[[Session], Decision | None]:
    """:func:`gate` for an action on one model version, its facts as the input's ``model``.

    For gates whose input needs nothing else (export).

    ``ref`` is ``name@N``, or how to find it under the lock (register: the next version).
    """
    from core.governance import facts

    def subject(s: Session) -> str:
        return "model:" + (ref(s) if callable(ref) else ref).removeprefix("model:")

    def model(s: Session) -> Mapping[str, Any]:
        return {"model": facts.model_facts(s, subject(s), untiered=untiered(s))}

    return gate(gate_name, subject, model, required=required)


Facts = Callable[[Session], Mapping[str, Any]]


def actor_input(s: Session) -> dict[str, Any]:
    """The acting actor as the ledger describes them (never the catalog)."""
    from core.identity.signer import authority_of

    state = authority_of(s).current(s.actor)
    return {
        "name": s.actor,
        "roles": sorted(state.roles) if state else [],
        "kind": state.kind if state else "unknown",
    }


def gate(
    gate_name: str,
    subject: str | Callable[[Session], str],
    facts: Facts | None = None,
    *,
    required: bool = False,
) -> Callable[[Session], Decision | None]:
    """A command guard that asks the policy in force; put it after the identity guard.

    Args:
        gate_name: one of :data:`GATES`.
        subject: what the action is about (``model:credit-risk@3``), or how to find it.
        facts: the command's facts for the input (evidence, approvals, tier, PII use, …).
        required: refuse when no policy is installed (promote and approve need one); other
            gates let an ungoverned workspace work as before, recording no decision.

    Raises:
        PolicyDeniedError: after recording the ``policy.deny`` attempt event.
        PermissionDeniedError: if ``required`` and no policy is in force.
    """
    if gate_name not in GATES:
        raise ValueError(f"unknown gate {gate_name!r}")

    def guard(s: Session) -> Decision | None:
        from core.governance.events import PolicyDenied
        from core.kernel.kinds import new_event

        bundle = in_force(s)
        if bundle is None:
            if required:
                raise CheckFailedError(
                    f"no policy is installed, and {gate_name} is governed by one",
                    hint="An admin installs one: `ledgerml policy install "
                    "sample_data/policies/default --reason …`.",
                )
            s.decision = None
            return None
        name = subject(s) if callable(subject) else subject
        doc: dict[str, Any] = {
            "actor": actor_input(s),
            "time": now_iso(),
            "subject": name,
            **(dict(facts(s)) if facts is not None else {}),
        }
        decision = decide(bundle, gate_name, doc)
        if decision.allow:
            s.decision = decision.member()
            return decision
        event = new_event(
            s.actor, PolicyDenied(gate_name, name), [name], "; ".join(decision.reasons)
        )
        s.commit(dataclasses.replace(event, policy=decision.member()))
        raise PolicyDeniedError(
            f"policy {bundle.name} {bundle.version} refuses to {gate_name} {name}: "
            + "; ".join(decision.reasons),
            hint="The refusal is recorded (policy.deny). `ledgerml policy check` shows the "
            "input the policy saw; `ledgerml policy show` its rules.",
        )

    return guard


def install(ws: Any, actor: str, path: Path, reason: str) -> tuple[PolicyBundle, bool]:
    """Put the policy folder at ``path`` in force (admins; a reason is required).

    The bundle must compile and pass its own fixtures (:func:`run_tests`) before anything
    is recorded. Installing the bundle already in force changes nothing.

    Returns:
        The bundle and whether this call installed it.

    Raises:
        PolicyError: if it does not compile or a fixture fails.
        UsageError: without a reason.
    """
    from core.governance.events import PolicyInstalled
    from core.identity.actors import needs
    from core.identity.events import ADMIN
    from core.kernel import command
    from core.kernel.kinds import new_event

    if not reason.strip():
        raise UsageError("installing a policy needs a --reason", hint="Say why, for the record.")
    bundle = load_dir(path)
    failures = [t for t in run_tests(bundle) if not t.passed]
    if failures:
        first = failures[0]
        raise PolicyError(
            f"policy {bundle.name} {bundle.version}: {len(failures)} "
            f"{'fixture fails' if len(failures) == 1 else 'fixtures fail'}, first "
            f"{first.name}: {first.problem}",
            hint=f"`ledgerml policy test {path}` lists them all; nothing was installed.",
        )

    def commit(s: Session, _: None) -> tuple[PolicyBundle, bool]:
        from core.identity.signer import authority_of

        current = authority_of(s).policy_at()
        if current is not None and current[1] == bundle.digest:
            return bundle, False
        ref = s.put_blob(bundle.to_bytes(), MEDIA_TYPE)
        if ref.sha256 != bundle.digest.removeprefix("sha256:"):
            raise IntegrityError("the stored policy bundle does not hash to its digest")
        payload = PolicyInstalled(
            bundle.digest,
            bundle.name,
            bundle.version,
            sorted(bundle.modules),
            current[1] if current else None,
        )
        s.commit(new_event(s.actor, payload, [f"policy:{bundle.digest}"], reason, [ref]))
        return bundle, True

    return command.run(ws, actor, guards=[needs(*ADMIN, action="install policies")], commit=commit)


@dataclass(frozen=True)
class TestResult:
    """One fixture of a bundle's ``tests/*.toml``: its name, whether it passed, and why not."""

    name: str
    passed: bool
    problem: str = ""


_INPUT_PATH = re.compile(r"\binput((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
"""An ``input.a.b…`` reference in Rego text (dotted names only; see :func:`input_paths`)."""


def _code_only(text: str) -> str:
    """Rego text without comments and string literals (which mention fields but read none)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in '"`':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if c == '"' and text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def input_paths(text: str) -> list[tuple[str, ...]]:
    """The dotted ``input.a.b…`` paths a Rego module reads, in order of first use.

    A regex over the text without comments and strings, not a Rego parser. What it cannot
    follow it ignores: anything after an index or iteration (``input.approvals.list[_].role``
    gives ``input.approvals.list``; ``some a in input.x`` then ``a.y`` gives ``input.x``),
    bracketed keys (``input["k"]``) and ``input`` bound to another name or replaced ``with``.
    """
    seen: dict[tuple[str, ...], None] = {}
    for m in _INPUT_PATH.finditer(_code_only(text)):
        seen[tuple(m.group(1).lstrip(".").split("."))] = None
    return list(seen)


def _provides(value: Any, path: tuple[str, ...]) -> bool:
    """Whether a fixture's input has ``path`` (a value given as a whole covers the rest)."""
    for part in path:
        if not isinstance(value, dict):
            return True  # a list or scalar given whole: what lies under it is not dotted
        if part not in value:
            return False
        value = value[part]
    return True


def _unread_inputs(bundle: PolicyBundle, inputs: list[dict[str, Any]]) -> list[TestResult]:
    """A failing result for each input path a module reads that no fixture's input has.

    Rego pitfall: a rule on a misspelt field (``input.model.verdicts.evalution``) is
    undefined, not an error, so its deny never fires and every fixture still passes.
    Requiring each path in at least one fixture turns such a typo into a failed test.
    """
    out: list[TestResult] = []
    for module, text in sorted(bundle.modules.items()):
        for path in input_paths(text):
            if not any(_provides(i, path) for i in inputs):
                dotted = ".".join(("input", *path))
                out.append(
                    TestResult(
                        f"{module}:{dotted}",
                        False,
                        f"module {module} reads {dotted}, which no fixture provides: a "
                        "misspelt field makes a rule never fire",
                    )
                )
    return out


def run_tests(bundle: PolicyBundle) -> list[TestResult]:
    """Compile ``bundle`` and run its fixtures.

    A fixture file holds ``[[case]]`` tables: ``name``, ``gate``, ``input`` (the facts; the
    gate name is added), ``allow`` (expected), and optionally ``reason`` (a text one of the
    deny reasons must contain). A bundle without fixtures fails: an untested policy is how
    a misspelt rule silently allows everything.

    Every dotted ``input.a.b…`` path a module reads must also be in at least one fixture's
    input (:func:`input_paths` says what the scan ignores): a rule on a misspelt field is
    undefined in Rego, so it never fires and its fixtures pass regardless.

    Raises:
        PolicyError: if the bundle does not compile.
    """
    engine(bundle)
    out: list[TestResult] = []
    inputs: list[dict[str, Any]] = []
    for file, doc in sorted(bundle.tests.items()):
        cases = doc.get("case", []) if isinstance(doc, dict) else []
        for i, case in enumerate(cases):
            name = f"{file}:{case.get('name', i + 1)}"
            if isinstance(case, dict) and isinstance(case.get("input", {}), dict):
                inputs.append(dict(case.get("input", {})) | {"gate": case.get("gate")})
            try:
                decision = decide(bundle, str(case["gate"]), dict(case.get("input", {})))
                want = bool(case["allow"])
            except (KeyError, TypeError, ValueError, UsageError) as err:
                out.append(TestResult(name, False, f"malformed case: {err}"))
                continue
            if decision.allow != want:
                got = "allowed" if decision.allow else "denied: " + "; ".join(decision.reasons)
                out.append(
                    TestResult(name, False, f"expected {'allow' if want else 'deny'}, {got}")
                )
                continue
            text = case.get("reason")
            if text and not any(str(text) in r for r in decision.reasons):
                out.append(
                    TestResult(name, False, f"no deny reason mentions {text!r}: {decision.reasons}")
                )
                continue
            out.append(TestResult(name, True))
    if not out:
        out.append(TestResult("(none)", False, "the bundle has no fixtures in tests/*.toml"))
        return out
    return out + _unread_inputs(bundle, inputs)
