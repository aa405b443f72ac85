"""``audit verify``'s operations checks: deployments, decision batches, overrides, incidents.

The signature checks before these prove each event was signed by its actor's key and that a
role allowed the action; the policy checks re-evaluate every recorded decision. Neither sees
what a deployment *means*. This replays the operations events from the signed ledger alone
(never the catalog) and checks:

- ``model.deploy``: a version's digest is the registered one; ``production`` only takes a
  version the signed promotions had ``approved`` at that position (a lax or forged policy
  decision cannot ship an unapproved model); every non-baseline deployment carries an allow
  decision of the ``deploy`` gate (the policy checks then re-evaluate it); a baseline names
  its rule's blob among its objects, carries a deploy decision asked about a baseline, names
  an open incident of its environment and keeps the enforceable conditions of the live
  deployment it replaces; what it ends was in service in that environment; a canary or
  shadow runs beside a live deployment.
- every deployment-changing event by a service identity is the ``caused_seq`` of an
  automatic ``incident.act``, and an automatic action's step is ``auto = true`` in its
  incident's playbook for the objective whose breach opened it (a service's key cannot change
  what serves on command).
- ``model.rollback``: it ends the live deployment it says it rolls back, restores an earlier
  live deployment of the same environment whose model and digest it carries, and that
  version was still approved then.
- ``deploy.withdraw`` / ``deploy.throttle``: what they name was in service.
- ``decision.batch``: each deployment it names was in service in its environment at that
  position; the object's bytes hash to the digest listed (the scan checks that) and its
  Merkle root recomputes from the rows' ``decision-leaf/1`` leaves; a row names a deployment
  the event lists, with that deployment's model digest.
- ``decision.override``: it names a logged decision.
- ``incident.act`` / ``incident.close``: the incident was opened before and is not closed.

Attacks, each with a test: a production deployment of an unapproved version forged and
signed with a real operator's key; a decision row edited in its Parquet object; a batch
object deleted; a batch recorded for a withdrawn deployment; an override of a decision never
logged; an action on a closed incident; a baseline put live by one operator outside an
incident, without a decision, dropping the approvers' conditions; a service deploying on
command; an action marked automatic for a step the playbook runs by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.audit import operations_claims
from core.identity.authority import Authority
from core.kernel.workspace import Workspace

Fail = Callable[[str, int], None]
PRODUCTION = "production"
BASELINE = "baseline"
_DEPLOY_KINDS = ("model.deploy", "model.rollback", "deploy.withdraw", "deploy.throttle")


@dataclass
class _Dep:
    """A deployment as the signed events have it."""

    seq: int
    deployment_id: str
    env: str
    arm: str
    model: str
    model_digest: str
    retention: str
    strategy: str
    ended: int | None = None
    wheres: tuple[str, ...] = ()
    """The enforceable (``where``) parts of the conditions it carries."""

    def serving(self, at: int) -> bool:
        """In service just before event ``at``."""
        return self.seq < at and (self.ended is None or self.ended >= at)


class Replay:
    """The deployment history and the version stages, folded from the signed events.

    Shared with the bundle verifier's offline counterpart in spirit: both answer "what was
    live where at event N" from events alone.
    """

    def __init__(self) -> None:
        self.registered: dict[str, tuple[int, str]] = {}  # ref -> (seq, digest)
        self.stages: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.deployments: dict[str, _Dep] = {}

    def stage_at(self, ref: str, seq: int) -> str:
        """The version's stage just before event ``seq`` (``candidate`` before any move)."""
        found = [stage for at, stage in self.stages.get(ref, []) if at < seq]
        return found[-1] if found else "candidate"

    def serving(self, env: str, at: int) -> list[_Dep]:
        """The deployments in service in ``env`` just before event ``at``."""
        return [d for d in self.deployments.values() if d.env == env and d.serving(at)]


