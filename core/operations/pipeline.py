"""CI/CD pipelines: the governed steps chained, each recorded, the run itself an event.

A pipeline file (``docs/formats/pipeline.md``) lists steps: snapshot, validate, feature,
train, register, sign, evaluate, promote, approval-request, deploy. Each step calls the
same core function as its CLI command, as the actor the file names (whose secret this
process must hold, as on the CLI), so every gate holds exactly as it does by hand. The run
stops at the first step that says no; the later steps are skipped. The run is then one
``pipeline.run`` event naming every step's result and the events it recorded, with the
pipeline file and a JUnit XML report stored as blobs: an on-prem CI server shows the gates
as tests, and the ledger keeps the CI/CD history auditors ask for.

A step's refusal is a failed gate (exit code 1: a validation or evaluation that FAILs, a
policy denial, a check that said no); bad input met during a step (a missing file, an
unknown reference) ends the run with exit code 2, still recorded. A pipeline file that does
not parse records nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.evidence.vocabulary import plural
from core.kernel.errors import LedgerError, UsageError
from core.kernel.formats import parse_strict, strict_config
from core.kernel.kinds import new_event
from core.kernel.workspace import Workspace
from core.operations.pipeline_events import (
    JUNIT_MEDIA_TYPE,
    PIPELINE_MEDIA_TYPE,
    PIPELINE_ROLES,
    PipelineRan,
)

STEP_KINDS = (
    "snapshot",
    "validate",
    "feature",
    "train",
    "register",
    "sign",
    "evaluate",
    "promote",
    "approval-request",
    "deploy",
)
"""What a step may do, each the core function of the CLI command of the same name."""
PRODUCES = {"snapshot": "snapshot", "feature": "view", "train": "run", "register": "model"}
"""The placeholder each step kind fills for the steps after it (``{model}`` …)."""
_PLACEHOLDER = re.compile(r"\{([a-z]+)\}")
EXIT_FOR_KIND = {"check": 1, "usage": 2, "integrity": 3, "busy": 2}


def _models() -> Any:
    """The pydantic models of the format (built lazily: pydantic is heavy to import)."""
    from typing import Annotated, Literal

    from pydantic import BaseModel, Field

    name_field = Field(min_length=1, max_length=80)

    class StepBase(BaseModel):
        model_config = strict_config()
        name: str = name_field
        as_: str = Field(alias="as", min_length=1)
        reason: str | None = None

    class Snapshot(StepBase):
        do: Literal["snapshot"]
        file: str
        dataset: str
        sensitive: list[str] = Field(default_factory=list)
        retention: str = ""

    class Validate(StepBase):
        do: Literal["validate"]
        target: str
        suite: str

    class Feature(StepBase):
        do: Literal["feature"]
        view: str

    class Train(StepBase):
        do: Literal["train"]
        spec: str

    class Register(StepBase):
        do: Literal["register"]
        run: str = "{run}"
        model_name: str = Field(alias="model-name")

    class Sign(StepBase):
        do: Literal["sign"]
        model: str = "{model}"

    class Evaluate(StepBase):
        do: Literal["evaluate"]
        model: str = "{model}"
        suite: str

    class Promote(StepBase):
        do: Literal["promote"]
        model: str = "{model}"
        to: str

    class ApprovalRequest(StepBase):
        do: Literal["approval-request"]
        model: str = "{model}"
        stage: str = "approved"
        out: str

    class Deploy(StepBase):
        do: Literal["deploy"]
        model: str = "{model}"
        env: str
        strategy: str = "direct"
        share: float | None = None
        retention: str = "hmac-only"

    step_type = Annotated[
        Snapshot
        | Validate
        | Feature
        | Train
        | Register
        | Sign
        | Evaluate
        | Promote
        | ApprovalRequest
        | Deploy,
        Field(discriminator="do"),
    ]

    class Header(BaseModel):
        model_config = strict_config()
        name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
        reason: str = Field(min_length=1)

    class PipelineFile(BaseModel):
        model_config = strict_config()
        pipeline: Header
        step: list[step_type] = Field(min_length=1, max_length=100)

    return PipelineFile


@dataclass(frozen=True)
class Spec:
    """A parsed pipeline file."""

    name: str
    reason: str
    steps: list[Any]
    folder: Path
    raw: bytes
    out_dir: Path = Path()
    """Where outputs (an approval request's ``out``) go: the run's ``out_dir``."""

    @property
    def digest(self) -> str:
        """The file's sha256, as the ``pipeline.run`` event names it."""
        return "sha256:" + hashlib.sha256(self.raw).hexdigest()


def load(path: Path) -> Spec:
    """Read and check a pipeline file, before anything runs.

    Besides the format (unknown keys, wrong types, an unknown step kind), a step may only
    use a placeholder an earlier step fills, and step names are unique (they name the JUnit
    test cases and the failed step).

    Raises:
        UsageError: for a missing or malformed file.
    """
    where = str(path)
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no pipeline file {where}") from None
    except IsADirectoryError:
        raise UsageError(f"{where} is a folder, not a pipeline file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{where} is not valid TOML: {err}") from None
    if isinstance(doc.get("step"), list):
        for i, step in enumerate(doc["step"]):
            if isinstance(step, dict) and step.get("do") not in STEP_KINDS:
                raise UsageError(
                    f"{where}: [[step]] {i + 1} has do = {step.get('do')!r}",
                    hint=f"Steps: {', '.join(STEP_KINDS)}.",
                )
    parsed = parse_strict(_models(), doc, where=where)
    seen_names: set[str] = set()
    filled: set[str] = set()
    for i, step in enumerate(parsed.step, 1):
        if step.name in seen_names:
            raise UsageError(f"{where}: two steps are named {step.name!r}", hint="Rename one.")
        seen_names.add(step.name)
        for key, value in step.model_dump(by_alias=True).items():
            if not isinstance(value, str):
                continue
            for ph in _PLACEHOLDER.findall(value):
                if ph not in PRODUCES.values():
                    raise UsageError(
                        f"{where}: step {i} ({step.name}) {key} uses {{{ph}}}, which no step fills",
                        hint="Placeholders: {snapshot}, {view}, {run}, {model}.",
                    )
                if ph not in filled:
                    raise UsageError(
                        f"{where}: step {i} ({step.name}) {key} uses {{{ph}}} before a step "
                        "fills it",
                        hint="Put the step that produces it first, or name the reference.",
                    )
        if step.do in PRODUCES:
            filled.add(PRODUCES[step.do])
    return Spec(parsed.pipeline.name, parsed.pipeline.reason, list(parsed.step), path.parent, raw)


@dataclass
class StepResult:
    """One step's outcome, as the ``pipeline.run`` event and the JUnit report record it."""

    name: str
    do: str
    actor: str
    status: str = "skipped"
    events: list[int] = field(default_factory=list)
    detail: str = ""
    exit_code: int = 0
    seconds: float = 0.0

    def to_data(self) -> dict[str, Any]:
        """Plain data for the event (no timings: they are the JUnit report's)."""
        return {
            "name": self.name,
            "do": self.do,
            "as": self.actor,
            "status": self.status,
            "events": self.events,
            "detail": self.detail,
            "exit_code": self.exit_code,
        }


@dataclass(frozen=True)
class Outcome:
    """A finished run: its steps, its event, its JUnit report and the exit code it earns."""

    name: str
    steps: list[StepResult]
    seq: int
    junit: bytes
    exit_code: int

    @property
    def status(self) -> str:
        """``passed`` or ``failed``."""
        return "passed" if self.exit_code == 0 else "failed"

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "name": self.name,
            "seq": self.seq,
            "status": self.status,
            "exit_code": self.exit_code,
            "steps": [s.to_data() for s in self.steps],
        }


