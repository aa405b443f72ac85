"""``audit verify``'s checks of what operations events *claim* about other events.

A signature proves who recorded an event and a role rule that they could record that kind;
neither proves the event tells the truth about the rest of the ledger. Several operations
events are claims of exactly that sort, so an insider with a role and their own key could
fabricate them. Each is replayed here against the signed events alone (never the catalog):

- ``decision.batch`` rows (finding 10): each row's ``arm``, ``returned`` (a shadow is never
  returned), ``model`` and ``model_digest`` are those of the deployment it names; its
  ``status`` is ok, refused or error, and an ``ok`` row has a score and a label; its
  ``caller`` is the batch's own actor (``ledgerml score``) or an actor holding a token
  issued before the batch and not revoked before the decision (the service answers token
  holders only; a token for another environment still names its actor in the 403 it
  logs). A relabelled shadow batch, or decisions attributed to someone who never could have
  called, fail.
- ``monitor.run`` (finding 3b): the evidence blob hashes to its digest (read verified) and
  agrees with the event (environment, window, deployment, model, verdict, counts, checks,
  SLO); the verdict is the worst of its checks; the deployment was live in that environment;
  the evidence lists exactly the decision batches the ledger has for that environment and
  window, and exactly the outcome batches before it; and the number of decisions is
  recounted from those batches' rows. The other figures (drift, accuracy, fairness) are not
  recomputed here: that needs the training reference through the catalog, so a run whose
  figures were invented but self-consistent still passes (stated, not hidden).
- ``token.issue`` (finding 11): the issuer was a person, and a token for an operator, an
  admin or a service was issued by an admin (``serving_events.token_issue_problem``, the rule
  ``tokens.issue`` enforces).
- ``pipeline.run`` (finding 3): every event a step lists exists before the run, is by the
  step's actor, of the step's kind, in order; a passed step recorded what it must and did
  pass (a failed validation or evaluation, or a ``policy.deny``, is not "passed"); the run's
  status and failed step agree with its steps (``storage.bundle_verifier.pipeline_problems``,
  which the stand-alone verifier runs on a bundle too).

Attacks, each with a test in ``tests/operations/test_operations_claims.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.identity.authority import Authority
from core.kernel.workspace import Workspace

Fail = Callable[[str, int], None]
STATUSES = ("ok", "refused", "error")
"""A decision row's status (``scoring`` writes nothing else)."""


def check(
    ws: Workspace,
    events: Sequence[tuple[int, dict[str, Any]]],
    fail: Fail,
    auth: Authority | None,
    replay: Any,
) -> None:
    """Run the claim checks over ``events`` with the deployment ``replay`` of ``operations_checks``.

    ``replay.deployments`` maps each deployment id to its signed history (seq, env, arm, model,
    digest, ended), so a row or a run is compared with what the deployment event said.
    """
    from storage.bundle_verifier import pipeline_problems

    by_seq = dict(events)
    tokens: dict[str, list[tuple[int, str | None]]] = {}  # actor -> (issued at, revoked ts)
    token_of: dict[str, tuple[str, int]] = {}  # token id -> (actor, index in tokens[actor])
    batches: list[tuple[int, dict[str, Any]]] = []
    outcomes: list[int] = []
    for seq, body in events:
        action, data = str(body.get("action")), body.get("data")
        if not isinstance(data, dict):
            continue
        problems: list[str] = []
        if action == "token.issue":
            problems += _token_issue(auth, seq, body, data)
            who = str(data.get("actor"))
            tokens.setdefault(who, []).append((seq, None))
            token_of[str(data.get("token_id"))] = (who, len(tokens[who]) - 1)
        elif action == "token.revoke" and str(data.get("token_id")) in token_of:
            who, i = token_of[str(data.get("token_id"))]
            issued, revoked = tokens[who][i]
            if revoked is None:
                tokens[who][i] = (issued, str(body.get("ts")))
        elif action == "decision.batch":
            batches.append((seq, data))
            problems += _rows(ws, replay, tokens, seq, body, data)
        elif action == "outcome.add":
            outcomes.append(seq)
        elif action == "monitor.run":
            problems += _monitor_run(ws, replay, batches, outcomes, seq, data)
        elif action == "pipeline.run":
            problems += pipeline_problems(by_seq, seq, data)[0]
        for why in problems:
            fail(f"event #{seq} ({action}) {why}", seq)