def check(
    ws: Workspace,
    events: Sequence[tuple[int, dict[str, Any]]],
    fail: Fail,
    auth: Authority | None = None,
) -> Replay:
    """Run the checks over the state events ``events``; report each problem with ``fail``.

    Returns:
        The replayed deployment history (the bundle and the reports reuse it).
    """
    from core.privacy.events import stored_copies

    replay = Replay()
    batches = _Batches(ws, auth)
    batches.copies = stored_copies(events)
    for seq, body in events:
        action, data = str(body.get("action")), body.get("data")
        if not isinstance(data, dict):
            continue
        if action == "model.register":
            ref = f"{data.get('name')}@{data.get('version')}"
            replay.registered[ref] = (seq, str(data.get("model_digest")))
        elif action == "model.promote":
            replay.stages[str(data.get("model"))].append((seq, str(data.get("to_stage"))))
        elif action in _DEPLOY_KINDS:
            found = batches.authority(seq, action, body, data)
            for why in found + _deployment(replay, seq, action, body, data):
                fail(f"event #{seq} ({action}) {why}", seq)
            batches.check(replay, seq, action, body, data)
        else:
            problem = batches.check(replay, seq, action, body, data)
            if problem:
                fail(f"event #{seq} ({action}) {problem}", seq)
    for seq, why in batches.finish():
        fail(why, seq)
    operations_claims.check(ws, events, fail, auth, replay)  # claims about other events
    return replay


def _decision_problem(
    body: dict[str, Any], env: str, model: str, member_name: str = "model"
) -> str | None:
    """Why the event's deploy decision is missing or about another deployment, or None.

    The policy checks prove the decision re-evaluates to what it says about its input; this
    proves the input is this deployment's (a decision for staging copied onto a production
    event re-evaluates fine, about the wrong request).
    """
    member = body.get("policy")
    if not isinstance(member, dict):
        return (
            "carries no decision of the deploy gate: it bypassed the policy or was forged "
            "(every deployment of a model passes the deploy gate)"
        )
    if member.get("gate") != "deploy":
        return f"carries a decision of the {member.get('gate')} gate, not deploy"
    if member.get("allow") is not True:
        return "was recorded although its deploy decision denies it"
    doc = _dict(member.get("input"))
    request, facts = _dict(doc.get("request")), _dict(doc.get(member_name))
    if request.get("env") != env or request.get("production") != (env == PRODUCTION):
        return f"carries a deploy decision about environment {request.get('env')!r}, not {env}"
    if facts.get("ref") != model:
        return f"carries a deploy decision about {facts.get('ref')!r}, not {model}"
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _model_problem(replay: Replay, seq: int, env: str, model: str, digest: str) -> str | None:
    reg = replay.registered.get(model)
    if reg is None or reg[0] >= seq:
        return f"deploys {model}, which the ledger had not registered before it"
    if digest != reg[1]:
        return f"deploys {model} with digest {digest[:16]}…, not its registered one"
    stage = replay.stage_at(model, seq)
    if stage == "retired":
        return f"deploys {model}, which the signed ledger had retired"
    if env == PRODUCTION and stage != "approved":
        return (
            f"puts {model} into {PRODUCTION}, but the signed ledger had it {stage!r} there: "
            f"{PRODUCTION} takes approved versions only"
        )
    return None


def _ends_problem(replay: Replay, seq: int, env: str, ends: list[Any]) -> str | None:
    serving = {d.deployment_id for d in replay.serving(env, seq)}
    stray = [str(e) for e in ends if str(e) not in serving]
    if stray:
        return f"ends {', '.join(stray)}, which were not in service in {env} then"
    return None