class GateRefusedError(Exception):
    """A step ran and its gate refused (a validation or evaluation that FAILs)."""


def _fill(value: str, produced: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: produced[m.group(1)], value)


def _path(spec: Spec, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else spec.folder / p


def _run_step(ws: Workspace, spec: Spec, step: Any, produced: dict[str, str], reason: str) -> str:
    """Run one step through its core function; what it produced, in words.

    Raises:
        GateRefusedError: a validation that did not pass or an evaluation that FAILs (both are
            recorded as evidence first, as on the CLI).
        LedgerError: whatever the core function refuses with.
    """
    actor = step.as_
    do = step.do
    if do == "snapshot":
        from core.data import snapshots

        row, created = snapshots.add(
            ws,
            actor,
            _path(spec, step.file),
            dataset=step.dataset,
            sensitive=list(step.sensitive) or None,
            retention=step.retention,
            reason=reason,
        )
        produced["snapshot"] = row.ref
        return f"{row.ref}" + ("" if created else " (same bytes as before: no new version)")
    if do == "feature":
        from core.data import features

        row, created = features.build(ws, actor, _path(spec, step.view), reason=reason)
        produced["view"] = row.ref
        return f"{row.ref}" + ("" if created else " (unchanged)")
    if do == "validate":
        from core.data import validation

        target = _fill(step.target, produced)
        vrow, _ = validation.run(ws, actor, target, _path(spec, step.suite), reason=reason)
        summary = (
            f"{target}: suite {vrow.suite_name}, {plural(vrow.errors, 'error')}, "
            f"{plural(vrow.warnings, 'warning')}"
        )
        if not vrow.passed:
            raise GateRefusedError(f"validation gate FAILED on {summary}")
        return f"validation passed on {summary}"
    if do == "train":
        from core.modelling import training

        run = training.train(ws, actor, _path(spec, step.spec), reason=reason)
        produced["run"] = f"run:{run.run_id}"
        return f"run:{run.run_id}"
    if do == "register":
        from core.modelling import models

        mrow, _ = models.register(
            ws, actor, _fill(step.run, produced), step.model_name, reason=reason
        )
        produced["model"] = mrow.ref
        return mrow.ref
    if do == "sign":
        from core.modelling import models

        ref = _fill(step.model, produced)
        sig = models.sign(ws, actor, ref, reason=reason)
        return f"{ref} signed with key {sig.key_id[:16]}"
    if do == "evaluate":
        from core.evidence import evaluation

        ref = _fill(step.model, produced)
        _, evidence = evaluation.evaluate(ws, actor, ref, _path(spec, step.suite), reason=reason)
        verdict = str(evidence.verdict)
        if verdict == "FAIL":
            raise GateRefusedError(
                f"evaluation gate: {ref} FAILs ({plural(evidence.errors, 'failing check')})"
            )
        return f"{ref} evaluated: {verdict}"
    if do == "promote":
        from core.governance import lifecycle

        ref = _fill(step.model, produced)
        lifecycle.promote(ws, actor, ref, to=step.to, reason=reason)
        return f"{ref} promoted to {step.to}"
    if do == "approval-request":
        from core.governance import offline

        ref = _fill(step.model, produced)
        dest = Path(step.out)
        dest = dest if dest.is_absolute() else spec.out_dir / dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        out = offline.request(ws, actor, ref, stage=step.stage, out=dest)
        return f"approval request for {ref} ({step.stage}) written to {out.name}"
    if do == "deploy":
        from core.operations import deployments

        ref = _fill(step.model, produced)
        dep = deployments.deploy(
            ws,
            actor,
            ref,
            env=step.env,
            reason=reason,
            strategy=step.strategy,
            share=step.share,
            retention=step.retention,
        )
        return f"{ref} deployed to {dep.row.env} ({dep.row.arm}) as {dep.deployment_id}"
    raise AssertionError(f"unknown step kind {do}")  # load() refused it


def run(
    ws: Workspace,
    actor: str,
    path: Path,
    *,
    on_step: Callable[[StepResult], None] | None = None,
    out_dir: Path | None = None,
) -> Outcome:
    """Run the pipeline in ``path`` (see the module docstring); ``actor`` records the run.

    Inputs are read relative to the pipeline file; outputs are written relative to
    ``out_dir`` (default: the current folder), so a checkout's sample pipeline never writes
    into the checkout's sample data.

    Raises:
        UsageError: for a malformed pipeline file (nothing runs, nothing is recorded).
        PermissionDeniedError, IdentityError: if ``actor`` may not record the run (checked
            before the first step, so a run nobody can record never starts).
    """
    import time

    from core.identity.actors import needs
    from core.kernel import command

    spec = load(path)
    if out_dir is not None:
        spec = dataclasses.replace(spec, out_dir=out_dir)
    # Prove the recorder first: a run that cannot be recorded would leave its steps orphaned.
    with ws.session(actor) as s:
        needs(*PIPELINE_ROLES, action="record pipeline runs")(s)
    results = [StepResult(st.name, st.do, st.as_) for st in spec.steps]
    produced: dict[str, str] = {}
    exit_code = 0
    failed: str | None = None
    for step, res in zip(spec.steps, results, strict=True):
        if failed is not None:
            break
        before = int(ws.ledger.head()[0])
        started = time.perf_counter()
        reason = step.reason or f"pipeline {spec.name}: {spec.reason}"
        try:
            res.detail = _run_step(ws, spec, step, produced, reason)
            res.status = "passed"
        except GateRefusedError as err:
            res.status, res.detail, res.exit_code = "failed", str(err), 1
        except LedgerError as err:
            res.status, res.exit_code = "failed", EXIT_FOR_KIND.get(err.kind, 2)
            res.detail = str(err.msg)
        res.seconds = time.perf_counter() - started
        # The step's own events: another writer may have appended meanwhile (the ledger is
        # shared), and its events are not this step's result.
        res.events = [
            e.seq for e in ws.ledger.iter_entries(before + 1) if e.decode().get("actor") == step.as_
        ]
        if res.status == "failed":
            failed, exit_code = res.name, res.exit_code
        if on_step is not None:
            on_step(res)
    junit = junit_xml(spec.name, results)

    def commit(s: Any, _: None) -> int:
        spec_ref = s.put_blob(spec.raw, PIPELINE_MEDIA_TYPE)
        report_ref = s.put_blob(junit, JUNIT_MEDIA_TYPE)
        payload = PipelineRan(
            name=spec.name,
            spec_digest=spec_ref.sha256,
            status="failed" if failed else "passed",
            steps=[r.to_data() for r in results],
            report_digest=report_ref.sha256,
            failed_step=failed,
        )
        subjects = [f"pipeline:{spec.name}"] + (
            [f"model:{produced['model']}"] if "model" in produced else []
        )
        entry = s.commit(new_event(s.actor, payload, subjects, spec.reason, [spec_ref, report_ref]))
        return int(entry.seq)

    seq = command.run(
        ws, actor, guards=[needs(*PIPELINE_ROLES, action="record pipeline runs")], commit=commit
    )
    return Outcome(spec.name, results, seq, junit, exit_code)


def junit_xml(name: str, results: list[StepResult]) -> bytes:
    """A JUnit XML report: one test case per step; a refusal a failure, the rest skipped.

    The format Jenkins and GitLab read (``testsuites > testsuite > testcase``, with
    ``failure`` and ``skipped`` children), written with the standard library.
    """
    import xml.etree.ElementTree as ET

    failures = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    total = sum(r.seconds for r in results)
    root = ET.Element(
        "testsuites",
        name=f"ledgerml pipeline {name}",
        tests=str(len(results)),
        failures=str(failures),
        skipped=str(skipped),
        time=f"{total:.3f}",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{total:.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite, "testcase", name=r.name, classname=f"{name}.{r.do}", time=f"{r.seconds:.3f}"
        )
        if r.status == "failed":
            failure = ET.SubElement(
                case, "failure", message=r.detail, type="gate" if r.exit_code == 1 else "input"
            )
            failure.text = (
                f"{r.do} as {r.actor} said no: {r.detail}\n"
                f"events recorded: {', '.join(f'#{e}' for e in r.events) or 'none'}"
            )
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", message="an earlier step failed")
        out = ET.SubElement(case, "system-out")
        out.text = (
            f"as {r.actor}: {r.detail}; events: {', '.join(f'#{e}' for e in r.events) or 'none'}"
        )
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