def _token_issue(
    auth: Authority | None, seq: int, body: dict[str, Any], data: dict[str, Any]
) -> list[str]:
    from core.operations.serving_events import token_issue_problem

    if auth is None:
        return []
    issuer = auth.actor_at(str(body.get("actor")), seq)
    who = auth.actor_at(str(data.get("actor")), seq)
    if who is None:
        return [f"issues a token for {data.get('actor')}, who was no registered actor then"]
    if issuer is None:
        return []  # the signature checks report an unknown actor
    why = token_issue_problem(issuer.kind, issuer.roles, who.kind, who.roles)
    return [f"issues a token for {data.get('actor')} as {body.get('actor')}: {why}"] if why else []


def _rows(
    ws: Workspace,
    replay: Any,
    tokens: dict[str, list[tuple[int, str | None]]],
    seq: int,
    body: dict[str, Any],
    data: dict[str, Any],
) -> list[str]:
    """The first problem of each kind among a batch's rows (one line per kind, not per row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.kernel.errors import LedgerError

    try:
        raw = ws.objects.read_verified(str(data.get("object_digest")))
        cols = pq.read_table(
            pa.BufferReader(raw),
            columns=[
                "request_id",
                "ts",
                "caller",
                "deployment_id",
                "arm",
                "returned",
                "model",
                "status",
                "score",
                "label",
            ],
        ).to_pydict()
    except (LedgerError, OSError, LookupError, ValueError):
        return []  # operations_checks reports an unreadable object
    _env, actor = str(data.get("env")), str(body.get("actor"))
    found: dict[str, str] = {}
    for i, rid in enumerate(cols["request_id"]):
        dep = replay.deployments.get(str(cols["deployment_id"][i]))
        if dep is None:
            continue  # operations_checks reports a row naming no listed deployment
        row = f"row {i} ({rid})"
        if cols["arm"][i] != dep.arm:
            found.setdefault(
                "arm", f"{row} says arm {cols['arm'][i]!r}; {dep.deployment_id} is {dep.arm!r}"
            )
        if cols["returned"][i] is not (dep.arm != "shadow"):
            found.setdefault(
                "returned",
                f"{row} says returned={cols['returned'][i]} for a {dep.arm} deployment (a shadow "
                "is never returned, every other arm's answer is)",
            )
        if cols["model"][i] != dep.model:
            found.setdefault(
                "model",
                f"{row} names model {cols['model'][i]!r}; {dep.deployment_id} runs {dep.model}",
            )
        status = cols["status"][i]
        if status not in STATUSES:
            found.setdefault(
                "status", f"{row} has status {status!r}, not one of {', '.join(STATUSES)}"
            )
        elif status == "ok" and (cols["score"][i] is None or cols["label"][i] is None):
            found.setdefault("ok", f"{row} is ok without a score and a label")
        caller = str(cols["caller"][i])
        if caller != actor and not _held(tokens.get(caller, []), seq, str(cols["ts"][i])):
            found.setdefault(
                "caller",
                f"{row} is attributed to caller {caller!r}, who is not its recorder ({actor}) and "
                "held no token then: nobody could have called as them",
            )
    return list(found.values())


def _held(issues: list[tuple[int, str | None]], seq: int, ts: str) -> bool:
    """Whether one of these tokens was issued before event ``seq`` and not revoked before ``ts``."""
    return any(at < seq and (revoked is None or ts <= revoked) for at, revoked in issues)


def _monitor_run(
    ws: Workspace,
    replay: Any,
    batches: list[tuple[int, dict[str, Any]]],
    outcomes: list[int],
    seq: int,
    data: dict[str, Any],
) -> list[str]:
    """A monitoring run against its evidence and the ledger (see the module docstring)."""
    import json

    from core.kernel.errors import LedgerError
    from core.kernel.verdict import worst

    checks = data.get("checks") if isinstance(data.get("checks"), dict) else {}
    assert isinstance(checks, dict)
    try:
        overall = worst(str(v) for v in checks.values())
    except ValueError as err:
        return [f"carries a check verdict that is no verdict: {err}"]
    problems = []
    if data.get("verdict") != overall:
        problems.append(
            f"says {data.get('verdict')} overall, but the worst of its checks is {overall}"
        )
    try:
        ev = json.loads(ws.objects.read_verified(str(data.get("evidence_digest"))))
    except (LedgerError, OSError, ValueError) as err:
        return [*problems, f"has evidence that cannot be read as recorded: {err}"]
    if not isinstance(ev, dict):
        return [*problems, "has evidence that is not a JSON object"]
    env = str(data.get("env"))
    window, dep = ev.get("window") or {}, ev.get("deployment") or {}
    slo = ev.get("slo") or {}
    ev_checks = {str(c.get("name")): c.get("verdict") for c in ev.get("checks") or []}
    for o in slo.get("objectives", []) if isinstance(slo, dict) else []:
        ev_checks[f"slo:{o.get('name')}"] = o.get("verdict")
    claimed = {
        "environment": (env, ev.get("env")),
        "window start": (data.get("window_start") or None, window.get("start") or None),
        "window end": (data.get("window_end"), window.get("end")),
        "deployment": (data.get("deployment_id"), dep.get("deployment_id")),
        "model": (data.get("model"), dep.get("model")),
        "verdict": (data.get("verdict"), ev.get("verdict")),
        "decision count": (data.get("decisions"), (ev.get("counts") or {}).get("decisions")),
        "checks": (checks, ev_checks),
        "SLO": (data.get("slo_digest"), slo.get("digest") if isinstance(slo, dict) else None),
    }
    differ = [k for k, (a, b) in claimed.items() if a != b]
    if differ:
        problems.append(f"says another {', '.join(differ)} than its evidence blob")
    try:
        ev_worst = worst([str(v) for v in ev_checks.values()])
    except ValueError:
        ev_worst = None
    if ev.get("verdict") != ev_worst:
        problems.append(
            f"has evidence whose verdict {ev.get('verdict')} is not the worst of its checks"
        )
    d = replay.deployments.get(str(data.get("deployment_id")))
    if (
        d is None
        or d.env != env
        or d.arm != "live"
        or not d.serving(seq)
        or d.model != data.get("model")
    ):
        problems.append(f"monitors {data.get('deployment_id')}, which was not live in {env} then")
    start, end = window.get("start"), str(window.get("end"))
    wanted = [
        (b_seq, str(b.get("object_digest")))
        for b_seq, b in batches
        if b.get("env") == env
        and str(b.get("first_ts")) <= end
        and (not start or str(b.get("last_ts")) >= str(start))
    ]
    listed = [(x.get("seq"), x.get("object")) for x in ev.get("batches") or []]
    if [tuple(x) for x in listed] != wanted:
        problems.append(
            f"judges decision batches {[s for s, _ in listed]}, but the ledger's batches of {env} "
            f"in that window are {[s for s, _ in wanted]}"
        )
    elif (n := _count(ws, [o for _, o in wanted], env, start, end)) is not None and n != (
        ev.get("counts") or {}
    ).get("decisions"):
        problems.append(
            f"counts {(ev.get('counts') or {}).get('decisions')} decisions; its batches hold {n} "
            "in that window"
        )
    if [x.get("seq") for x in ev.get("outcome_batches") or []] != outcomes:
        problems.append("judges other outcome batches than the ledger had before it")
    return problems


def _count(ws: Workspace, objects: list[str], env: str, start: Any, end: str) -> int | None:
    """The decisions of ``env`` in the window in these batch objects (None: unreadable)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from core.kernel.errors import LedgerError

    n = 0
    try:
        for digest in objects:
            t = pq.read_table(
                pa.BufferReader(ws.objects.read_verified(digest)), columns=["ts", "env"]
            ).to_pydict()
            n += sum(
                1
                for ts, e in zip(t["ts"], t["env"], strict=True)
                if e == env and ts <= end and (not start or ts >= start)
            )
    except (LedgerError, OSError, LookupError, ValueError):
        return None
    return n