def _deployment(
    replay: Replay, seq: int, action: str, body: dict[str, Any], data: dict[str, Any]
) -> list[str]:
    """Every problem of one deployment event; folds it into ``replay`` either way."""
    env = str(data.get("env"))
    ends = [str(e) for e in data.get("ends") or []] if isinstance(data.get("ends"), list) else []
    if action == "deploy.throttle":
        return [] if replay.serving(env, seq) else [f"throttles {env}, where nothing was deployed"]
    problems = [p for p in [_ends_problem(replay, seq, env, ends)] if p]
    if action == "deploy.withdraw":
        _end(replay, seq, ends)
        return problems
    dep_id = str(data.get("deployment_id"))
    if dep_id in replay.deployments:
        problems.append(f"reuses deployment id {dep_id}")
    model, digest = str(data.get("model")), str(data.get("model_digest"))
    strategy = "rollback" if action == "model.rollback" else str(data.get("strategy"))
    arm = "live" if action == "model.rollback" else str(data.get("arm"))
    wheres = tuple(
        str(c["where"])
        for c in data.get("conditions") or []
        if isinstance(c, dict) and c.get("where")
    )
    if strategy == BASELINE:
        listed = {str(o.get("sha256")) for o in body.get("objects", []) if isinstance(o, dict)}
        if not model.startswith("baseline:") or digest not in listed:
            problems.append("is a baseline that does not name its rule's blob among its objects")
        problems += [
            p
            for p in (
                _decision_problem(body, env, model, "baseline"),
                _kept_problem(replay, seq, env, wheres),
            )
            if p
        ]
        request = _dict(_dict(_dict(body.get("policy")).get("input")).get("request"))
        if isinstance(body.get("policy"), dict) and request.get("baseline") is not True:
            problems.append("carries a deploy decision that was not asked about a baseline")
    else:
        problems += [
            p
            for p in (
                _decision_problem(body, env, model),
                _model_problem(replay, seq, env, model, digest),
            )
            if p
        ]
    if action == "model.rollback":
        problems += [p for p in [_rollback_problem(replay, seq, env, data)] if p]
    elif arm != "live" and not any(
        d.arm == "live" for d in replay.serving(env, seq) if d.deployment_id not in ends
    ):
        problems.append(f"puts a {arm} into {env}, where nothing was live")
    _end(replay, seq, ends)
    replay.deployments[dep_id] = _Dep(
        seq, dep_id, env, arm, model, digest, str(data.get("retention")), strategy, None, wheres
    )
    return problems


def _kept_problem(replay: Replay, seq: int, env: str, wheres: tuple[str, ...]) -> str | None:
    """Why a baseline drops conditions of the live deployment it replaces, or None.

    The one it replaces is the live one in service or, with none (withdrawn), the most
    recent live deployment of ``env``: the same one ``deploy_baseline`` takes them from.
    """
    earlier = [d for d in replay.deployments.values() if d.env == env and d.arm == "live"]
    if not earlier:
        return None
    prev = max(earlier, key=lambda d: (d.serving(seq), d.seq))
    dropped = [w for w in prev.wheres if w not in wheres]
    if dropped:
        return (
            f"drops the approvers' enforceable condition{'s' if len(dropped) != 1 else ''} "
            f"{', '.join(dropped)} of "
            f"{prev.deployment_id} ({prev.model}), which it replaces"
        )
    return None


def _end(replay: Replay, seq: int, ends: list[str]) -> None:
    for e in ends:
        if e in replay.deployments and replay.deployments[e].ended is None:
            replay.deployments[e].ended = seq


def _rollback_problem(replay: Replay, seq: int, env: str, data: dict[str, Any]) -> str | None:
    of, restores = str(data.get("rollback_of")), str(data.get("restores"))
    live = [d for d in replay.serving(env, seq) if d.arm == "live"]
    if not live or live[0].deployment_id != of:
        now = live[0].deployment_id if live else "nothing"
        return f"says it rolls back {of}, but {now} was live in {env} then"
    target = replay.deployments.get(restores)
    if target is None or target.env != env or target.arm != "live" or target.seq >= seq:
        return f"restores {restores}, which was no earlier live deployment of {env}"
    if (target.model, target.model_digest) != (data.get("model"), data.get("model_digest")):
        return f"says it restores {restores} ({target.model}) but puts {data.get('model')} live"
    if replay.stage_at(target.model, seq) != "approved":
        return f"restores {target.model}, which the signed ledger no longer had approved"
    return None


_CAUSES = ("model.deploy", "model.rollback", "deploy.withdraw", "deploy.throttle")
"""The events an incident action may cause: each a change of what serves."""


class _Batches:
    """Checks of the decision log, the monitoring and the incident events.

    Incidents: an action or a close names an incident opened before and not closed; a close
    is by a person (a service may raise an alarm, not declare it handled); an action's
    ``caused_seq`` is a deployment event after the incident opened that names the incident;
    an automatic incident names an alert of its environment; an alert names a monitoring run
    of its environment. A pipeline run lists its spec and JUnit report among its objects.
    """

    def __init__(self, ws: Workspace, auth: Authority | None) -> None:
        self.ws, self.auth = ws, auth
        self.decisions: dict[str, tuple[int, int]] = {}  # request id -> (batch seq, index)
        self.logged: set[tuple[str, str]] = set()  # (request id, deployment id) seen
        self.last_batch: dict[str, int] = {}  # env -> its previous decision.batch
        self.ended_at: dict[int, str] = {}  # deployment-changing event seq -> its time
        self.incidents: dict[int, tuple[str, str]] = {}  # seq -> (env, open / closed)
        self.runs: dict[int, str] = {}  # monitor.run seq -> env
        self.alerts: dict[int, str] = {}  # monitor.alert seq -> env
        self.caused: dict[int, tuple[str, Any]] = {}  # seq -> (action, incident it names)
        self.opened: dict[int, dict[str, Any]] = {}  # incident.open seq -> its data
        self.metrics: dict[int, str] = {}  # monitor.alert seq -> its metric
        self.by_service: dict[int, str] = {}  # deployment change by a service -> why
        self.automatic: set[int] = set()  # caused_seq of a checked automatic incident.act
        self.copies: dict[str, str] = {}  # batch object -> its copy without erased inputs

    def authority(
        self, seq: int, action: str, body: dict[str, Any], data: dict[str, Any]
    ) -> list[str]:
        """Who may change what serves: a baseline's incident, a service's playbook step.

        A baseline must name an open incident of its environment. A change by a service is
        noted; :meth:`finish` flags it unless an automatic ``incident.act`` claims it.
        """
        problems = []
        env = str(data.get("env"))
        if action == "model.deploy" and data.get("strategy") == BASELINE:
            number = _int(data.get("incident"))
            if self.incidents.get(number) != (env, "open"):
                problems.append(
                    f"puts a baseline live in {env} outside an open incident of {env} "
                    f"(it names #{data.get('incident')}): a rule stands in for a model only "
                    "during one"
                )
        state = self.auth.actor_at(str(body.get("actor")), seq) if self.auth else None
        if state is not None and state.kind != "person":
            self.by_service[seq] = f"{body.get('actor')}, a {state.kind}"
        return problems

    def finish(self) -> list[tuple[int, str]]:
        """The deployment changes by a service that no automatic playbook step caused."""
        return [
            (
                seq,
                f"event #{seq} changes what serves as {who}: a service does that only as an "
                "automatic step of an open incident's playbook, and no automatic incident.act "
                "claims it",
            )
            for seq, who in sorted(self.by_service.items())
            if seq not in self.automatic
        ]

    def _automatic_problem(self, number: int, data: dict[str, Any]) -> str | None:
        """Why an action marked automatic was no ``auto`` step for its breach, or None."""
        import json

        from core.kernel.errors import LedgerError

        opened = self.opened.get(number, {})
        slo, digest = opened.get("slo"), opened.get("playbook")
        if not slo or not digest:
            return (
                f"is marked automatic, but incident #{number} was opened by no breach or "
                "follows no playbook: nothing runs by itself there"
            )
        try:
            book = json.loads(self.ws.objects.read_verified(str(digest)))
            step = _int(data.get("step"))
            st = book["steps"][step - 1] if step >= 1 else None
        except (LedgerError, OSError, ValueError, LookupError, TypeError) as err:
            return f"is marked automatic, but its playbook step cannot be read: {err}"
        metric = self.metrics.get(_int(opened.get("alert_seq")))
        if (
            not isinstance(st, dict)
            or st.get("auto") is not True
            or st.get("on")
            not in (
                slo,
                metric,
            )
        ):
            return (
                f"is marked automatic, but step {data.get('step')} of incident #{number}'s "
                f"playbook is no automatic step for the breach of {slo}"
            )
        return None

    def check(
        self, replay: Replay, seq: int, action: str, body: dict[str, Any], data: dict[str, Any]
    ) -> str | None:
        if action in _CAUSES:
            self.caused[seq] = (action, data.get("incident"))
            self.ended_at[seq] = str(body.get("ts", ""))
            return None
        listed = {str(o.get("sha256")) for o in body.get("objects", []) if isinstance(o, dict)}
        env = str(data.get("env"))
        if action == "decision.batch":
            return self._batch(replay, seq, data, listed)
        if action == "decision.override":
            return self._override(seq, body, data)
        if action == "monitor.run":
            self.runs[seq] = env
            if str(data.get("evidence_digest")) not in listed:
                return "does not list its evidence blob among its objects"
        elif action == "monitor.alert":
            self.alerts[seq] = env
            self.metrics[seq] = str(data.get("metric"))
            if self.runs.get(_int(data.get("monitor_seq"))) != env:
                return f"names monitoring run #{data.get('monitor_seq')}, no run of {env} before it"
        elif action == "incident.open":
            self.incidents[seq] = (env, "open")
            self.opened[seq] = data
            alert = data.get("alert_seq")
            if alert is not None and self.alerts.get(_int(alert)) != env:
                return f"was opened for alert #{alert}, which is no alert of {env} before it"
        elif action in ("incident.act", "incident.close"):
            return self._incident(seq, action, body, data)
        elif action == "pipeline.run":
            wanted = {str(data.get("spec_digest")), str(data.get("report_digest"))}
            if not wanted <= listed:
                return "does not list its pipeline file and JUnit report among its objects"
        return None

    def _batch(
        self, replay: Replay, seq: int, data: dict[str, Any], listed: set[str]
    ) -> str | None:
        """A decision batch: live deployments, its object, its root, its rows (see above)."""
        from core.kernel.errors import LedgerError
        from core.operations.decision_log import leaf_hashes, merkle_root

        env = str(data.get("env"))
        # A batch holds the decisions made since the environment's previous batch (a serving
        # window): a deployment that served at any point of that window may appear in it,
        # so a rollback or withdrawal between the answer and the flush is no forgery. One
        # window is the slack; the rows' own order is checked by their leaves.
        since = self.last_batch.get(env, 0)
        self.last_batch[env] = seq
        serving = {
            d.deployment_id: d
            for d in replay.deployments.values()
            if d.env == env and d.seq < seq and (d.ended is None or d.ended > since)
        }
        named = [str(x) for x in data.get("deployments") or []]
        stray = [d for d in named if d not in serving]
        if stray:
            why = []
            for d in stray:
                dep = replay.deployments.get(d)
                why.append(
                    f"{d} (ended at #{dep.ended})"
                    if dep is not None and dep.ended is not None and dep.env == env
                    else f"{d} (never deployed to {env})"
                )
            return (
                f"records decisions of {', '.join(why)}, which did not serve {env} then: a "
                "withdrawn or unknown deployment cannot decide"
            )
        digest = str(data.get("object_digest"))
        if digest not in listed:
            return "does not list its decision object among its objects"
        # Once retention erased its input values, the rows are read from the copy the
        # data.erase event names (the scan checks that copy's bytes); the root below must
        # still recompute from it.
        digest = self.copies.get(digest, digest)
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pq.read_table(pa.BufferReader(self.ws.objects.read_verified(digest)))
        except (LedgerError, OSError, LookupError, ValueError) as err:
            return f"has a decision object that cannot be read as recorded: {err}"
        if table.num_rows != data.get("count"):
            return f"says it holds {data.get('count')} decisions, its object {table.num_rows}"
        if merkle_root(leaf_hashes(table)).hex() != data.get("merkle_root"):
            return (
                "signs a Merkle root its rows do not recompute (decision-leaf/1): a decision "
                "was changed, added, removed or reordered"
            )
        cols = table.select(
            ["request_id", "deployment_id", "model_digest", "env", "returned", "ts"]
        ).to_pydict()
        for i, rid in enumerate(cols["request_id"]):
            dep = serving.get(str(cols["deployment_id"][i]))
            if dep is None or str(cols["deployment_id"][i]) not in named:
                return f"row {i} names deployment {cols['deployment_id'][i]}, not one it lists"
            if cols["model_digest"][i] != dep.model_digest or cols["env"][i] != env:
                return f"row {i} ({rid}) gives another model or environment than its deployment"
            if dep.ended is not None and dep.ended < seq:
                stop = self.ended_at.get(dep.ended, "")
                if not str(cols["ts"][i]) < stop:
                    return (
                        f"row {i} ({rid}) is dated {cols['ts'][i]}, after {dep.deployment_id} "
                        f"stopped serving at #{dep.ended} ({stop}): a withdrawn deployment "
                        "cannot decide"
                    )
            # one decision per request and deployment: a shadow's row shares its request id
            key = (str(rid), str(cols["deployment_id"][i]))
            if key in self.logged or (cols["returned"][i] and rid in self.decisions):
                first = self.decisions.get(str(rid), (seq, i))[0]
                return f"logs request {rid} again (first logged at #{first})"
            self.logged.add(key)
            if cols["returned"][i] or rid not in self.decisions:
                self.decisions[str(rid)] = (seq, i)  # what an override must point at
        return None

    def _override(self, seq: int, body: dict[str, Any], data: dict[str, Any]) -> str | None:
        rid = str(data.get("request_id"))
        found = self.decisions.get(rid)
        if found is None:
            return f"overrides request {rid}, which no decision batch before it logged"
        if found != (_int(data.get("batch_seq")), _int(data.get("index"))):
            at = f"#{data.get('batch_seq')}[{data.get('index')}]"
            return f"locates {rid} at {at}, not where it was logged"
        state = self.auth.actor_at(str(body.get("actor")), seq) if self.auth else None
        if state is not None and state.kind != "person":
            return f"is by {body.get('actor')}, a {state.kind}: only a person overrides a decision"
        return None

    def _incident(
        self, seq: int, action: str, body: dict[str, Any], data: dict[str, Any]
    ) -> str | None:
        number = _int(data.get("incident"))
        found = self.incidents.get(number)
        if found is None:
            return f"names incident #{data.get('incident')}, which was never opened before it"
        env, status = found
        if status != "open":
            return f"acts on incident #{number}, which was already closed"
        if action == "incident.close":
            self.incidents[number] = (env, "closed")
            state = self.auth.actor_at(str(body.get("actor")), seq) if self.auth else None
            if state is not None and state.kind != "person":
                return (
                    f"closes incident #{number} as {body.get('actor')}, a {state.kind}: only "
                    "a person declares an incident handled"
                )
            return None
        caused = data.get("caused_seq")
        if caused is not None:
            what = self.caused.get(_int(caused))
            if what is None or _int(caused) <= number:
                return (
                    f"says it caused event #{caused}, which is no deployment change after "
                    f"incident #{number} opened"
                )
            if _int(what[1]) != number:
                return (
                    f"says it caused event #{caused} ({what[0]}), which names no incident #{number}"
                )
        if data.get("automatic") is True:
            problem = self._automatic_problem(number, data)
            if problem:
                return problem
            if caused is not None:
                self.automatic.add(_int(caused))
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1
